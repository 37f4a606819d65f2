"""Process details through psutil: right process, and None for a pid that no longer matches."""

from __future__ import annotations

import os

from ipcwatch.scan.procinfo import process_details
from tests.conftest import scan_kinds


def test_details_of_a_live_child(spawn):
    child = spawn('import sys\nprint("READY", flush=True)\nsys.stdin.read()')
    proc = scan_kinds("pipe").processes[child.pid]
    details = process_details(child.pid, proc.start)
    assert details is not None
    assert details.pid == child.pid and details.threads >= 1 and details.rss > 0
    assert details.cwd == os.getcwd() and details.status in ("sleeping", "running")


def test_recycled_or_gone_pid_gives_none(spawn):
    child = spawn('import sys\nprint("READY", flush=True)\nsys.stdin.read()')
    start = scan_kinds("pipe").processes[child.pid].start
    assert process_details(child.pid, start) is not None
    assert process_details(child.pid, start + 1000) is None  # same pid, another start time: recycled
    child.stop()
    assert process_details(child.pid, start) is None
