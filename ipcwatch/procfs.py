"""Reading /proc and naming files: the small helpers every layer shares (no textual, no side effects).

Reads go through an open directory fd (/proc/PID or /proc/PID/task), so a pid recycled mid-read fails
(ESRCH/ENOENT) instead of mixing two processes' data. `file_identity` is the one constructor of the identity a
file-backed object (FIFO, POSIX shm/sem/queue file, pipe) carries: actions compare it before they act.
"""

from __future__ import annotations

import os


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


def file_identity(dev: int, ino: int) -> str:
    """The identity of a file-backed object: `file:DEV:INO` (replacing the file changes it)."""
    return f"file:{dev}:{ino}"


def stat_identity(st: os.stat_result) -> str:
    """`file_identity` of a stat result."""
    return file_identity(st.st_dev, st.st_ino)


def is_file_identity(identity: str) -> bool:
    """Whether `identity` is one `file_identity` made (a file-backed object's)."""
    return identity.startswith("file:")
