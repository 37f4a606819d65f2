"""Keys sent in one burst with a view switch (tmux send-keys, a paste, a fast typist) act on the view switched to:
the table takes the focus as the switch happens, not a turn of the loop later, and the switch still lays the
screen out once."""

from __future__ import annotations

from textual import events

from ipcwatch.kinds import KINDS
from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.widgets.filter_bar import FilterBar
from ipcwatch.tui.widgets.keyed_table import KeyedTable
from ipcwatch.tui.widgets.rows import ALL
from tests.tui.test_scale import counted_layouts, scanned
from tests.tui_fixtures import synthetic_snapshot

CHARACTERS = {"slash": "/", "down": None, "end": None}


def burst(app: IpcwatchApp, *keys: str) -> None:
    """Queue every key before the app handles the first, as a terminal delivers them."""
    for key in keys:
        app.post_message(events.Key(key, CHARACTERS.get(key, key)))


def cursor(table: KeyedTable) -> int | None:
    """Where the table's cursor is (0: the first row)."""
    return table.index_of(table.selected_key or "")


async def test_arrows_sent_with_a_view_switch_move_the_new_views_cursor_and_the_switch_lays_out_once() -> None:
    async with scanned(synthetic_snapshot(900, 30)) as (app, pilot):
        screen = app.dashboard
        await pilot.press("1")
        await pilot.pause()
        layouts = counted_layouts(screen)
        burst(app, "0", "down", "down")
        for _ in range(4):
            await pilot.pause(0.05)
        assert screen.view_id == ALL and screen.focused is screen.table(ALL)
        assert cursor(screen.table(ALL)) == 2
        assert cursor(screen.table(KINDS[0])) == 0  # left as it was
        assert len(layouts) == 1
        burst(app, "2", "end")
        await pilot.pause()
        table = screen.table(KINDS[1])
        assert screen.focused is table and cursor(table) == table.row_count - 1 > 0
        assert cursor(screen.table(ALL)) == 2


async def test_a_filter_typed_with_a_view_switch_filters_the_new_view() -> None:
    async with scanned(synthetic_snapshot(900, 30)) as (app, pilot):
        screen = app.dashboard
        await pilot.press("1")
        await pilot.pause()
        burst(app, "0", "slash", "o", "b", "j")
        await pilot.pause()
        bar = screen.query_one(FilterBar)
        assert screen.view_id == ALL and screen.focused is bar and bar.value == "obj"
        assert screen.filters == {ALL: "obj"}


async def test_view_keys_typed_into_the_filter_stay_text() -> None:
    async with scanned(synthetic_snapshot(900, 30)) as (app, pilot):
        screen = app.dashboard
        burst(app, "slash", "1", "0", "w", "n", "E")
        await pilot.pause()
        bar = screen.query_one(FilterBar)
        assert screen.view_id == ALL and screen.focused is bar and bar.value == "10wnE"
