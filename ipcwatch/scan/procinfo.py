"""Context of one process for the dashboard's process pane: psutil's CPU, memory, threads, cwd, exe, user, nice and
state, plus its signal dispositions, read only while the pid is still the process the scan saw.

psutil reads by pid, so a `/proc/PID` directory fd is opened first: the start time read through it must match
the scan's, and it must still be readable after psutil's answers (a pid cannot be reused while its process
exists), otherwise everything is dropped.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import psutil

from ipcwatch.record import record
from ipcwatch.scan.dispositions import Dispositions, dispositions_at

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import TypeVar
    T = TypeVar("T")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_PSUTIL_ERRORS = (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError)


@record
class ProcessDetails:
    pid: int
    start: int  # clock ticks since boot: the identity that was checked
    status: str  # psutil's word: sleeping, running, stopped, zombie, disk-sleep, ...
    started: float  # seconds since the epoch
    threads: int
    rss: int | None
    cpu_percent: float | None  # since the previous read of the same probe; None on the first
    cwd: str | None
    exe: str | None
    username: str | None
    nice: int | None
    signals: Dispositions

    @property
    def identity(self) -> str:
        return f"{self.pid}@{self.start}"


class ProcessProbe:
    """psutil's handle on one process (pid@start), kept between reads so that CPU % covers the time between
    them. Safe to call from several threads; `read` is blocking and belongs in a worker."""

    def __init__(self, pid: int, start: int, proc_root: str = "/proc") -> None:
        self.pid = pid
        self.start = start
        self.proc_root = proc_root
        self._lock = threading.Lock()
        self._proc: psutil.Process | None = None

    @property
    def identity(self) -> str:
        return f"{self.pid}@{self.start}"

    def read(self) -> ProcessDetails | None:
        """The details, or None once the pid is gone or belongs to another process."""
        with self._lock:
            try:
                dir_fd = os.open(f"{self.proc_root}/{self.pid}", _DIR_FLAGS)
            except OSError:
                return None
            try:
                signals = dispositions_at(self.pid, dir_fd, self.start)  # the identity check, before psutil
                details = self._psutil(signals)
                dispositions_at(self.pid, dir_fd, self.start)  # ... and after: still the same process
            except OSError:
                return None
            finally:
                os.close(dir_fd)
            return details

    def _psutil(self, signals: Dispositions) -> ProcessDetails | None:
        first = self._proc is None
        try:
            if self._proc is None:
                self._proc = psutil.Process(self.pid)
            proc = self._proc
            with proc.oneshot():
                status, started, threads = proc.status(), proc.create_time(), proc.num_threads()
                cpu = proc.cpu_percent(interval=None)
                rss = _maybe(lambda: proc.memory_info().rss)
                cwd, exe, username, nice = _maybe(proc.cwd), _maybe(proc.exe), _maybe(proc.username), _maybe(proc.nice)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied, OSError):
            return None
        return ProcessDetails(
            pid=self.pid, start=self.start, status=status, started=started, threads=threads, rss=rss,
            cpu_percent=None if first else cpu, cwd=cwd or None, exe=exe or None, username=username, nice=nice,
            signals=signals,
        )


def _maybe(call: Callable[[], T]) -> T | None:
    try:
        return call()
    except _PSUTIL_ERRORS:
        return None
