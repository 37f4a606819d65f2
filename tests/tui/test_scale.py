"""The dashboard at scale: every view's rows are prepared by the scan worker and the hidden tables take them once
the visible one is painted (a switch only switches tables); an object row's cells are built only when drawn; the
cyclic collector paused for the first scan comes back on."""

from __future__ import annotations

import gc
import threading

from ipcwatch.kinds import KINDS
from ipcwatch.scan import Snapshot
from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.widgets.rows import ALL
from tests.tui_fixtures import fixed_clock, synthetic_snapshot

SIZE = (120, 40)


async def test_hidden_views_are_filled_before_they_are_shown_and_only_drawn_rows_build_cells() -> None:
    snapshot = synthetic_snapshot(900, 30)
    app = IpcwatchApp(lambda: snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()
        assert gc.isenabled()  # paused for the first scan only
        for kind in KINDS:  # never shown, already filled
            assert set(app.dashboard.table(kind).rows) == {o.ref for o in snapshot.of_kind(kind)}
        rows = app.dashboard.rows
        assert rows is not None
        drawn = [r.key for r in rows.objects[ALL] if r.given is not None]
        assert 0 < len(drawn) < SIZE[1]  # the lines on screen, not 900
        kind = KINDS[2]
        assert all(r.given is None for r in rows.objects[kind])
        app.dashboard.show_view(kind)
        await pilot.pause()
        table = app.dashboard.table(kind)
        assert table.selected_key == snapshot.of_kind(kind)[0].ref
        assert 0 < sum(r.given is not None for r in rows.objects[kind]) < SIZE[1]
        screen = "".join(table.render_line(y).text for y in range(table.size.height))
        assert rows.objects[kind][0].cells[0] in screen  # its key, 0x00000002


async def test_an_app_that_ends_before_its_first_scan_turns_the_collector_back_on() -> None:
    snapshot, release = synthetic_snapshot(90, 3), threading.Event()

    def waiting() -> Snapshot:
        release.wait(10)
        return snapshot

    app = IpcwatchApp(waiting, interval=60, clock=fixed_clock)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.scanning and not gc.isenabled()  # off while the first scan runs
    finally:
        release.set()
    assert gc.isenabled()


async def test_a_jump_into_a_table_filled_while_hidden_brings_its_cursor_into_view() -> None:
    snapshot = synthetic_snapshot(900, 300)
    app = IpcwatchApp(lambda: snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("7", "end", "p")  # the last FIFO's holder: far down the process table, never shown yet
        await pilot.pause()
        await pilot.pause()
        table = app.dashboard.table("processes")
        index = table.index_of(table.selected_key or "")
        top, height = round(table.scroll_offset.y), table.scrollable_content_region.height - 1
        assert index is not None and index > height and top <= index < top + height
