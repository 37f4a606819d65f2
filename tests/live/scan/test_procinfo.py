"""Process context through psutil: the right process, its signal state, and None once the pid no longer matches."""

from __future__ import annotations

import os
import signal
import sys
import time

from ipcwatch.scan.procinfo import ProcessProbe
from ipcwatch.scan.sigset import mask_names
from tests.conftest import scan_kinds, wait_until

BUSY = """
import signal, sys, threading
signal.signal(signal.SIGTERM, signal.SIG_IGN)
threading.Thread(target=sys.stdin.read, daemon=True).start()
print("READY", flush=True)
while True:
    pass
"""


def test_context_of_a_live_child(spawn):
    child = spawn(BUSY)
    proc = scan_kinds("pipe").processes[child.pid]
    probe = ProcessProbe(child.pid, proc.start)
    first = probe.read()
    assert first is not None and first.cpu_percent is None  # one sample gives no rate yet
    assert first.identity == proc.identity and first.threads == 2 and first.rss and first.rss > 0
    assert first.cwd == os.getcwd() and first.exe == os.path.realpath(sys.executable)
    assert first.username == "root" if os.geteuid() == 0 else first.username
    assert first.nice == os.getpriority(os.PRIO_PROCESS, child.pid) and first.status in ("running", "sleeping")
    assert abs(first.started - time.time()) < 60
    assert "SIGTERM" in mask_names(first.signals.ignored) and len(first.signals.threads) == 2
    time.sleep(0.3)
    second = probe.read()
    assert second is not None and second.cpu_percent is not None and second.cpu_percent > 10  # it spins


def test_recycled_or_gone_pid_gives_none(spawn):
    child = spawn('import sys\nprint("READY", flush=True)\nsys.stdin.read()')
    start = scan_kinds("pipe").processes[child.pid].start
    assert ProcessProbe(child.pid, start).read() is not None
    assert ProcessProbe(child.pid, start + 1000).read() is None  # same pid, another start time: recycled
    child.proc.send_signal(signal.SIGSTOP)
    stopped = wait_until(lambda: (d := ProcessProbe(child.pid, start).read()) and d.signals.state == "T" and d)
    assert stopped.status == "stopped"  # type: ignore[union-attr]
    child.stop()
    assert ProcessProbe(child.pid, start).read() is None
