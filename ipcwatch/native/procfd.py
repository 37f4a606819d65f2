"""The /proc fd-table walk, pipe fills and shared-mapping query: the compiled helper `_procfd` when it was built, else
this pure-Python twin.

`IMPLEMENTATION` says which one is in use ("c" or "python"); both return the same values (see _procfd.c):

    fd_table(fd_dir_fd, file_devs)              # [("s", fd, inode) | ("p", fd, inode, mode)
                                                #  | ("f", fd, dev, ino, mode, is_fifo, nlink, link)
                                                #    (a FIFO, or a file on a device in file_devs, where
                                                #    ANON_DEVS stands for every device of major 0)
                                                #  | ("a", fd, "eventfd" | "signalfd")
                                                #  | ("n", fd, "ipc" | "mnt" | "net", inode), ...]
    pipe_fills(proc_root, [(inode, [(pid, fd), ...]), ...])
                                                # [(queued, capacity) through its first read end that answers
                                                #  | None, ...]
    shared_maps(maps_fd)                        # [(mode, st_dev, inode, path bytes), ...] through PROCMAP_QUERY;
                                                # OSError(ENOTTY or EINVAL) on kernels before 6.11
    ns_keys(proc_root, types)                   # [(pid, ((st_dev, st_ino) | errno, ...), task_links | None)]
                                                # per process: each ns/TYPE of types, task's link count
    read_processes(proc_root, file_devs, maps_mode, read_anon, read_waits=False)
        # [(pid, stat, uid, cmdline, fds, maps, ipc, waits) | (pid, stat errno), ...]: every process under
        # proc_root in one call (see _procfd.c: maps a list, the maps text's SysV and /dev/shm lines as bytes, an
        # errno or None; ipc the ns/ipc inode, -errno or None; with read_anon each ("a", fd, kind) entry gains its
        # fdinfo or None; waits None, or (task's link count, syscall, wchan, sched) with each file's bytes, errno
        # or None: what the blocked-thread sampling reads of a one-thread process asleep)
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
import struct
from collections.abc import Callable, Collection, Iterator, Sequence

from ipcwatch.kinds import Kind
from ipcwatch.native.compiled import compiled
from ipcwatch.procfs import read_once, read_process_head

FdEntry = tuple  # ("s", fd, inode) | ("p", fd, inode, mode) | ("f", fd, dev, ino, mode, is_fifo, nlink, link)
#                  | ("a", fd, "eventfd" | "signalfd"[, fdinfo bytes | None: read_processes with read_anon])
#                  | ("n", fd, "ipc" | "mnt" | "net", inode)

# /proc/PID/fd/N links carry the open mode in their own permission bits: S_IRUSR for read, S_IWUSR for write.
_LINK_MODES = {0o400: "r", 0o200: "w", 0o600: "rw"}
_MAX_FD = 2**31 - 1
_MAX_INODE = 2**64 - 1
_ANON_KINDS = {"anon_inode:[eventfd]": Kind.EVENTFD, "anon_inode:[signalfd]": Kind.SIGNALFD}
_NS_TYPES = ("ipc", "mnt", "net")
ANON_DEVS = 2**64 - 1  # in file_devs: every device of major 0 (tmpfs, mqueue: where /dev/shm and /dev/mqueue live)


def _link_mode(fd_dir: int, name: str) -> str:
    try:
        mode = os.stat(name, dir_fd=fd_dir, follow_symlinks=False).st_mode
    except OSError:
        return "?"
    return _LINK_MODES.get(mode & 0o600, "?")


def _bracketed(link: str, prefix: str) -> int | None:
    """N from "<prefix>N]", or None when the text is not exactly that."""
    if not link.startswith(prefix) or not link.endswith("]"):
        return None
    digits = link[len(prefix) : -1]
    if not (digits.isascii() and digits.isdigit()):
        return None
    value = int(digits)
    return value if value <= _MAX_INODE else None


def py_fd_table(fd_dir: int, file_devs: Collection[int]) -> list[FdEntry]:
    """The pure-Python twin of `_procfd.fd_table`."""
    if fd_dir < 0:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))  # os.listdir would list the working directory
    out: list[FdEntry] = []
    for name in os.listdir(fd_dir):
        if not (name.isascii() and name.isdigit()) or int(name) > _MAX_FD:
            continue
        try:
            link = os.readlink(name, dir_fd=fd_dir)
        except OSError:
            continue  # fd closed since listdir
        if link[:1] == "s":
            inode = _bracketed(link, "socket:[")
            if inode is not None:
                out.append(("s", int(name), inode))
        elif link[:1] == "p":
            inode = _bracketed(link, "pipe:[")
            if inode is not None:
                out.append(("p", int(name), inode, _link_mode(fd_dir, name)))
        elif link[:1] == "a":
            anon = _ANON_KINDS.get(link)
            if anon is not None:
                out.append(("a", int(name), anon))
        elif link[:1] == "/":
            try:
                st = os.stat(name, dir_fd=fd_dir)
            except OSError:
                continue
            is_fifo = stat_mod.S_ISFIFO(st.st_mode)
            if is_fifo or st.st_dev in file_devs or (ANON_DEVS in file_devs and os.major(st.st_dev) == 0):
                mode = _link_mode(fd_dir, name)
                out.append(("f", int(name), st.st_dev, st.st_ino, mode, is_fifo, st.st_nlink, link))
        else:
            for ns_type in _NS_TYPES:
                inode = _bracketed(link, f"{ns_type}:[")
                if inode is not None:
                    out.append(("n", int(name), ns_type, inode))
                    break
    return out


def _fill_one(proc_root: str, pid: int, fd: int, inode: int) -> tuple[int, int] | None:
    import fcntl  # noqa: PLC0415 - the twins' modules load when a twin runs: the compiled helper needs none
    import termios  # noqa: PLC0415

    try:
        path_fd = os.open(f"{proc_root}/{pid}/fd/{fd}", os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(path_fd)
        if not stat_mod.S_ISFIFO(st.st_mode) or st.st_ino != inode:
            return None  # checked before any real open: a recycled fd number never opens a device
        read_fd = os.open(f"/proc/self/fd/{path_fd}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    finally:
        os.close(path_fd)
    try:
        queued = struct.unpack("i", fcntl.ioctl(read_fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        return queued, fcntl.fcntl(read_fd, fcntl.F_GETPIPE_SZ)
    except OSError:
        return None
    finally:
        os.close(read_fd)


def py_pipe_fills(
    proc_root: str, requests: Sequence[tuple[int, Sequence[tuple[int, int]]]]
) -> list[tuple[int, int] | None]:
    """The pure-Python twin of `_procfd.pipe_fills`."""
    out: list[tuple[int, int] | None] = []
    for inode, ends in requests:
        fill = None
        if 0 <= inode <= _MAX_INODE:
            fill = next((f for pid, fd in ends if fd >= 0 and (f := _fill_one(proc_root, pid, fd, inode))), None)
        out.append(fill)
    return out


# PROCMAP_QUERY (Linux 6.11+): the next shared, file-backed mapping at or after an address; struct procmap_query
# is 104 bytes.
_PROCMAP_QUERY = (3 << 30) | (104 << 16) | (ord("f") << 8) | 17
_QUERY = struct.Struct("=9Q4I2Q")
_VMA_READ, _VMA_WRITE, _VMA_SHARED, _NEXT_VMA, _FILE_BACKED = 0x1, 0x2, 0x8, 0x10, 0x20

SharedMap = tuple[str, int, int, bytes]  # (mode, st_dev, inode, path)


def py_shared_maps(maps_fd: int) -> list[SharedMap]:
    """The pure-Python twin of `_procfd.shared_maps`."""
    import ctypes  # noqa: PLC0415 - the twins' modules load when a twin runs
    import fcntl  # noqa: PLC0415

    out = []
    query = bytearray(_QUERY.size)
    name_buf = ctypes.create_string_buffer(4096)  # per call: scans may run in several threads at once
    addr = 0
    while True:
        _QUERY.pack_into(
            query, 0, _QUERY.size, _NEXT_VMA | _VMA_SHARED | _FILE_BACKED, addr, 0, 0, 0, 0, 0, 0, 0, 0,
            len(name_buf), 0, ctypes.addressof(name_buf), 0,
        )
        try:
            fcntl.ioctl(maps_fd, _PROCMAP_QUERY, query)
        except OSError as exc:
            if exc.errno == errno.ENOENT:  # no mapping after addr
                return out
            raise
        _, _, _, _, end, flags, _, _, inode, major, minor, name_size, _, _, _ = _QUERY.unpack(query)
        mode = ("r" if flags & _VMA_READ else "") + ("w" if flags & _VMA_WRITE else "")
        out.append((mode or "-", os.makedev(major, minor), inode, name_buf.raw[: max(name_size - 1, 0)]))
        if end <= addr:
            raise OSError(errno.EIO, "PROCMAP_QUERY did not advance")
        addr = end


# read_processes: (pid, stat, uid, cmdline, fds, maps, ipc) | (pid, errno) when its stat could not be read
ProcessRecord = tuple

MAPS_NONE, MAPS_QUERY, MAPS_FALLBACK, MAPS_TEXT = 0, 1, 2, 3  # read_processes' maps_mode
_TEXT_CAP = 64 << 20  # the maps text, when PROCMAP_QUERY is refused
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _errno_of(path: str, dir_fd: int, flags: int, read: Callable[[int], list | bytes]) -> list | bytes | int:
    """read(fd of path under dir_fd), or the errno of the OSError opening or reading it raised."""
    try:
        fd = os.open(path, flags | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        return exc.errno or errno.EIO
    try:
        return read(fd)
    except OSError as exc:
        return exc.errno or errno.EIO
    finally:
        os.close(fd)


def _read_text(fd: int) -> bytes:
    """The maps text's lines that name a SysV segment or a /dev/shm file, joined by newlines."""
    chunks: list[bytes] = []
    total = 0
    while total < _TEXT_CAP and (chunk := os.read(fd, min(65536, _TEXT_CAP - total))):
        chunks.append(chunk)
        total += len(chunk)
    lines = b"".join(chunks).split(b"\n")
    return b"\n".join([line for line in lines if b"/SYSV" in line or b"/dev/shm/" in line])


def _with_info(dir_fd: int, entry: FdEntry) -> FdEntry:
    """An ("a", fd, kind) entry with its fdinfo text (None when it cannot be read) appended."""
    try:
        fd = os.open(f"fdinfo/{entry[1]}", os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return (*entry, None)
    try:
        return (*entry, os.read(fd, 4096))
    except OSError:
        return (*entry, None)
    finally:
        os.close(fd)


def _read_one(
    pid: int, dir_fd: int, file_devs: Collection[int], maps_mode: int, read_anon: bool, read_waits: bool
) -> tuple:
    """(the record of one process through its /proc/PID directory fd, the maps_mode for the next one)."""
    try:
        stat, uid, cmdline = read_process_head(dir_fd)
    except OSError as exc:
        return (pid, exc.errno or errno.EIO), maps_mode
    fds = _errno_of("fd", dir_fd, os.O_RDONLY | os.O_DIRECTORY, lambda fd: py_fd_table(fd, file_devs))
    if read_anon and isinstance(fds, list):
        fds = [_with_info(dir_fd, e) if e[0] == "a" else e for e in fds]
    maps: list | bytes | int | None = None
    sysv = False
    if maps_mode in (MAPS_QUERY, MAPS_FALLBACK):
        maps = _errno_of("maps", dir_fd, os.O_RDONLY, py_shared_maps)
        if maps_mode == MAPS_FALLBACK and maps in (errno.ENOTTY, errno.EINVAL):
            maps_mode = MAPS_TEXT  # a kernel without PROCMAP_QUERY: the text, from now on
        sysv = isinstance(maps, list) and any(m[3].startswith(b"/SYSV") for m in maps)
    if maps_mode == MAPS_TEXT:
        maps = _errno_of("maps", dir_fd, os.O_RDONLY, _read_text)
        sysv = isinstance(maps, bytes) and b"/SYSV" in maps
    ipc = None
    if sysv:  # a SysV shmid is only unique inside its IPC namespace
        try:
            ipc = os.stat("ns/ipc", dir_fd=dir_fd).st_ino
        except OSError as exc:
            ipc = -(exc.errno or errno.EIO)
    return (pid, stat, uid, cmdline, fds, maps, ipc, _read_waits(dir_fd, stat) if read_waits else None), maps_mode


def _read_once_or_errno(dir_fd: int, name: str, size: int) -> bytes | int:
    try:
        return read_once(dir_fd, name, size)
    except OSError as exc:
        return exc.errno or errno.EIO


def _read_waits(dir_fd: int, stat: bytes) -> tuple | None:
    """(task's link count, syscall, wchan, sched) as read_processes reads them with read_waits."""
    try:
        nlink = os.stat("task", dir_fd=dir_fd).st_nlink
    except OSError:
        return None
    close = stat.rfind(b")")
    state = stat[close + 2 : close + 3] if close >= 0 and stat[close + 1 : close + 2] == b" " else b""
    if nlink > 3 or state not in (b"S", b"D"):
        return (nlink, None, None, None)
    syscall = _read_once_or_errno(dir_fd, "syscall", 512)
    if isinstance(syscall, int) or syscall.startswith(b"running"):
        return (nlink, syscall, None, None)
    return (nlink, syscall, _read_once_or_errno(dir_fd, "wchan", 256), _read_once_or_errno(dir_fd, "sched", 1 << 16))


def py_read_processes(
    proc_root: str, file_devs: Collection[int], maps_mode: int, read_anon: bool, read_waits: bool = False
) -> list[ProcessRecord]:
    """The pure-Python twin of `_procfd.read_processes`."""
    if maps_mode not in (MAPS_NONE, MAPS_QUERY, MAPS_FALLBACK, MAPS_TEXT):
        raise ValueError("maps_mode must be 0, 1, 2 or 3")
    out: list[ProcessRecord] = []
    for pid, dir_fd in _each_process(proc_root):
        record, maps_mode = _read_one(pid, dir_fd, file_devs, maps_mode, read_anon, read_waits)
        out.append(record)
    return out


def _each_process(proc_root: str) -> Iterator[tuple[int, int]]:
    """(pid, its open directory fd) for every process under proc_root, in directory order, one open at a time
    (closed when the caller asks for the next); OSError when proc_root cannot be read."""
    root_fd = os.open(proc_root, _DIR_FLAGS)
    try:
        for name in os.listdir(root_fd):
            if not (name.isascii() and name.isdigit()) or len(name) > 18:
                continue
            try:
                dir_fd = os.open(name, _DIR_FLAGS, dir_fd=root_fd)
            except OSError:
                continue  # gone since the listing
            try:
                yield int(name), dir_fd
            finally:
                os.close(dir_fd)
    finally:
        os.close(root_fd)


def ns_keys_of(pid: int, dir_fd: int, types: tuple[str, ...]) -> tuple:
    """One process's entry of `ns_keys`, through its open /proc/PID directory fd."""
    keys: list[tuple[int, int] | int] = []
    for ns_type in types:
        try:
            st = os.stat(f"ns/{ns_type}", dir_fd=dir_fd)
        except OSError as exc:
            keys.append(exc.errno or errno.EIO)
        else:
            keys.append((st.st_dev, st.st_ino))
    try:
        links: int | None = os.stat("task", dir_fd=dir_fd).st_nlink
    except OSError:
        links = None
    return (pid, tuple(keys), links)


def py_ns_keys(proc_root: str, types: tuple[str, ...]) -> list[tuple]:
    """The pure-Python twin of `_procfd.ns_keys`."""
    if len(types) > 8 or not all(isinstance(t, str) and len(t) <= 16 and "/" not in t for t in types):
        raise ValueError("types must be at most 8 namespace type names")
    return [ns_keys_of(pid, dir_fd, types) for pid, dir_fd in _each_process(proc_root)]


_c = compiled("_procfd")
fd_table = _c.fd_table if _c else py_fd_table
pipe_fills = _c.pipe_fills if _c else py_pipe_fills
shared_maps = _c.shared_maps if _c else py_shared_maps
read_processes = _c.read_processes if _c else py_read_processes
ns_keys = _c.ns_keys if _c else py_ns_keys
IMPLEMENTATION = "c" if _c else "python"

__all__ = [
    "IMPLEMENTATION",
    "FdEntry",
    "MAPS_FALLBACK",
    "MAPS_NONE",
    "MAPS_QUERY",
    "MAPS_TEXT",
    "ProcessRecord",
    "SharedMap",
    "fd_table",
    "pipe_fills",
    "ns_keys",
    "ns_keys_of",
    "py_fd_table",
    "py_ns_keys",
    "py_pipe_fills",
    "py_read_processes",
    "py_shared_maps",
    "read_processes",
    "shared_maps",
]
