"""/proc/PID as the pass's visitors read it: what the pass read already, and the rest through the directory, opened
again on first use and only while its start time says it is still the process the pass read."""

from __future__ import annotations

import errno
import os

from ipcwatch.native.procfd import FdEntry
from ipcwatch.procfs import read_once
from ipcwatch.scan.parsers import parse_stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_WAIT_FILES = ("syscall", "wchan", "sched")  # read_processes' waits, after task's link count (one-thread names)


class ProcDir:
    """One process of the pass. `waits` is what read_processes read for the blocked-thread sampling (None, or
    task's link count and the syscall, wchan and sched files, each bytes, an errno or None: not read); `fds` its fd
    entries, given when its syscall file was read with them (a wait on an fd is then named from the same moment).
    Anything else is read through the /proc/PID directory, opened on first use: `fd` raises ProcessLookupError
    (and sets `lost`) when the process is gone or its pid was recycled since the pass."""

    __slots__ = ("pid", "start", "lost", "_root_fd", "_fd", "_waits", "_fds")

    def __init__(
        self, root_fd: int, pid: int, start: int, waits: tuple | None = None, fds: list[FdEntry] | None = None
    ) -> None:
        self.pid, self.start, self.lost = pid, start, False
        self._root_fd, self._fd = root_fd, -1
        self._waits, self._fds = waits, fds

    @property
    def fd(self) -> int:
        if self._fd < 0:
            if self.lost:
                raise ProcessLookupError(errno.ESRCH, f"process {self.pid} is gone")
            try:
                fd = os.open(str(self.pid), _DIR_FLAGS, dir_fd=self._root_fd)
            except OSError:
                fd = -1
            if fd < 0 or started_at(fd) != self.start:
                if fd >= 0:
                    os.close(fd)
                self.lost = True
                raise ProcessLookupError(errno.ESRCH, f"process {self.pid} is gone")
            self._fd = fd
        return self._fd

    def read(self, name: str, size: int) -> bytes:
        """One read of a file under the directory (`read_once`), or what the pass read of it."""
        got = self._waits[_WAIT_FILES.index(name) + 1] if self._waits and name in _WAIT_FILES else None
        if got is None:
            return read_once(self.fd, name, size)
        if isinstance(got, int):
            raise OSError(got, os.strerror(got))  # PermissionError for EACCES, as the read itself would raise
        return got

    def task_links(self) -> int:
        """st_nlink of task: 2 + its threads."""
        return self._waits[0] if self._waits else os.stat("task", dir_fd=self.fd).st_nlink

    def fd_entry(self, fd: int) -> FdEntry | None:
        """The pass's entry for one fd (None: not given, or not in the table the pass kept)."""
        for entry in self._fds or ():  # asked once or twice per process: no index built
            if entry[1] == fd:
                return entry
        return None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def started_at(dir_fd: int) -> int | None:
    """The start time (clock ticks after boot) of the process behind an open /proc/PID directory fd."""
    try:
        parsed = parse_stat(read_once(dir_fd, "stat", 8192))
    except OSError:
        return None  # exited since the pass read it
    return parsed[3] if parsed is not None else None
