"""The footer does not leak: refreshing the bindings many times (each view switch, scan and row move may) leaves
no discarded footer key alive."""

from __future__ import annotations

import gc

from textual.widgets._footer import FooterKey

from ipcwatch.tui.app import IpcwatchApp

from .tui_fixtures import fixed_clock, recorded_snapshot

SIZE = (120, 40)


async def test_view_switches_leave_no_discarded_footer_keys_alive() -> None:
    app = IpcwatchApp(recorded_snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for _ in range(6):
            for key in ("1", "3", "p", "w", "0"):  # each view offers different actions: the footer recomposes
                await pilot.press(key)
                await pilot.pause()
        gc.collect()
        keys = [o for o in gc.get_objects() if isinstance(o, FooterKey)]
        assert keys, "the footer shows keys"
        assert [k for k in keys if not k.is_attached] == []
