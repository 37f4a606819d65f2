"""What the dashboard's first frame waits for: only the modules it shows (the screens a key opens come later), the All
view's rows and every view's counts (the other views' rows are built after it, the same as when built at once), and
a blocked-thread analysis that finds each waited-on object's holders once per scan yet never mixes two scans up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from ipcwatch.scan import ScanConfig, Snapshot, scan
from ipcwatch.scan.waits import blocked_threads
from ipcwatch.tui.widgets.rows import ALL, BLOCKED, OTHER_VIEWS, PROCESSES, VIEW_IDS, Rows, build_rows
from tests.conftest import Child, Cleanup, needs_root, wait_until
from tests.tui_fixtures import namespaced_snapshot, recorded_snapshot, synthetic_snapshot

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


def shown(rows: Rows) -> dict[str, list[tuple[str, tuple[str, ...], bool, bool, tuple[str, ...]]]]:
    """What every view shows: per row, its key, cells, stale and alert marks, and what `ns:` matches."""
    return {v: [(r.key, r.cells, r.stale, r.alert, r.scope) for r in rows.view_rows(v)] for v in VIEW_IDS}


def counted(rows: Rows) -> dict[str, tuple[int, int]]:
    """Per view, its rows and the stale (blocked threads: flagged) ones, counted on the rows themselves."""
    counts = {}
    for view_id in VIEW_IDS:
        rows_of = rows.view_rows(view_id)
        marked = 0 if view_id == PROCESSES else sum(r.alert if view_id == BLOCKED else r.stale for r in rows_of)
        counts[view_id] = (len(rows_of), marked)
    return counts


@pytest.mark.parametrize("make", [recorded_snapshot, namespaced_snapshot, lambda: synthetic_snapshot(900, 30)])
def test_rows_left_for_after_the_first_frame_are_those_built_at_once_and_counted_before(
    make: Callable[[], Snapshot],
) -> None:
    snapshot = make()
    at_once, deferred = build_rows(snapshot), build_rows(snapshot, defer=True)
    assert deferred.built(ALL) and not any(deferred.built(v) for v in OTHER_VIEWS)
    assert all(deferred.others.get(v) is None for v in OTHER_VIEWS)  # not built behind the first frame's back
    assert deferred.counts == at_once.counts == counted(at_once)  # the first frame's counts are the settled ones
    assert any(n for n, _ in at_once.counts.values()) and any(m for _, m in at_once.counts.values())
    first = deferred.view_rows(ALL)
    assert shown(deferred) == shown(at_once)  # asking for another view builds the rest
    assert all(deferred.built(v) for v in VIEW_IDS) and deferred.view_rows(ALL) is first
    assert deferred.all_by_ref.keys() == at_once.all_by_ref.keys() and deferred.blocked == at_once.blocked


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
