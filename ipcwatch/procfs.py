"""Reading /proc and naming files: the small helpers every layer shares (no textual, no side effects).

Reads go through an open directory fd (/proc/PID or /proc/PID/task), so a pid recycled mid-read fails
(ESRCH/ENOENT) instead of mixing two processes' data. `file_identity` is the one constructor of the identity a
file-backed object (FIFO, POSIX shm/sem/queue file, pipe) carries: actions compare it before they act.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ipcwatch.record import record


def read_at(dir_fd: int, name: str, limit: int = 1 << 20) -> bytes:
    """Read a /proc file relative to an open directory fd, up to `limit` bytes (several reads)."""
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        chunks = []
        total = 0
        while total < limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_once(dir_fd: int, name: str, size: int) -> bytes:
    """One read() of a /proc file the kernel produces in a single call (stat, cmdline, syscall, fdinfo)."""
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def read_process_head(dir_fd: int) -> tuple[bytes, int, bytes]:
    """A process's stat, owner uid and raw cmdline through its /proc/PID directory fd (cmdline b"" if unreadable)."""
    stat = read_once(dir_fd, "stat", 8192)
    uid = os.fstat(dir_fd).st_uid
    try:
        cmdline = read_once(dir_fd, "cmdline", 1 << 16)
    except OSError:
        cmdline = b""
    return stat, uid, cmdline


def file_identity(dev: int, ino: int) -> str:
    """The identity of a file-backed object: `file:DEV:INO` (replacing the file changes it)."""
    return f"file:{dev}:{ino}"


def stat_identity(st: os.stat_result) -> str:
    """`file_identity` of a stat result."""
    return file_identity(st.st_dev, st.st_ino)


def is_file_identity(identity: str) -> bool:
    """Whether `identity` is one `file_identity` made (a file-backed object's)."""
    return identity.startswith("file:")


@record
class MapsEntry:
    """One line of /proc/PID/maps: a mapped range and what is mapped there."""

    start: int
    end: int  # exclusive
    perms: bytes  # e.g. b"rw-s"
    dev: int  # st_dev of the mapped file (0 for anonymous memory)
    inode: int  # its inode; a SysV segment shows its shmid here
    path: bytes  # raw; may end in " (deleted)"; b"" for anonymous memory

    @property
    def shared(self) -> bool:
        """A shared mapping (a private copy-on-write one shares nothing)."""
        return self.perms[3:4] == b"s"

    @property
    def mode(self) -> str:
        """`r`, `w`, `rw`, or `-` for neither."""
        return ("r" if self.perms[0:1] == b"r" else "") + ("w" if self.perms[1:2] == b"w" else "") or "-"


def maps_entry(line: bytes) -> MapsEntry | None:
    """One /proc/PID/maps line parsed; None for a line that does not parse (cut short, garbled). Never raises."""
    parts = line.rstrip(b"\n").split(None, 5)  # the kernel shows a newline in a path as \012
    if len(parts) < 5 or len(parts[1]) != 4:
        return None
    start, _, end = parts[0].partition(b"-")
    major, _, minor = parts[3].partition(b":")
    try:
        numbers = int(start, 16), int(end, 16), int(major, 16), int(minor, 16), int(parts[4])
        dev = os.makedev(numbers[2], numbers[3])
    except (ValueError, OverflowError):
        return None
    return MapsEntry(numbers[0], numbers[1], parts[1], dev, numbers[4], parts[5] if len(parts) > 5 else b"")


def maps_entries(data: bytes) -> Iterator[MapsEntry]:
    """Every line of a /proc/PID/maps text that parses."""
    for line in data.split(b"\n"):
        entry = maps_entry(line)
        if entry is not None:
            yield entry


def mapping_at(data: bytes, address: int) -> MapsEntry | None:
    """The mapping of a /proc/PID/maps text whose range covers `address`."""
    return next((e for e in maps_entries(data) if e.start <= address < e.end), None)
