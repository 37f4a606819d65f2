"""The dashboard over namespaces and containers: a CONTAINER column when objects live outside the host's
namespaces (colliding ids are two rows), the Containers view and its counts, `ns:` filters, hostile container
names shown as text. Recorded snapshots here; a real unshare'd IPC namespace at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from rich.text import Text
from textual.widgets import Static

from ipcwatch.scan import ScanConfig, scan
from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.screens.confirm import ConfirmScreen
from ipcwatch.tui.widgets.rows import ALL, CONTAINERS
from tests.container import podman_container, unavailable
from tests.tui.test_app import SIZE, cells, detail_text, settle
from tests.tui_fixtures import (
    EVIL_IPC,
    HOSTILE_MARKUP,
    PINNED_IPC,
    WEB_IPC,
    WEB_MNT,
    WEB_NET,
    fixed_clock,
    namespaced_snapshot,
    recorded_snapshot,
    sequence_scanner,
)

WEB_SHM = f"sysv-shm@ipc:{WEB_IPC.inode}:3"


class QuitSentinelApp(IpcwatchApp):
    """Records a quit instead of quitting: a container name holding `[@click=app.quit]` must never run it."""

    quit_ran = False

    async def action_quit(self) -> None:
        type(self).quit_ran = True


def header(app: IpcwatchApp) -> str:
    content = app.dashboard.query_one("#status", Static).content
    return content.plain if isinstance(content, Text) else str(content)


def heads(app: IpcwatchApp, view_id: str) -> list[str]:
    return [head.title for head in app.dashboard.table(view_id).heads]


async def started(app: IpcwatchApp, pilot) -> None:  # type: ignore[no-untyped-def]
    app.paused = True
    while app.dashboard.rows is None:
        await pilot.pause(0.01)
    await settle(app, pilot)


async def test_colliding_ids_are_two_rows_with_their_container() -> None:
    app = IpcwatchApp(namespaced_snapshot, interval=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("1")
        table = app.dashboard.table("sysv-shm")
        assert heads(app, "sysv-shm")[:3] == ["KEY", "ID", "CONTAINER"]
        assert cells(table, "sysv-shm:3")[1:3] == ["3", "host"]
        assert cells(table, WEB_SHM)[1:3] == ["3", "web"]
        assert table.select_key(WEB_SHM)
        await pilot.pause()
        assert "501" in detail_text(app) and "postgres" not in detail_text(app)
        assert f"namespace     web (podman {'ab' * 6}), {WEB_IPC.tag}" in detail_text(app)
        await pilot.press("x")  # the confirmation says where the segment lives: its ref alone does not
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        shown = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert f"in container web's ipc namespace {WEB_IPC.inode}" in shown
        await pilot.press("escape")
        assert "5 namespaces (2 containers)" in header(app)


async def test_filter_by_container_and_the_containers_view() -> None:
    app = IpcwatchApp(namespaced_snapshot, interval=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("n")
        table = app.dashboard.table(CONTAINERS)
        assert app.dashboard.view_id == CONTAINERS
        assert set(table.rows) == {ns.tag for ns in namespaced_snapshot().namespaces}
        # NAMESPACE, TYPE, RUNTIME, PIDS, OBJECTS, STALE, BLOCKED, MOST-USED LIMIT
        assert cells(table, WEB_IPC.tag) == ["web", "ipc", "podman", "2", "1", "0", "0", "shmmni 1/4 (25%)"]
        assert cells(table, WEB_MNT.tag)[4:6] == ["1", "1"]  # its stale POSIX segment
        assert cells(table, WEB_NET.tag)[4] == "1"  # a unix socket lives in its network namespace
        assert cells(table, PINNED_IPC.tag)[0] == f"{PINNED_IPC.tag} (pinned, no process)"
        assert table.select_key(WEB_IPC.tag)
        await pilot.pause()
        assert "podman" in detail_text(app) and "shmmni" in detail_text(app)
        await pilot.press("enter")  # the All view, only the web container's IPC namespace
        await settle(app, pilot)
        assert app.dashboard.view_id == ALL
        assert set(app.dashboard.table(ALL).rows) == {WEB_SHM}
        app.dashboard.filters[ALL] = "ns:web"  # a container name matches both its namespaces
        app.dashboard.show_view(ALL)
        await settle(app, pilot)
        assert set(app.dashboard.table(ALL).rows) == {WEB_SHM, f"posix-shm@mnt:{WEB_MNT.inode}:cache", "unix:8001"}
        app.dashboard.filters[ALL] = "ns:host"
        app.dashboard.show_view(ALL)
        await settle(app, pilot)
        assert {r.partition(":")[0] for r in app.dashboard.table(ALL).rows} == {
            "sysv-shm",
            "sysv-msg",
            "sysv-sem",
        }
        await pilot.press("b")  # back to the Containers view, on the row it left
        assert app.dashboard.view_id == CONTAINERS
        assert table.selected_key == WEB_IPC.tag


async def test_a_hostile_container_name_is_text() -> None:
    QuitSentinelApp.quit_ran = False
    app = QuitSentinelApp(namespaced_snapshot, interval=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("n")
        table = app.dashboard.table(CONTAINERS)
        assert cells(table, EVIL_IPC.tag)[0] == HOSTILE_MARKUP
        assert table.select_key(EVIL_IPC.tag)
        await pilot.pause()
        assert HOSTILE_MARKUP in detail_text(app)
        assert table.select_key(PINNED_IPC.tag)
        await pilot.pause()
        assert "\x1b" not in detail_text(app) and "\\x1b" in detail_text(app)  # the pin's path, escaped
        await pilot.click(f"#view-{CONTAINERS}", offset=(3, 1))
        await pilot.pause()
    assert not QuitSentinelApp.quit_ran


async def test_the_container_column_goes_when_only_the_host_is_left() -> None:
    scanner = sequence_scanner(namespaced_snapshot(), recorded_snapshot())
    app = IpcwatchApp(scanner, interval=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        assert "CONTAINER" in heads(app, ALL)
        app.action_refresh_now()
        await settle(app, pilot)
        assert "CONTAINER" not in heads(app, ALL)
        assert WEB_SHM not in app.dashboard.table(ALL).rows and "sysv-shm:3" in app.dashboard.table(ALL).rows
        assert " namespaces" not in header(app)


@pytest.fixture
def unshared_segment():  # type: ignore[no-untyped-def]
    """A child in a new IPC namespace holding a SysV segment; killed (which removes the namespace) at teardown."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare")
    code = (
        "import sys, sysv_ipc; m = sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, size=4096)\n"
        "print(m.id, flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        ["unshare", "--ipc", "--", sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        shmid = int(child.stdout.readline())
        yield child.pid, shmid, os.stat(f"/proc/{child.pid}/ns/ipc").st_ino
    finally:
        child.kill()
        child.wait(10)


async def test_a_real_unshared_namespace(unshared_segment) -> None:  # type: ignore[no-untyped-def]
    pid, shmid, inode = unshared_segment
    app = IpcwatchApp(lambda: scan(ScanConfig(kinds=frozenset({"sysv-shm"}), waiters=False)), interval=60.0)
    ref = f"sysv-shm@ipc:{inode}:{shmid}"
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        deadline = time.monotonic() + 20
        while app.dashboard.rows is None or app.dashboard.rows.snapshot.get(ref) is None:
            assert time.monotonic() < deadline, f"{ref} never showed"
            app.action_refresh_now()
            await settle(app, pilot)
        await pilot.press("n")
        table = app.dashboard.table(CONTAINERS)
        row = cells(table, f"ipc:{inode}")
        assert row[0] == f"ipc:{inode}" and int(row[3]) >= 1 and row[4] == "1"
        await pilot.press("1")
        assert cells(app.dashboard.table("sysv-shm"), ref)[1:3] == [str(shmid), f"ipc:{inode}"]


async def test_a_real_podman_container() -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    app = IpcwatchApp(lambda: scan(ScanConfig(kinds=frozenset({"sysv-shm", "sysv-msg"}), waiters=False)), interval=60.0)
    with podman_container("ipcmk -M 4096; ipcmk -Q; sleep 300") as box:
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("n")
            table = app.dashboard.table(CONTAINERS)
            tag = f"ipc:{os.stat(f'/proc/{box.pid}/ns/ipc').st_ino}"
            assert cells(table, tag)[:3] == [box.name, "ipc", "podman"] and cells(table, tag)[4] == "2"
            assert table.select_key(tag)
            await pilot.pause()
            assert f"container id  {box.id}" in detail_text(app) and "mqueue_queues_max 0 of 256" in detail_text(app)
            await pilot.press("enter")
            await settle(app, pilot)
            refs = list(app.dashboard.table(ALL).rows)
            assert sorted(r.partition("@")[0] for r in refs) == ["sysv-msg", "sysv-shm"]
            assert all(cells(app.dashboard.table(ALL), r)[2] == box.name for r in refs)  # KIND, REF, CONTAINER
