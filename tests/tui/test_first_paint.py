"""What the dashboard's first frame waits for: only the modules it shows (the screens a key opens come later), and a
blocked-thread analysis that finds each waited-on object's holders once per scan yet never mixes two scans up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from ipcwatch.scan import ScanConfig, Snapshot, scan
from ipcwatch.scan.waits import blocked_threads
from tests.conftest import Child, Cleanup, needs_root, wait_until

# Imported on first use: the screens an action opens, the shared-memory reader, the help page, the profiler.
LATER = (
    "ipcwatch.tui.screens.hexview",
    "ipcwatch.tui.screens.queue",
    "ipcwatch.tui.screens.semaphore",
    "ipcwatch.tui.screens.signal",
    "ipcwatch.tui.screens.clean",
    "ipcwatch.tui.screens.choose",
    "ipcwatch.tui.screens.help",
    "ipcwatch.shmread",
    "cProfile",
)


def test_the_dashboard_module_leaves_the_screens_a_key_opens_for_later() -> None:
    code = "import sys, ipcwatch.tui.app; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "ipcwatch.tui.screens.dashboard" in loaded  # the check sees what the module imports
    assert [m for m in LATER if m in loaded] == []


def _readers_wakers(snap: Snapshot, readers: list[Child], inode: int) -> list[set[int]]:
    """For each reader, the pids the analysis says could wake its read of the pipe (empty: not seen blocked)."""
    by_pid = {b.pid: b for b in blocked_threads(snap) if b.ref == f"pipe:{inode}"}
    return [{w.pid for w in by_pid[r.pid].wakers} if r.pid in by_pid else set() for r in readers]


@needs_root  # reading other processes' syscall files needs ptrace rights
def test_readers_of_one_pipe_each_name_the_writers_of_their_own_scan(
    spawn: Callable[..., Child], cleanup: Cleanup
) -> None:
    r, w = os.pipe()
    mine = [r, w]  # the test's own ends, closed once the children have inherited them (or at teardown)

    def close() -> None:
        while mine:
            os.close(mine.pop())

    cleanup.add(close)
    inode = os.fstat(r).st_ino
    writer = spawn("import sys; print('READY', flush=True); sys.stdin.read()", pass_fds=[w])
    readers = [spawn(f"import os; print('READY', flush=True); os.read({r}, 1)", pass_fds=[r]) for _ in range(3)]
    close()
    config = ScanConfig(kinds=frozenset({"pipe"}))

    def settled(writers: set[int]) -> Snapshot | None:
        snap = scan(config)
        return snap if _readers_wakers(snap, readers, inode) == [writers] * len(readers) else None

    first = wait_until(lambda: settled({writer.pid}), timeout=20, interval=0.05)
    # A writer the first scan never saw: a fresh process that opens the pipe's write end through /proc.
    late = spawn(
        f"import os; fd = os.open('/proc/{writer.pid}/fd/{w}', os.O_WRONLY); print('READY', flush=True); "
        "import sys; sys.stdin.read()"
    )
    second = wait_until(lambda: settled({writer.pid, late.pid}), timeout=20, interval=0.05)
    assert isinstance(first, Snapshot) and isinstance(second, Snapshot)
    # Each snapshot analysed again, in turn: its own holders, never the other scan's.
    assert _readers_wakers(first, readers, inode) == [{writer.pid}] * 3
    assert _readers_wakers(second, readers, inode) == [{writer.pid, late.pid}] * 3
    assert _readers_wakers(first, readers, inode) == [{writer.pid}] * 3
