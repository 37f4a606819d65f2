"""The key footer: one line of the keys that apply, following view switches and the selection; a click presses
a key; refreshing the bindings many times creates no widget per key (Textual's footer did, and leaked them)."""

from __future__ import annotations

import gc

from textual.widget import Widget

from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.screens.help import HelpScreen
from ipcwatch.tui.widgets.footer import KeyFooter
from tests.tui_fixtures import fixed_clock, recorded_snapshot

SIZE = (120, 40)


def footer_text(app: IpcwatchApp) -> str:
    footer = app.dashboard.query_one(KeyFooter)
    return "".join(footer.render_line(0).text)


async def test_the_footer_follows_the_view_and_a_click_presses_the_key() -> None:
    app = IpcwatchApp(recorded_snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Filter" in footer_text(app) and "palette" in footer_text(app)
        assert " o Object" not in footer_text(app)  # `o` goes from a process or blocked thread only
        await pilot.press("p")
        await pilot.pause()
        assert " o Object" in footer_text(app)
        x = footer_text(app).index("? Keys")
        await pilot.click(KeyFooter, offset=(x + 1, 0))
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_view_switches_create_no_widget_per_key() -> None:
    app = IpcwatchApp(recorded_snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        gc.collect()
        before = sum(isinstance(o, Widget) for o in gc.get_objects())
        for _ in range(6):
            for key in ("1", "3", "p", "w", "0"):  # each view offers different actions
                await pilot.press(key)
                await pilot.pause()
        gc.collect()
        assert sum(isinstance(o, Widget) for o in gc.get_objects()) <= before + 5  # a notification or two at most
