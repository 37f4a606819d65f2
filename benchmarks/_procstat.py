"""CPU and memory of a process tree from /proc, and `ipcs -a; ss -xap; lsof -n` re-run every 2 s as `watch` would."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

COMBINATION = "ipcs -a; ss -xap; lsof -n"


def _ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of one process, in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return sum(int(f) for f in fields[11:15])


def cpu_ticks(pid: int) -> int:
    """CPU ticks of a process and its live descendants (waited-for children are in its own cutime/cstime)."""
    total, todo = 0, [pid]
    while todo:
        parent = todo.pop()
        total += _ticks(parent)
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                todo += [int(c) for c in children.read_text().split()]
    return total


def peak_rss_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError):
        hwm = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM:")]
        return int(hwm[0].split()[1]) / 1024 if hwm else None
    return None


class WatchLoop:
    """`watch -n 2 'ipcs -a; ss -xap; lsof -n'` in a thread: run, wait for it, sleep 2 s; CPU from each run's wait4."""

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self.cpu = 0.0
        self.started = self.ended = 0.0
        self._stop = threading.Event()
        self._pid: int | None = None
        self._thread = threading.Thread(target=self._loop, name="watch-loop", daemon=True)

    def _loop(self) -> None:
        devnull = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
        while not self._stop.is_set():
            self._pid = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", COMBINATION], os.environ, file_actions=devnull)
            _, _, usage = os.wait4(self._pid, 0)
            self._pid = None
            self.cpu += usage.ru_utime + usage.ru_stime
            self.ended = time.monotonic()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> float:
        """Let the running command finish (killed after 30 s); CPU % of a core from start to the last run's end."""
        self._stop.set()
        self._thread.join(30)
        if self._pid is not None:
            os.kill(self._pid, signal.SIGKILL)
            self._thread.join(5)
        wall = max(self.ended, time.monotonic() if self._thread.is_alive() else 0) - self.started
        return 100 * self.cpu / wall if wall > 0 else 0.0
