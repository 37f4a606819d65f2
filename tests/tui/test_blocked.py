"""The Blocked view over real stuck children: what each waits on, jumps, releasing one from the dashboard, and a
dead partner flagged in red."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

from rich.text import Text
from textual.widgets import Button, OptionList, Static

from ipcwatch.scan import ScanConfig, Snapshot, scan
from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.screens.choose import ChoiceScreen
from ipcwatch.tui.screens.dashboard import DashboardScreen
from ipcwatch.tui.screens.semaphore import SemaphoreScreen
from ipcwatch.tui.widgets.keyed_table import ALERT
from ipcwatch.tui.widgets.rows import BLOCKED, PROCESSES
from tests.conftest import Child
from tests.tui.screens.test_acting import on_screen, until
from tests.tui.test_app import SIZE, cells, detail_text, refresh, settle


def scanner(*kinds: str, **config: object) -> Callable[[], Snapshot]:
    return lambda: scan(ScanConfig(kinds=frozenset(kinds), **config))  # type: ignore[arg-type]


async def blocked_row(app: IpcwatchApp, pilot, pid: int, timeout: float = 20.0) -> str:  # type: ignore[no-untyped-def]
    """Scan until the child shows in the Blocked view; select it and return its key."""
    key = f"{pid}/{pid}"
    deadline = time.monotonic() + timeout
    await settle(app, pilot)
    app.dashboard.show_view(BLOCKED)
    while key not in app.dashboard.table(BLOCKED).rows:
        assert time.monotonic() < deadline, "the child never showed as blocked"
        await pilot.pause(0.1)
        await refresh(app, pilot)
    assert app.dashboard.table(BLOCKED).select_key(key)
    await pilot.pause()
    return key


def header(app: IpcwatchApp) -> str:
    content = app.dashboard.query_one("#status", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def test_a_child_stuck_on_a_semaphore_is_shown_and_released(spawn, sysv_sem) -> None:  # type: ignore[no-untyped-def]
    sem = sysv_sem(initial=0)
    ref = f"sysv-sem:{sem.id}"
    child: Child = spawn(f"""
        import sysv_ipc
        sem = sysv_ipc.Semaphore({sem.key})
        print("READY", flush=True)
        sem.acquire()
        print("ACQUIRED", flush=True)
    """)
    app = IpcwatchApp(scanner("sysv-sem"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        key = await blocked_row(app, pilot, child.pid)
        table = app.dashboard.table(BLOCKED)
        row = cells(table, key)
        assert row[6] in ("semop sem 0 -1 (wait)", "semtimedop: semop sem 0 -1 (wait)")
        assert row[4] == ref and row[3] != "unknown"
        assert "semop sem 0 -1 (wait)" in detail_text(app) and "Hints" in detail_text(app)
        assert re.search(r"\b[1-9]\d* blocked", header(app))
        await pilot.press("o")  # to the semaphore set it waits on ...
        await pilot.pause()
        assert app.dashboard.view_id == "sysv-sem" and app.dashboard.table("sysv-sem").selected_key == ref
        assert f"{child.pid}" in detail_text(app) and "Waiters (1)" in detail_text(app)
        await pilot.press("b", "p")  # ... back, then to the process (listed although it holds nothing visible)
        await pilot.pause()
        assert app.dashboard.view_id == PROCESSES and app.dashboard.table(PROCESSES).selected_key == str(child.pid)
        assert "Blocked threads (1)" in detail_text(app)
        await pilot.press("b")  # back to the blocked thread; forward again goes to the process, back returns
        assert app.dashboard.view_id == BLOCKED and app.dashboard.table(BLOCKED).selected_key == key
        app.dashboard.action_forward()
        await pilot.pause()
        assert app.dashboard.view_id == PROCESSES and app.dashboard.table(PROCESSES).selected_key == str(child.pid)
        await pilot.press("b", "a")  # the actions menu: signal, or post the semaphore
        menu = await on_screen(pilot, ChoiceScreen)
        options = menu.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids == ["signal", "semaphore"]
        options.highlighted = 1
        await pilot.press("enter")
        screen = await on_screen(pilot, SemaphoreScreen)
        await settle(app, pilot)
        screen.query_one("#post", Button).press()
        await until(pilot, lambda: child.proc.poll() is not None, timeout=20)
        assert child.proc.returncode == 0  # released: it got its token and finished
        assert child.proc.stdout is not None and child.proc.stdout.readline().strip() == "ACQUIRED"
        await pilot.press("escape")
        await on_screen(pilot, DashboardScreen)
        await settle(app, pilot)
        await until(pilot, lambda: key not in table.rows or table.is_gone(key))


async def test_a_fifo_reader_whose_writer_exited_is_a_dead_partner(spawn, make_fifo, fifo_dir) -> None:  # type: ignore[no-untyped-def]
    path = make_fifo()
    reader: Child = spawn(f"""
        import sys
        print("READY", flush=True)
        while True:  # read what the writer sends, then wait for the next writer
            with open({path!r}, "rb") as f:
                sys.stdout.write(f.read().decode()); sys.stdout.flush()
    """)
    spawn(f"""
        import os
        fd = os.open({path!r}, os.O_WRONLY)
        os.write(fd, b"last words\\n")
        print("READY", flush=True)
    """).proc.wait(timeout=20)  # the writer is gone
    assert reader.proc.stdout is not None and reader.proc.stdout.readline() == "last words\n"
    app = IpcwatchApp(scanner("fifo", file_dirs=(fifo_dir,)), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        key = await blocked_row(app, pilot, reader.pid)
        table = app.dashboard.table(BLOCKED)
        row = cells(table, key)
        assert row[4] == f"fifo:{path}"
        assert row[5].startswith("dead partner: no process has the FIFO")
        assert table.row_class(key) == ALERT
        assert "CAUSE" in detail_text(app) and "dead partner" in detail_text(app)
        assert "dead partner/cycle" in header(app)


async def test_eventfd_and_signalfd_views_and_a_signal_wait(spawn, cleanup) -> None:  # type: ignore[no-untyped-def]
    """Keys E and G show the new kinds; a child in epoll on its signalfd is blocked waiting for SIGURG."""
    efd = os.eventfd(0)
    cleanup.add(lambda: os.close(efd))
    child: Child = spawn(
        """
        import ctypes, select, signal
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGURG])
        sigset = (ctypes.c_ulong * 16)(1 << (signal.SIGURG - 1))
        sfd = ctypes.CDLL(None).signalfd(-1, ctypes.byref(sigset), 0)
        ep = select.epoll(); ep.register(sfd, select.EPOLLIN)
        print(sfd)
        print("READY", flush=True)
        ep.poll(90)
        """,
        pass_fds=[efd],
    )
    sig_ref = f"signalfd:{child.pid}:{child.lines[0]}"
    app = IpcwatchApp(scanner("eventfd", "signalfd"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        key = await blocked_row(app, pilot, child.pid)
        row = cells(app.dashboard.table(BLOCKED), key)
        assert row[4] == sig_ref and row[5] == ""  # no cause: a signal wait is not stuck on a dead partner
        assert row[6].startswith("90 s timeout, epoll_wait") and row[7] == "signal SIGURG"
        await pilot.press("G")
        await pilot.pause()
        assert app.dashboard.view_id == "signalfd" and sig_ref in app.dashboard.table("signalfd").rows
        assert cells(app.dashboard.table("signalfd"), sig_ref)[2] == "SIGURG"
        await pilot.press("E")
        await pilot.pause()
        eventfds = app.dashboard.table("eventfd")
        assert app.dashboard.view_id == "eventfd"
        mine = [k for k in eventfds.rows if cells(eventfds, k)[4] == "2"]  # PROCS: this test and the child
        assert len(mine) >= 1
        assert eventfds.select_key(mine[0])
        await pilot.pause()
        assert f"{child.pid}" in detail_text(app)
