"""Columns that fit (layout.py) and the virtual table over them: which columns a width shows, cells fitted to their
column, and a table of many rows that renders only its screen, keeps the selection by key and re-lays out on resize."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import App, ComposeResult

from ipcwatch.tui.widgets.keyed_table import GONE, NEW, KeyedTable
from ipcwatch.tui.widgets.layout import GAP, fit_cell, fit_columns, natural_widths
from ipcwatch.tui.widgets.rows import ColumnHead, Row
from ipcwatch.views import DETAIL, ESSENTIAL, EXTRA, IDENTITY

HEADS = (
    ColumnHead("ID", True, 6, IDENTITY),
    ColumnHead("NAME", False, 10, IDENTITY, flex=True, elide="middle"),
    ColumnHead("OWNER", False, 8, ESSENTIAL),
    ColumnHead("MODE", False, 6, DETAIL),
    ColumnHead("NOTE", False, 20, EXTRA),
)
NATURAL = (6, 40, 8, 6, 20)


def test_wide_enough_every_column_shows_at_its_natural_width() -> None:
    placed = fit_columns(HEADS, NATURAL, 200)
    assert [(p.index, p.width) for p in placed] == list(enumerate(NATURAL))
    assert [p.x for p in placed] == [GAP, 7 + GAP, 48 + GAP, 57 + GAP, 64 + GAP]  # each after the previous + gap


def test_narrow_the_least_important_columns_go_first_and_the_identity_ones_stay() -> None:
    shown = {w: [p.index for p in fit_columns(HEADS, NATURAL, w)] for w in (100, 60, 40, 20)}
    assert shown[100] == [0, 1, 2, 3, 4]
    assert shown[60] == [0, 1, 2, 3] and 4 not in shown[40]  # EXTRA goes first, then DETAIL
    assert shown[20][:2] == [0, 1] and 3 not in shown[20]
    for width, indexes in shown.items():
        placed = fit_columns(HEADS, NATURAL, width)
        assert indexes[:2] == [0, 1]
        if width >= 40:
            assert placed[-1].x + placed[-1].width <= width  # fits


def test_natural_widths_are_the_widest_cell_or_the_title() -> None:
    rows = [Row("a", ("1", "x" * 30, "root", "0600", ""), ()), Row("b", ("123456789", "y", "r", "0", "n"), ())]
    assert natural_widths(HEADS, rows) == (9, 30, 7, 6, 6)  # a title has room for the sort arrow after it
    assert natural_widths(HEADS, []) == (4, 6, 7, 6, 6)


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
