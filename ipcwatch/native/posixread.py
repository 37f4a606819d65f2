"""The scan's file reads, one call per directory (/dev/shm, /dev/mqueue) or walk (FIFO and socket files): the
compiled helper `_posixread` when it was built, else this pure-Python twin.

`IMPLEMENTATION` says which one is in use ("c" or "python"); both return the same values (see _posixread.c):

    list_files(dir_fd)                        # ([(name, Lstat), ...], [(name, errno), ...])
    read_files(dir_fd, [(name, st_dev, st_ino), ...], nbytes, mq_attrs)
        # [(first bytes, (flags, maxmsg, msgsize, curmsgs) | None) | errno | NOT_REGULAR | REPLACED, ...]
    special_files(roots, depth, budget)       # ([(path, Lstat) of a FIFO or socket | (root, errno), ...], exhausted)

An entry's lstat is an `Lstat`: only the fields the scan uses, named and filled as os.stat_result's (a compact
tuple, not an os.stat_result: ~250 bytes an entry instead of ~640).
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
from collections.abc import Sequence

from ipcwatch.native.compiled import compiled
from ipcwatch.record import NamedTuple

NOT_REGULAR = -1  # read_files: the name is not a regular file
REPLACED = -2  # read_files: another file than the one listed (dev or inode differ)
SAFE_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Lstat(NamedTuple):
    """The fields of an lstat the scan uses, as os.stat_result names and fills them (the compiled helper returns
    its own struct sequence `_posixread.Lstat`: the same fields, in this order)."""

    st_mode: int
    st_ino: int
    st_dev: int
    st_uid: int
    st_gid: int
    st_size: int
    st_blocks: int
    st_mtime: float
    st_ctime: float


def _lstat_of(st: os.stat_result) -> Lstat:
    """The `Lstat` of an os.stat_result."""
    return Lstat(
        st.st_mode, st.st_ino, st.st_dev, st.st_uid, st.st_gid, st.st_size, st.st_blocks, st.st_mtime, st.st_ctime
    )


Listing = tuple[list[tuple[str, Lstat]], list[tuple[str, int]]]
FileRead = tuple[bytes, "tuple[int, int, int, int] | None"] | int


def py_list_files(dir_fd: int) -> Listing:
    """The pure-Python twin of `_posixread.list_files`."""
    entries, failed = [], []
    os.lseek(dir_fd, 0, os.SEEK_SET)  # from its start (os.listdir rewinds after, not before)
    for name in os.listdir(dir_fd):
        try:
            entries.append((name, _lstat_of(os.stat(name, dir_fd=dir_fd, follow_symlinks=False))))
        except FileNotFoundError:
            continue
        except OSError as exc:
            failed.append((name, exc.errno or errno.EIO))
    return entries, failed


def _read_one(dir_fd: int, name: str, dev: int, ino: int, nbytes: int, mq_attrs: bool) -> FileRead:
    try:
        fd = os.open(name, SAFE_OPEN, dir_fd=dir_fd)
    except OSError as exc:
        return exc.errno or errno.EIO
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            return NOT_REGULAR
        if (st.st_dev, st.st_ino) != (dev, ino):
            return REPLACED
        data = os.pread(fd, nbytes, 0)
        if not mq_attrs:
            return data, None
        from ipcwatch.libc_read import mq_getattr  # ctypes: only the twin needs it

        return data, mq_getattr(fd)
    except OSError as exc:
        return exc.errno or errno.EIO
    finally:
        os.close(fd)


def py_read_files(dir_fd: int, items: Sequence[tuple[str, int, int]], nbytes: int, mq_attrs: bool) -> list[FileRead]:
    """The pure-Python twin of `_posixread.read_files`."""
    return [_read_one(dir_fd, name, dev, ino, nbytes, mq_attrs) for name, dev, ino in items]


def py_special_files(roots: Sequence[str], depth: int, budget: int) -> tuple[list[tuple[str, Lstat | int]], bool]:
    """The pure-Python twin of `_posixread.special_files`."""
    found: list[tuple[str, Lstat | int]] = []
    seen_dirs: set[tuple[int, int]] = set()
    stack = [(root, 0) for root in roots]
    while stack and budget > 0:
        path, level = stack.pop()
        try:
            st = os.stat(path)  # a root such as /var/run may be a link to /run: visit each directory once
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(path))
        except FileNotFoundError:
            continue
        except OSError as exc:
            if level == 0:
                found.append((path, exc.errno or errno.EIO))
            continue
        for entry in entries:
            budget -= 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    if level + 1 < depth:
                        stack.append((entry.path, level + 1))
                elif not entry.is_file(follow_symlinks=False) and not entry.is_symlink():
                    est = entry.stat(follow_symlinks=False)  # d_type said FIFO, socket or device
                    if stat_mod.S_ISFIFO(est.st_mode) or stat_mod.S_ISSOCK(est.st_mode):
                        found.append((entry.path, _lstat_of(est)))
            except OSError:
                continue
    return found, budget <= 0


_c = compiled("_posixread")
list_files = _c.list_files if _c else py_list_files
read_files = _c.read_files if _c else py_read_files
special_files = _c.special_files if _c else py_special_files
IMPLEMENTATION = "c" if _c else "python"

__all__ = [
    "IMPLEMENTATION",
    "NOT_REGULAR",
    "REPLACED",
    "FileRead",
    "Listing",
    "Lstat",
    "list_files",
    "py_list_files",
    "py_read_files",
    "py_special_files",
    "read_files",
    "special_files",
]
