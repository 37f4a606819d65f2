"""Dashboard tests driven with Pilot over real IPC objects (and a recorded snapshot for the host-independent ones)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import posix_ipc
import pytest
from textual.app import ScreenStackError
from textual.widgets import Static

from ipcwatch.scan import ScanConfig, Snapshot, scan
from ipcwatch.text import escape
from ipcwatch.tui.app import ADAPT, EXIT_GRACE, STOP_SIGNALS, IpcwatchApp
from ipcwatch.tui.screens.dashboard import FILTER_INLINE
from ipcwatch.tui.screens.help import HelpScreen
from ipcwatch.tui.screens.hexview import HexViewScreen
from ipcwatch.tui.widgets.detail import DetailPane
from ipcwatch.tui.widgets.filter_bar import FilterBar
from ipcwatch.tui.widgets.keyed_table import GONE, NEW, KeyedTable
from ipcwatch.tui.widgets.row_filter import compile_filter
from ipcwatch.tui.widgets.rows import PROCESSES, build_rows
from tests.conftest import RUN_TAG, Child, Cleanup, unique_name, wait_until
from tests.tui_fixtures import (
    PtyDashboard,
    fixed_clock,
    recorded_objects,
    recorded_snapshot,
    sequence_scanner,
    synthetic_snapshot,
)

SIZE = (120, 40)


def posix_scanner() -> Snapshot:
    return scan(ScanConfig(kinds=frozenset({"posix-shm"}), waiters=False))


class SentinelApp(IpcwatchApp):
    """The dashboard plus an action a hostile name might try to run."""

    sentinel_ran = False

    def action_sentinel(self) -> None:
        self.sentinel_ran = True


async def settle(app: IpcwatchApp, pilot) -> None:  # type: ignore[no-untyped-def]
    await app.workers.wait_for_complete()
    await pilot.pause()


async def refresh(app: IpcwatchApp, pilot) -> None:  # type: ignore[no-untyped-def]
    app.action_refresh_now()
    await settle(app, pilot)


def detail_text(app: IpcwatchApp) -> str:
    return app.dashboard.query_one(DetailPane).text.plain


def cells(table: KeyedTable, key: str) -> list[str]:
    return list(table.rows[key].cells)


def cell(table: KeyedTable, key: str, title: str) -> str:
    """The cell of the row `key` in the column titled `title`."""
    return table.rows[key].cells[[head.title for head in table.heads].index(title)]


def make_shm(cleanup: Cleanup, name: str, size: int = 4096) -> str:
    shm = posix_ipc.SharedMemory("/" + name, posix_ipc.O_CREX, mode=0o600, size=size)
    cleanup.add(lambda: posix_ipc.unlink_shared_memory("/" + name))
    shm.close_fd()
    return f"posix-shm:{escape(name)}"


HOLD_SHM = """
    import posix_ipc, sys
    shm = posix_ipc.SharedMemory("/{name}")
    print("READY", flush=True)
    sys.stdin.read()
"""


async def test_object_appears_in_its_view_with_its_holder(cleanup: Cleanup, spawn: Callable[..., Child]) -> None:
    name = unique_name()
    ref = make_shm(cleanup, name)
    child = spawn(HOLD_SHM.format(name=name))
    app = IpcwatchApp(posix_scanner, interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        table = app.dashboard.table("posix-shm")
        assert app.dashboard.view_id == "posix-shm"
        assert table.select_key(ref)
        await pilot.pause()
        assert cell(table, ref, "NAME") == name  # a CONTAINER column may be shown
        assert cell(table, ref, "HOLDERS").startswith(f"{child.pid} ")
        assert "Holders (1)" in detail_text(app)
        assert str(child.pid) in detail_text(app)
        await pilot.press("p")  # jump to the holder process ...
        await pilot.pause()
        assert app.dashboard.view_id == PROCESSES
        assert app.dashboard.table(PROCESSES).selected_key == str(child.pid)
        assert ref in app.dashboard.held_table.rows
        await pilot.press("b")  # ... and back
        await pilot.pause()
        assert app.dashboard.view_id == "posix-shm"
        assert table.selected_key == ref


async def test_filter_narrows_the_view(cleanup: Cleanup) -> None:
    wanted, other = unique_name("wanted"), unique_name("other")
    wanted_ref, other_ref = make_shm(cleanup, wanted), make_shm(cleanup, other)
    app = IpcwatchApp(posix_scanner, interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.dashboard.table("all")
        assert {wanted_ref, other_ref} <= set(table.rows)
        await pilot.press("slash", *wanted, "enter")
        await pilot.pause()
        assert wanted_ref in table.rows and other_ref not in table.rows
        await pilot.press("slash", "ctrl+u", *f"re:{RUN_TAG}.*other$", "enter")
        await pilot.pause()
        assert other_ref in table.rows and wanted_ref not in table.rows
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert {wanted_ref, other_ref} <= set(table.rows)


async def test_a_big_view_is_filtered_in_a_thread_and_the_newest_filter_wins() -> None:
    snapshot = synthetic_snapshot(3 * FILTER_INLINE)
    app = IpcwatchApp(lambda: snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.dashboard.table("all")
        assert len(table.rows) == 3 * FILTER_INLINE
        await pilot.press("slash", *"re:^obj-1", "enter")  # each keystroke filters again: the last one shows
        await settle(app, pilot)
        keep = compile_filter("re:^obj-1")
        assert keep is not None
        wanted = {row.key for row in build_rows(snapshot).objects["all"] if keep(row)}
        assert set(table.rows) == wanted and 0 < len(wanted) < len(snapshot.objects)


async def test_bad_regex_keeps_the_previous_filter(cleanup: Cleanup) -> None:
    ref = make_shm(cleanup, unique_name())
    app = IpcwatchApp(posix_scanner, interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"re:(", "enter")
        await pilot.pause()
        assert app.dashboard.query_one(FilterBar).has_class("-bad")
        assert ref in app.dashboard.table("all").rows


async def test_selection_survives_a_refresh_and_a_vanished_object_goes(cleanup: Cleanup) -> None:
    first, second = unique_name("a"), unique_name("b")
    first_ref, second_ref = make_shm(cleanup, first), make_shm(cleanup, second)
    app = IpcwatchApp(posix_scanner, interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.dashboard.table("all")
        await pilot.press("slash", *RUN_TAG, "enter")
        assert table.select_key(second_ref)
        await pilot.pause()
        third_ref = make_shm(cleanup, unique_name("0"))  # sorts before the others: rows shift
        table.sort_by(1)
        await refresh(app, pilot)
        assert third_ref in table.rows
        assert table.selected_key == second_ref
        assert table.row_class(third_ref) == NEW

        posix_ipc.unlink_shared_memory("/" + first)
        await refresh(app, pilot)
        assert table.row_class(first_ref) == GONE  # shown struck out for one refresh
        assert table.selected_key == second_ref
        await refresh(app, pilot)
        assert first_ref not in table.rows
        assert table.selected_key == second_ref

        posix_ipc.unlink_shared_memory("/" + second)  # the selected object vanishes: no crash, selection moves
        await refresh(app, pilot)
        await refresh(app, pilot)
        assert second_ref not in table.rows
        assert "has gone away" in detail_text(app) or third_ref in detail_text(app)


async def test_hostile_names_render_literally_and_clicks_run_nothing(cleanup: Cleanup) -> None:
    mine = unique_name("hostile")  # this test's own prefix: other tests' objects never match the filter
    markup = f"{mine}[@click=app.sentinel]x[b]"  # a POSIX name cannot hold "/", so no closing tag
    title = f"{mine}t\x1b]2;PWNED\x07"
    markup_ref, title_ref = make_shm(cleanup, markup), make_shm(cleanup, title)
    app = SentinelApp(posix_scanner, interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *mine, "enter")
        await pilot.pause()
        table = app.dashboard.table("all")
        keys = list(table.rows)  # the refs, as the scan keeps them (raw or escaped)
        assert len(keys) == 2
        assert {cell(table, key, "REF") for key in keys} == {markup_ref, title_ref}  # shown escaped, once
        for key in reversed(keys):  # the cursor starts on the first: clicking it first would open it
            row = table.index_of(key)
            assert row is not None
            await pilot.click(KeyedTable, offset=(12, 1 + row))  # a click selects; a second would open
            await pilot.pause()
        assert table.selected_key in keys
        assert not app.sentinel_ran
        assert app.is_running
        assert markup in detail_text(app) or "\\x1b" in detail_text(app)
        screen = app.export_screenshot()
        assert "\x1b" not in screen and "\x07" not in screen
        assert "PWNED" in screen


async def test_poll_waits_while_a_modal_is_open() -> None:
    calls = []

    def counting() -> Snapshot:
        calls.append(1)
        return recorded_snapshot()

    app = IpcwatchApp(counting, interval=0.2, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        before = len(calls)
        await pilot.pause(0.8)
        assert len(calls) == before
        await pilot.press("escape")
        await pilot.pause(0.6)
        await settle(app, pilot)
        assert len(calls) > before


async def test_pause_and_rate_keys() -> None:
    app = IpcwatchApp(recorded_snapshot, interval=2.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("space")
        assert app.paused
        await pilot.press("plus")
        assert app.interval == 1.0
        await pilot.press("minus", "minus")
        assert app.interval == 5.0
        header = app.dashboard.query_one("#status", Static).content
        assert "PAUSED" in str(header) and "every 5 s" in str(header)
        await pilot.press("space")
        assert not app.paused


async def test_costly_scans_stretch_the_interval_the_header_says_so_and_r_still_scans_at_once() -> None:
    calls = []

    def costly() -> Snapshot:
        calls.append(1)
        end = time.thread_time() + 0.15  # CPU time, as a big host's scan takes
        while time.thread_time() < end:
            pass
        return recorded_snapshot()

    app = IpcwatchApp(costly, interval=0.5, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.interval == 0.5 and app.effective_interval >= ADAPT * 0.15  # scans stay within 1/ADAPT of a core
        app.show_status()
        header = str(app.dashboard.query_one("#status", Static).content)
        assert f"every {app.effective_interval:g} s (adaptive)" in header
        await pilot.pause(1.0)
        assert len(calls) == 1  # the asked-for 0.5 s has passed twice: no scan yet
        await refresh(app, pilot)  # `r`
        assert len(calls) == 2


async def test_cpu_a_scan_spends_in_threads_of_its_own_stretches_the_interval_too() -> None:
    """scan() reads /proc in a thread of its own: that CPU counts (the worker's own thread time missed it)."""

    def burn() -> None:
        end = time.thread_time() + 0.15
        while time.thread_time() < end:
            pass

    def threaded() -> Snapshot:
        helper = threading.Thread(target=burn)
        helper.start()
        helper.join()
        return recorded_snapshot()

    app = IpcwatchApp(threaded, interval=0.5, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.effective_interval >= ADAPT * 0.15


async def test_tiny_terminal_every_view_and_jump() -> None:
    objects = recorded_objects()
    app = IpcwatchApp(sequence_scanner(recorded_snapshot(), recorded_snapshot(objects[:3])), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for key in "0123456789":
            await pilot.press(key, "down", "p", "o", "b")
        await pilot.press("s", "S", "d", "d", "left_square_bracket", "right_square_bracket", "e", "escape")
        await refresh(app, pilot)  # most objects vanish under the cursor
        await refresh(app, pilot)
        for key in "0123456789":
            await pilot.press(key, "p")
        assert app.is_running


async def test_timer_and_scan_callbacks_after_shutdown_do_nothing() -> None:
    """A refresh tick, status tick or scan that fires while the app shuts down finds no screens: it must do nothing."""
    app = IpcwatchApp(recorded_snapshot, interval=0.2, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
    with pytest.raises(ScreenStackError):
        app.screen  # noqa: B018 - the state every late callback meets
    app._tick()
    app.show_status()
    app.start_scan()
    assert not app.scanning and app._timer is None


async def test_holder_that_exited_and_empty_or_failing_scans() -> None:
    gone = recorded_objects()[0]  # holders 101 and 102
    snapshot = recorded_snapshot([gone])
    orphaned = Snapshot(snapshot.objects, {}, notes=snapshot.notes, taken_at=snapshot.taken_at)
    app = IpcwatchApp(lambda: orphaned, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("1", "p")
        await pilot.pause()
        assert "has exited" in " ".join(str(n.message) for n in app._notifications)
        await pilot.press("5")
        await pilot.pause()
        notice = str(app.dashboard.query_one("#notice", Static).content)
        assert "No posix message queues" in notice and "/dev/mqueue is not mounted" in notice

    def broken() -> Snapshot:
        raise OSError("proc is gone [b]")

    app = IpcwatchApp(broken, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        assert app.is_running
        assert any("proc is gone [b]" in str(n.message) for n in app._notifications)


@pytest.mark.parametrize("view", ["sysv-sem", "unix"])
async def test_detail_pane_shows_every_field(view: str) -> None:
    app = IpcwatchApp(recorded_snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.dashboard.show_view(view)
        await pilot.pause()
        text = detail_text(app)
        if view == "sysv-sem":
            assert "Semaphores (2)" in text and "LAST-PID" in text and "Waiters (2)" in text
        else:
            assert "Holders (1)" in text and "send_queue" in text


async def test_enter_on_shared_memory_opens_the_hex_view(cleanup: Cleanup) -> None:
    name = unique_name()
    ref = make_shm(cleanup, name)
    app = IpcwatchApp(posix_scanner, interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        assert app.dashboard.table("posix-shm").select_key(ref)
        await pilot.press("enter")
        for _ in range(100):
            if isinstance(app.screen, HexViewScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, HexViewScreen)


@pytest.fixture
def pty_dashboard() -> Iterator[PtyDashboard]:
    """The real dashboard (read-only, over this host) in a real terminal, painted once; killed at teardown."""
    dashboard = PtyDashboard("--read-only")
    try:
        wait_until(lambda: " objects" in dashboard.text() or dashboard.wait(0) is not None, timeout=60, interval=0.1)
        assert dashboard.wait(0) is None, dashboard.text()
        yield dashboard
    finally:
        dashboard.close()


@pytest.mark.parametrize("sig", [0, *STOP_SIGNALS], ids=lambda s: signal.Signals(s).name if s else "q")
def test_q_or_a_stop_signal_ends_the_dashboard_and_restores_the_terminal(pty_dashboard: PtyDashboard, sig: int) -> None:
    painted = len(pty_dashboard.output)
    if sig:
        os.kill(pty_dashboard.pid, sig)
    else:
        pty_dashboard.press("q")
    assert pty_dashboard.wait(EXIT_GRACE + 10) == (128 + sig if sig else 0)
    restored = (b"\x1b[?1049l", b"\x1b[?25h")  # left the alternate screen, showed the cursor
    wait_until(lambda: all(seq in pty_dashboard.output[painted:] for seq in restored))
    assert "Traceback" not in pty_dashboard.text()


def test_the_dashboard_ends_when_its_terminal_goes_away(pty_dashboard: PtyDashboard) -> None:
    pty_dashboard.hang_up()  # the kernel sends SIGHUP; every write to the terminal now fails
    assert pty_dashboard.wait(EXIT_GRACE + 10) == 128 + signal.SIGHUP


def test_a_stop_signal_ends_the_dashboard_even_when_its_terminal_stopped_reading(pty_dashboard: PtyDashboard) -> None:
    pty_dashboard.reading.clear()  # a hung connection: the dashboard's writes fill the terminal and block
    for _ in range(40):
        pty_dashboard.press("0123456789")  # every view in turn: full repaints
        time.sleep(0.05)
    os.kill(pty_dashboard.pid, signal.SIGTERM)
    assert pty_dashboard.wait(EXIT_GRACE + 10) == 128 + signal.SIGTERM  # the clean exit blocks: the watchdog ends it
