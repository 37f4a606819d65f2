"""Columns that fit (layout.py) and the virtual table over them: which columns a width shows, cells fitted to their
column, and a table of many rows that renders only its screen, keeps the selection by key and re-lays out on resize."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import App, ComposeResult

from ipcwatch.kinds import KINDS
from ipcwatch.tui.widgets.keyed_table import GONE, NEW, KeyedTable
from ipcwatch.tui.widgets.layout import fit_cell, fit_columns
from ipcwatch.tui.widgets.rows import ALL, PROCESSES, ColumnHead, Row, build_rows, heads, object_columns
from ipcwatch.views import DETAIL, ESSENTIAL, EXTRA, IDENTITY
from tests.tui_fixtures import namespaced_snapshot, synthetic_snapshot

HEADS = (
    ColumnHead("ID", True, 6, IDENTITY),
    ColumnHead("NAME", False, 10, IDENTITY, flex=True, elide="middle"),
    ColumnHead("OWNER", False, 8, ESSENTIAL),
    ColumnHead("MODE", False, 6, DETAIL),
    ColumnHead("NOTE", False, 20, EXTRA),
)


def test_wide_every_column_shows_and_the_flex_one_takes_the_rest() -> None:
    placed = fit_columns(HEADS, 100)
    assert [(p.index, p.width) for p in placed] == [(0, 6), (1, 10 + 45), (2, 8), (3, 6), (4, 20)]
    assert [p.x for p in placed] == [1, 8, 64, 73, 80]  # each after the previous and a gap
    assert placed[-1].x + placed[-1].width == 100


def test_narrow_the_least_important_columns_go_first_and_the_identity_ones_stay() -> None:
    shown = {w: [p.index for p in fit_columns(HEADS, w)] for w in (55, 54, 34, 20)}
    assert shown[55] == [0, 1, 2, 3, 4]  # 50 cells of columns and 5 gaps
    assert shown[54] == [0, 1, 2, 3]  # EXTRA goes first
    assert shown[34] == [0, 1, 2, 3] and shown[20] == [0, 1]  # then DETAIL and ESSENTIAL; ID and NAME stay
    for width in (55, 54, 34):
        placed = fit_columns(HEADS, width)
        assert placed[-1].x + placed[-1].width == width  # the flex column fills the line
    assert [p.width for p in fit_columns(HEADS, 100, sorted_by=2)][2] == 8 + 2  # room for " ▲" after OWNER


def test_fit_cell_pads_aligns_and_elides_to_exactly_its_width() -> None:
    assert fit_cell("42", 6, right=True) == "    42"
    assert fit_cell("root", 6) == "root  "
    path = "/tmp/some/long/dir/app.sock"
    middle = fit_cell(path, 15, "middle")
    assert middle.endswith("app.sock") and "…" in middle and cell_len(middle) == 15
    assert fit_cell(path, 10) == "/tmp/some…"
    wide = fit_cell("名前付きの共有メモリ", 9)  # two cells per character: never a half character, never too wide
    assert cell_len(wide) == 9 and wide.rstrip().endswith("…")
    assert fit_cell("[@click=app.quit]x", 8) == "[@click…"  # plain text: markup is only characters here


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(HEADS, id="t")


def make_rows(count: int, tag: str = "") -> list[Row]:
    return [
        Row(f"k{i}", (str(i), f"/run/app/{i:05d}/socket{tag}", "root", "0600", "note"), (i, i, "root", 0, ""))
        for i in range(count)
    ]


async def test_many_rows_render_only_the_screen_and_the_selection_follows_its_key() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(KeyedTable)
        rows = make_rows(20_000)
        table.apply(rows, {r.key for r in rows})
        table.focus()
        await pilot.pause()
        assert table.row_count == 20_000 and table.selected_key == "k0"
        assert len(table._strips) < 40  # the lines drawn: one screen, not 20,000
        await pilot.press("down", "down", "pagedown", "end", "home", "down")
        assert table.selected_key == "k1"
        assert table.select_key("k15000")
        await pilot.pause()
        screen = "".join(table.render_line(y).text for y in range(table.size.height))
        assert "/run/app/15000/socket" in screen  # scrolled into view
        table.sort_by(0, reverse=True)  # the selection stays on its key
        assert table.selected_key == "k15000" and table.index_of("k15000") == 20_000 - 1 - 15000
        changed = [*make_rows(20_000)[1:], Row("new", ("99999", "fresh", "root", "0600", ""), (99999, "", "", 0, ""))]
        table.apply(changed, {r.key for r in changed}, fresh={"new"})
        assert table.row_class("new") == NEW and table.row_class("k0") == GONE  # gone: shown once, struck out
        assert table.selected_key == "k15000" and table.index_of("new") == 0  # sorted again, by ID descending
        table.apply(changed, {r.key for r in changed})
        assert "k0" not in table.rows and table.row_class("new") == ""


async def test_resize_lays_the_columns_out_again() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 10)) as pilot:
        table = app.query_one(KeyedTable)
        rows = make_rows(5, tag=".with-a-long-tail")
        table.apply(rows, {r.key for r in rows})
        await pilot.pause()
        assert "NOTE" in str(table.render_line(0).text)
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        header = table.render_line(0).text
        assert "NOTE" not in header and "ID" in header and "NAME" in header
        line = table.render_line(1).text
        assert "…" in line and "long-tail" in line  # the name elided in the middle, its tail kept
        assert cell_len(line) == table.scrollable_content_region.width
        for _ in range(len(HEADS)):  # `s` sorts by the next column shown: never one the width leaves out
            table.action_cycle_sort()
            assert table.sort_column in {p.index for p in table._layout()}
            assert "▲" in table.render_line(0).text


def test_a_scan_reuses_the_rows_of_unchanged_objects_and_sorts_an_object_row_from_its_object() -> None:
    first, second = synthetic_snapshot(400, 20), synthetic_snapshot(400, 20, salt=1)
    kind = first.objects[0].kind
    old = build_rows(first)
    assert set(old.objects) == {ALL, *KINDS}  # every view's rows, prepared in the scan thread
    assert all(r.given is None for r in old.objects[ALL])  # no cell built until a row is drawn or filtered
    kind_before = {r.key: r for r in old.view_rows(kind)}
    assert len(kind_before) == len(first.of_kind(kind)) and old.view_rows(PROCESSES) is old.others[PROCESSES]
    drawn = old.objects[ALL][0]
    assert drawn.cells == tuple(c.cell(drawn.source) for c in object_columns(ALL)) and drawn.given is drawn.cells
    new = build_rows(second, old)
    before = {r.key: r for r in old.objects[ALL]}
    now = {o.ref: o for o in second.objects}
    same = [o.ref for o in first.objects if now.get(o.ref) == o]
    changed = [o.ref for o in first.objects if o.ref in now and now[o.ref] != o]
    assert same and changed  # the salt resized some objects and replaced others
    rows = {r.key: r for r in new.objects[ALL]}
    for ref in same:  # the very row, now pointing at the new scan's object (the old one is not kept alive)
        assert rows[ref] is before[ref] and rows[ref].source is now[ref]
    for ref in changed:
        assert rows[ref] is not before[ref] and rows[ref].source is now[ref]
    for row in new.objects[kind]:
        assert row.source is now[row.key] and (row is kind_before.get(row.key)) == (row.key in same)
    columns = object_columns(ALL)
    size = next(i for i, c in enumerate(columns) if c.title == "SIZE")
    row = rows[changed[0]]
    assert row.sort is None and row.sort_key(size) == columns[size].sort(now[row.key]) == (1, 4097)  # from the object
    assert build_rows(second, build_rows(namespaced_snapshot())).objects[ALL][0].columns == columns  # no CONTAINER


async def test_object_rows_sort_by_their_objects_values() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 10)):
        snapshot = synthetic_snapshot(300, 10, salt=3)
        rows = build_rows(snapshot).objects[ALL]
        table = app.query_one(KeyedTable)
        table.set_heads(heads(object_columns(ALL)))
        table.apply(rows, {r.key for r in rows})
        size = [h.title for h in table.heads].index("SIZE")
        table.sort_by(size, reverse=True)
        sizes = [table.rows[k].source.size for k in table._keys]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


async def test_a_line_is_drawn_again_only_when_its_row_or_colour_changed() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(KeyedTable)
        rows = make_rows(50)
        table.apply(rows, {r.key for r in rows})
        await pilot.pause()
        renamed, recoloured, same = (table.render_line(y) for y in (2, 3, 4))  # k1, k2, k3 (the cursor is on k0)
        changed = [rows[0], Row("k1", ("1", "renamed", "root", "0600", ""), (1, 1, "root", 0, "")), *rows[2:]]
        table.apply(changed, {r.key for r in changed}, fresh={"k2"})
        assert "renamed" in table.render_line(2).text and table.render_line(2) is not renamed
        assert table.row_class("k2") == NEW and table.render_line(3) is not recoloured
        assert table.render_line(4) is same  # the very line: nothing about k3 changed
        for move in (table.blur, table.focus):
            move()
            await pilot.pause()
            assert table.render_line(4) is same  # focus changes the cursor's line only
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert table.render_line(4) is not same  # a theme changes every line's colours
