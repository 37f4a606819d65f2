"""Make the README screenshots from a real scenario: start `ipcwatch demo`, drive the dashboard, save SVGs.

Run: .venv/bin/python scripts/screenshots.py [OUTPUT_DIR]   (default: screenshots/)

The scan is real; only its result is narrowed to the demo's objects (and what the demo's processes hold), so
the pictures do not show whatever else runs on the machine that makes them. For the Blocked view the script
kills the demo's SysV message producer: its consumer drains the queue and then waits for a sender that is gone.
For the Containers view it starts a process in a new IPC namespace (`unshare --ipc`, needs root) holding a SysV
segment with the same id as the demo's and a queue; killing it at the end removes the namespace and both.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ipcwatch.demo import Demo  # noqa: E402
from ipcwatch.record import replace  # noqa: E402
from ipcwatch.scan import ScanConfig, Snapshot, scan  # noqa: E402
from ipcwatch.tui.app import IpcwatchApp  # noqa: E402
from ipcwatch.tui.widgets.filter_bar import FilterBar  # noqa: E402

SIZE, SMALL = (120, 40), (80, 24)
SHOTS = ("main", "detail", "process", "filter", "confirm", "blocked", "containers", "namespaced")
UNSHARED = """
import sys, sysv_ipc
with open("/proc/sys/kernel/shm_next_id", "w") as f:
    f.write(sys.argv[1])
shm = sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, size=65536)
mq = sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX)
mq.send(b"queued inside the namespace")
print(shm.id, flush=True)
sys.stdin.read()
"""
BLOCK_TIMEOUT = 20.0


def demo_scanner(demo: Demo, extra_pids: set[int]):  # type: ignore[no-untyped-def]
    """The demo's objects and processes, plus the namespaces of `extra_pids` (filled in later) with their objects."""
    refs = {m.ref for m in demo.made}
    pids = set(demo.pids.values())

    def scanner() -> Snapshot:
        snap = scan(ScanConfig(file_dirs=(demo.directory,)))
        spaces = tuple(ns for ns in snap.namespaces if ns.host or extra_pids & set(ns.pids))
        keys = {ns.key for ns in spaces if not ns.host}
        mine = pids | extra_pids
        objects = tuple(
            o
            for o in snap.objects
            if o.ref in refs or o.holder_pids & pids or (o.namespace is not None and o.namespace.key in keys)
        )
        processes = {pid: p for pid, p in snap.processes.items() if pid in mine}
        return replace(snap, objects=objects, processes=processes, namespaces=spaces)

    return scanner


@contextmanager
def unshared(shm_next_id: int) -> Iterator[int]:
    """A process in a new IPC namespace holding a segment numbered `shm_next_id` and a queue: yields its pid."""
    child = subprocess.Popen(
        ["unshare", "--ipc", "--", sys.executable, "-c", UNSHARED, str(shm_next_id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        if not child.stdout.readline().strip():
            raise RuntimeError("the unshared process made nothing (root is needed)")
        yield child.pid
    finally:
        child.kill()
        child.wait(10)


async def first_scan(app: IpcwatchApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait for the first scan's rows; no blinking cursor in the pictures."""
    while app.dashboard.rows is None:
        await pilot.pause(0.05)
    app.dashboard.query_one(FilterBar).cursor_blink = False
    await pilot.pause(0.5)


async def shoot_small(out: Path, demo: Demo) -> None:
    """The All view in an 80x24 terminal: what fits first."""
    app = IpcwatchApp(demo_scanner(demo, set()), interval=2.0)
    async with app.run_test(size=SMALL) as pilot:
        await first_scan(app, pilot)
        app.save_screenshot("main-80x24.svg", str(out))


async def shoot(out: Path, demo: Demo) -> None:
    await shoot_small(out, demo)
    extra_pids: set[int] = set()
    app = IpcwatchApp(demo_scanner(demo, extra_pids), interval=2.0)
    async with app.run_test(size=SIZE) as pilot:
        await first_scan(app, pilot)
        app.save_screenshot("main.svg", str(out))
        await pilot.press("3")
        await pilot.pause(0.3)
        app.save_screenshot("detail.svg", str(out))
        await pilot.press("4")
        app.dashboard.table("posix-shm").select_key(f"posix-shm:{demo.tag}shm")
        await pilot.press("p")
        await pilot.pause(0.3)
        app.save_screenshot("process.svg", str(out))
        await pilot.press("0", "slash", *"stale", "enter")
        await pilot.pause(0.3)
        app.save_screenshot("filter.svg", str(out))
        app.dashboard.table("all").select_key(f"posix-shm:{demo.tag}stale-shm")
        await pilot.press("x")
        await pilot.pause(0.5)
        app.save_screenshot("confirm.svg", str(out))
        await pilot.press("escape", "slash", "escape")
        await show_blocked(app, pilot, demo)
        app.save_screenshot("blocked.svg", str(out))
        shmid = min(int(m.ref.partition(":")[2]) for m in demo.made if m.ref.startswith("sysv-shm:"))
        with unshared(shmid) as pid:
            extra_pids.add(pid)
            await show_containers(app, pilot, pid)
            app.save_screenshot("containers.svg", str(out))
            await pilot.press("1")
            app.dashboard.table("sysv-shm").select_key(f"sysv-shm@ipc:{os.stat(f'/proc/{pid}/ns/ipc').st_ino}:{shmid}")
            await pilot.pause(0.3)
            app.save_screenshot("namespaced.svg", str(out))


async def show_containers(app: IpcwatchApp, pilot, pid: int) -> None:  # type: ignore[no-untyped-def]
    """Rescan until the unshared namespace shows; select it in the Containers view."""
    tag = f"ipc:{os.stat(f'/proc/{pid}/ns/ipc').st_ino}"
    await pilot.press("n")
    deadline = time.monotonic() + BLOCK_TIMEOUT
    while time.monotonic() < deadline and not app.dashboard.table("containers").select_key(tag):
        app.action_refresh_now()
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
    await pilot.pause(0.3)


async def show_blocked(app: IpcwatchApp, pilot, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    """Stop the SysV message producer; rescan until its consumer shows as blocked with a dead partner."""
    producer = demo.children["msg-producer"]
    producer.stop()  # killed and reaped
    consumer = demo.pids["msg-consumer"]
    await pilot.press("w")
    deadline = time.monotonic() + BLOCK_TIMEOUT
    while time.monotonic() < deadline:
        app.action_refresh_now()
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        rows = app.dashboard.rows
        if rows is not None and any(b.pid == consumer and b.causes for b in rows.blocked.values()):
            break
    app.dashboard.table("blocked").select_key(f"{consumer}/{consumer}")
    await pilot.pause(0.3)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with Demo() as demo:
        asyncio.run(shoot(out, demo))
    for name in SHOTS:
        print(out / f"{name}.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
