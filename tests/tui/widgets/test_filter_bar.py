"""Keys typed faster than the screen repaints (a paste, tmux send-keys) after `/` land in the filter, never on the
dashboard's own single-letter keys."""

from __future__ import annotations

from textual import events

from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.widgets.filter_bar import FilterBar
from tests.tui_fixtures import fixed_clock, recorded_snapshot

SIZE = (120, 40)


async def test_keys_queued_behind_slash_go_to_the_filter() -> None:
    app = IpcwatchApp(recorded_snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        view = app.dashboard.view_id
        typed = "nxkp"  # each is a dashboard key: containers view, remove, signal, holder jump
        # Queue every key before the app handles the first, as a terminal delivers a paste.
        app.post_message(events.Key("slash", "/"))
        for char in typed:
            app.post_message(events.Key(char, char))
        await pilot.pause()
        bar = app.dashboard.query_one(FilterBar)
        assert bar.value == typed
        assert app.screen is app.dashboard  # no dialog opened
        assert app.dashboard.view_id == view
