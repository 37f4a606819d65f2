"""Reading one thread through its process directory fd: wchan, argument memory, fds, when it last ran."""

from __future__ import annotations

import os
import stat as stat_mod
import struct
import time

from ipcwatch.kinds import ANON_INODE_KINDS, Kind
from ipcwatch.procfs import read_once, stat_identity
from ipcwatch.record import NamedTuple
from ipcwatch.scan import syscalls as sc
from ipcwatch.scan.anon import anon_ref
from ipcwatch.scan.parsers import parse_fdinfo
from ipcwatch.scan.procdir import ProcDir
from ipcwatch.scan.sigset import mask_names, parse_mask
from ipcwatch.scan.waits.records import MAX_PATH, PAGE_SIZE, OtherKind

# Where each timed call keeps its timeout: (argument, form). ms: an int of milliseconds (-1: none); timespec and
# timeval: a pointer to a relative time (NULL: none); deadline: a pointer to an absolute CLOCK_REALTIME timespec.
_TIMEOUT_ARGS = {
    "poll": (2, "ms"),
    "epoll_wait": (3, "ms"),
    "epoll_pwait": (3, "ms"),
    "epoll_pwait2": (3, "timespec"),
    "ppoll": (2, "timespec"),
    "pselect6": (4, "timespec"),
    "select": (4, "timeval"),
    "rt_sigtimedwait": (2, "timespec"),
    "semtimedop": (3, "timespec"),
    "mq_timedreceive": (4, "deadline"),
    "mq_timedsend": (4, "deadline"),
}


# A NamedTuple, not a record: defined at import in a third of the time (every CLI command's start-up).
class FileRef(NamedTuple):
    kind: Kind | OtherKind  # pipe, fifo, eventfd, signalfd; socket, file
    match: str
    inode: int
    label: str | None
    signals: tuple[str, ...] = ()  # a signalfd's mask


class ThreadReader:
    """One thread being decoded: names under `prefix` (its task/TID/ dir, or "" for a one-thread process)
    relative to the process's directory, its arguments, and a lazily opened /proc/PID/mem."""

    def __init__(
        self, proc_dir: ProcDir, prefix: str, state: str, syscall: str, args: tuple[int, ...], pid: int = 0
    ) -> None:
        self.proc_dir, self.prefix, self.state, self.pid = proc_dir, prefix, state, pid
        self.syscall, self.args = syscall, args
        self._mem: int | None = None
        self._wchan: str | None | bool = False

    @property
    def dir_fd(self) -> int:
        """The /proc/PID directory fd (opened on first use: ProcessLookupError when the process is gone)."""
        return self.proc_dir.fd

    def close(self) -> None:
        if self._mem is not None:
            os.close(self._mem)

    def wchan(self) -> str | None:
        if self._wchan is False:
            try:
                text = self.proc_dir.read(f"{self.prefix}wchan", 256).decode("ascii", "replace").strip()
            except OSError:
                text = ""
            self._wchan = text if text and text != "0" else None
        return self._wchan  # type: ignore[return-value]

    def mem(self, address: int, size: int) -> bytes:
        if not 0 < address < 1 << 63 or size <= 0:
            return b""
        if self._mem is None:
            self._mem = os.open("mem", os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dir_fd)
        return os.pread(self._mem, size, address)

    def cstring(self, address: int) -> bytes:
        """A NUL-terminated string, read page by page (the next page may not be mapped)."""
        out = b""
        while len(out) < MAX_PATH:
            where = address + len(out)
            chunk = self.mem(where, min(MAX_PATH - len(out), PAGE_SIZE - where % PAGE_SIZE))
            if not chunk:
                break
            end = chunk.find(b"\0")
            if end >= 0:
                return out + chunk[:end]
            out += chunk
        return out

    def timeout(self) -> float | None:
        """Seconds the call was given to wait (what is left, for an absolute deadline); None: no timeout."""
        spec = _TIMEOUT_ARGS.get(self.syscall)
        if spec is None:
            return None
        arg, form = spec
        value = self.args[arg]
        if form == "ms":
            ms = sc.as_int32(value)
            return None if ms < 0 else ms / 1000
        raw = self.mem(value, 16) if value else b""  # NULL: no timeout
        if len(raw) < 16:
            return None
        sec, frac = struct.unpack("=qq", raw)
        seconds = sec + frac / (1e6 if form == "timeval" else 1e9)
        if form == "deadline":
            return max(0.0, seconds - time.time())
        return seconds if sec >= 0 else None

    def file(self, fd: int) -> FileRef | str:
        """What fd refers to, or a note saying why it is not an IPC object."""
        entry = self.proc_dir.fd_entry(fd)  # a pipe or a socket, as the pass read the fd table
        if entry is not None and entry[0] in ("p", "s"):
            kind, ref = (Kind.PIPE, Kind.PIPE) if entry[0] == "p" else (OtherKind.SOCKET, Kind.UNIX)
            return FileRef(kind, f"{ref}:{entry[2]}", entry[2], None)
        name = f"fd/{fd}"
        try:
            link = os.readlink(name, dir_fd=self.dir_fd) if fd >= 0 else ""
        except ProcessLookupError:
            raise
        except OSError:
            link = ""
        if not link:
            return f"fd {fd} is not open"
        for prefix, kind, ref in (("pipe:[", Kind.PIPE, Kind.PIPE), ("socket:[", OtherKind.SOCKET, Kind.UNIX)):
            if link.startswith(prefix) and link.endswith("]") and link[len(prefix) : -1].isdigit():
                inode = int(link[len(prefix) : -1])
                return FileRef(kind, f"{ref}:{inode}", inode, None)
        if link.startswith("anon_inode:[") and link[12:-1] in ANON_INODE_KINDS:
            kind = Kind(link[12:-1])
            info = parse_fdinfo(read_once(self.dir_fd, f"fdinfo/{fd}", 4096))
            mask = parse_mask(info.get("sigmask", "")) if kind == Kind.SIGNALFD else None
            inode = os.stat(name, dir_fd=self.dir_fd).st_ino  # an anon inode: never a device or a network file
            return FileRef(kind, anon_ref(self.pid, fd, kind, info), inode, None, tuple(mask_names(mask or 0)))
        if link.startswith("/") and self.state == "S":
            # The open file itself (stat never opens it). Waits on FIFOs and queues are interruptible (S); a
            # thread in D may sit on a hung network filesystem, where even a stat could hang: never stat those.
            st = os.stat(name, dir_fd=self.dir_fd)
            if stat_mod.S_ISFIFO(st.st_mode) or stat_mod.S_ISREG(st.st_mode):
                kind = Kind.FIFO if stat_mod.S_ISFIFO(st.st_mode) else OtherKind.FILE
                return FileRef(kind, stat_identity(st), st.st_ino, link)
        return f"fd {fd} is {link}"


def scheduler_now() -> tuple[float, float] | None:
    """(our thread's `se.exec_start` in ms, the wall clock) read together: the scheduler clock's offset."""
    try:
        with open("/proc/thread-self/sched", "rb") as f:
            ours = sc.parse_exec_start(f.read())
    except OSError:
        return None
    return None if ours is None else (ours, time.time())


def waiting_since(proc_dir: ProcDir, prefix: str, clock: tuple[float, float] | None) -> float | None:
    """When the thread last ran (epoch seconds): its `se.exec_start` placed on the wall clock through ours."""
    if clock is None:
        return None
    try:
        theirs = sc.parse_exec_start(proc_dir.read(f"{prefix}sched", 1 << 16))
    except OSError:
        return None
    if theirs is None:
        return None
    ours, wall = clock
    return wall - max(0.0, ours - theirs) / 1000.0
