"""Why is it stuck: the IPC object each thread asleep in the kernel waits on, who could wake it, and why not.

`WaitFinder.visit` runs inside the scan's one /proc pass. For every thread it reads `task/TID/stat` (only
sleeping threads go on) and `task/TID/syscall` through the process directory fd, so a recycled pid cannot
mix two processes' data; only calls that can wait on IPC are decoded further (their wchan, the argument
memory they point at in /proc/PID/mem, their fds). `attach` maps the waits to the scan's objects.
`explain`, `blocked_threads` and `describe` turn a snapshot into `BlockedThread`s: the operation, who could
wake the thread, and the likely cause (a dead partner, a wait cycle). Every string they hold is raw: escape
it to show it.
"""

from __future__ import annotations

import os
import stat as stat_mod
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ipcwatch.scan import syscalls as sc
from ipcwatch.scan.model import Holder, IpcObject, Process, Snapshot, Waiter
from ipcwatch.scan.parsers import parse_maps_line
from ipcwatch.scan.procs import HolderIndex, read_at
from ipcwatch.text import escape

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_PATH_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
MAX_SEM_OPS = 64  # struct sembuf entries read per semop
MAX_WAIT_FDS = 256  # fds decoded per poll/select/epoll wait
MAX_PATH = 4096
SEM_T_SIZE = 32  # a named semaphore's futex word lies in the first bytes of its own mapping
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
AT_FDCWD = -100
FIFO_WCHANS = frozenset({"wait_for_partner", "fifo_open"})
FUTEX_PRIVATE = 128  # FUTEX_PRIVATE_FLAG and FUTEX2_PRIVATE: a process-private futex is never a named semaphore
FUTEX_WAIT_CMDS = frozenset({0, 6, 9, 11, 13})  # WAIT, LOCK_PI, WAIT_BITSET, WAIT_REQUEUE_PI, LOCK_PI2
MSG_EXCEPT = 0o20000
POLL_READ = 0x1 | 0x2 | 0x40  # POLLIN | POLLPRI | POLLRDNORM (the same bits as EPOLLIN ...)
POLL_WRITE = 0x4 | 0x100  # POLLOUT | POLLWRNORM
KERNEL_THREAD_PARENT = 2  # kthreadd: its children never sleep in a user's system call

# What a waiting thread needs from someone else.
DATA = "data"  # someone to write, send or post
SPACE = "space"  # someone to read or receive
WRITER = "writer"  # a FIFO opened for reading waits for a writer to open it
READER = "reader"  # and the other way round
CLIENT = "client"  # accept: a client to connect
LISTENER = "listener"  # connect: the listener to accept
POST = "post"  # a semaphore operation by someone else

# Kinds whose waits count as IPC even when the scan has no object for them (a FIFO outside the walked
# directories, a SysV object that vanished); a socket only counts once the scan knows it as a unix socket.
_ALWAYS_IPC = frozenset({"pipe", "fifo", "sysv-sem", "sysv-msg", "posix-mq", "posix-sem"})


@dataclass(frozen=True, slots=True)
class Target:
    """One object a thread waits on, as its own fds and syscall arguments describe it."""

    match: str  # a ref (`sysv-sem:5`, `pipe:123`, `unix:77`) or a file identity (`file:DEV:INO`)
    kind: str  # pipe, fifo, socket, sysv-sem, sysv-msg, posix-mq, posix-sem
    role: str  # DATA, SPACE, ...: what would wake it
    op: str  # what it does, e.g. "read (pipe empty)"; never holds a name or path
    sem_nums: tuple[int, ...] = ()
    label: str | None = None  # raw path or name to show when the scan has no object for it


@dataclass(frozen=True, slots=True)
class ThreadSample:
    """What one thread was doing when the scan saw it."""

    tid: int
    state: str  # stat letter: R, S, D, T, t, ...
    syscall: str | None  # None: running, or asleep outside any system call
    wchan: str | None = None
    targets: tuple[Target, ...] = ()
    note: str | None = None  # raw: why a wait is not an IPC wait, or what could not be decoded
    waiting_since: float | None = None  # epoch seconds: when it last ran


@dataclass(slots=True)
class ProcessSample:
    proc: Process  # the very Process object of the scan: ties this sample to its snapshot
    threads: list[ThreadSample] = field(default_factory=list)
    problem: str | None = None  # e.g. "could not read syscall file of 42 (permission denied)"


@dataclass(frozen=True, slots=True)
class Waker:
    """A live process that could end the wait, and why we think so."""

    pid: int
    comm: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "comm": escape(self.comm), "why": escape(self.why)}


@dataclass(frozen=True, slots=True)
class BlockedThread:
    """A thread asleep in the kernel waiting on IPC. Strings are raw: escape them to show them."""

    pid: int
    tid: int
    comm: str
    state: str  # S (interruptible) or D (uninterruptible)
    syscall: str
    wchan: str | None
    ref: str | None  # the object in the snapshot, or None when the scan has none for it
    refs: tuple[str, ...]  # every object it waits on (poll and epoll wait on several)
    label: str  # what the object is called (its name, key, path or ref)
    op: str  # e.g. "semop sem 0 -1 (wait)"
    waiting_since: float | None  # epoch seconds (when it last ran); None: unknown
    wakers: tuple[Waker, ...]
    causes: tuple[str, ...]  # "dead partner: ...", "wait cycle: A -> B -> A"
    hints: tuple[str, ...] = ()  # more on who could wake it, when no process can be named

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "tid": self.tid,
            "comm": escape(self.comm),
            "state": self.state,
            "syscall": self.syscall,
            "wchan": escape(self.wchan) if self.wchan else None,
            "ref": self.ref,
            "refs": list(self.refs),
            "object": escape(self.label),
            "op": escape(self.op),
            "waiting_since": self.waiting_since,
            "wakers": [w.to_json() for w in self.wakers],
            "causes": [escape(c) for c in self.causes],
            "hints": [escape(h) for h in self.hints],
        }


@dataclass(frozen=True)
class ProcessWaits:
    """Everything `ipcwatch why PID` says about one process."""

    pid: int
    process: Process | None
    blocked: tuple[BlockedThread, ...]
    others: tuple[tuple[int, str], ...]  # (tid, what it does) for threads not blocked on IPC; raw
    problem: str | None  # raw; e.g. the syscall file was not readable

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "comm": escape(self.process.comm) if self.process else None,
            "blocked": [b.to_json() for b in self.blocked],
            "threads": [{"tid": tid, "activity": escape(text)} for tid, text in self.others],
            "problem": escape(self.problem) if self.problem else None,
        }


# --- reading one thread ---------------------------------------------------------------------------------------


def _read_small(dir_fd: int, name: str, limit: int = 4096) -> bytes:
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class _File:
    kind: str  # pipe, socket, fifo or file
    match: str
    inode: int
    label: str | None


class _Thread:
    """One thread being decoded: names under `prefix` (its task/TID/ dir, or "" for a one-thread process)
    relative to the process dir fd, its arguments, and a lazily opened /proc/PID/mem."""

    def __init__(self, dir_fd: int, prefix: str, state: str, syscall: str, args: tuple[int, ...]):
        self.dir_fd, self.prefix, self.state = dir_fd, prefix, state
        self.syscall, self.args = syscall, args
        self._mem: int | None = None
        self._wchan: str | None | bool = False

    def close(self) -> None:
        if self._mem is not None:
            os.close(self._mem)

    def wchan(self) -> str | None:
        if self._wchan is False:
            try:
                text = _read_small(self.dir_fd, f"{self.prefix}wchan", 256).decode("ascii", "replace").strip()
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

    def file(self, fd: int) -> _File | str:
        """What fd refers to, or a note saying why it is not an IPC object."""
        name = f"fd/{fd}"
        try:
            link = os.readlink(name, dir_fd=self.dir_fd) if fd >= 0 else ""
        except OSError:
            link = ""
        if not link:
            return f"fd {fd} is not open"
        for prefix, kind, ref in (("pipe:[", "pipe", "pipe"), ("socket:[", "socket", "unix")):
            if link.startswith(prefix) and link.endswith("]") and link[len(prefix) : -1].isdigit():
                inode = int(link[len(prefix) : -1])
                return _File(kind, f"{ref}:{inode}", inode, None)
        if link.startswith("/") and self.state == "S":
            # The open file itself (stat never opens it). Waits on FIFOs and queues are interruptible (S); a
            # thread in D may sit on a hung network filesystem, where even a stat could hang: never stat those.
            st = os.stat(name, dir_fd=self.dir_fd)
            kind = "fifo" if stat_mod.S_ISFIFO(st.st_mode) else "file" if stat_mod.S_ISREG(st.st_mode) else ""
            if kind:
                return _File(kind, f"file:{st.st_dev}:{st.st_ino}", st.st_ino, link)
        return f"fd {fd} is {link}"


def _empty_or_full(kind: str, role: str) -> str:
    if kind == "socket":
        return "nothing received" if role == DATA else "peer not reading"
    noun = "pipe" if kind == "pipe" else "FIFO"
    return f"{noun} empty" if role == DATA else f"{noun} full"


Decoded = tuple[tuple[Target, ...], str | None]


def _fd_waits(
    t: _Thread, verb: str, wanted: Iterable[tuple[int, str]], inodes: dict[int, int] | None = None
) -> Decoded:
    """Targets for (fd, role) pairs on pipes, FIFOs and sockets; `inodes` (epoll) must match what fd holds now."""
    targets: list[Target] = []
    notes: list[str] = []
    for fd, role in wanted:
        f = t.file(fd)
        if isinstance(f, str):
            notes.append(f)
            continue
        if inodes is not None and inodes.get(fd) != f.inode:
            continue  # the fd was closed and reused since it was added to the epoll set
        if f.kind not in ("pipe", "fifo", "socket"):
            notes.append(f"fd {fd} is {f.label}")
            continue
        if verb in ("accept", "connect"):
            op = "accept" if verb == "accept" else "connect (listener backlog full)"
        elif verb in ("read", "recv", "write", "send", "splice", "tee", "vmsplice"):
            op = f"{verb} ({_empty_or_full(f.kind, role)})"
        else:
            op = f"{verb} for {'reading' if role == DATA else 'writing'} ({_empty_or_full(f.kind, role)})"
        targets.append(Target(f.match, f.kind, role, op, label=f.label))
    note = None if targets else "; ".join(notes) or None
    return tuple(targets), note


_IO_CALLS: dict[str, tuple[str, tuple[tuple[int, str], ...]]] = {
    # syscall: (verb, ((argument index of an fd, role), ...))
    "read": ("read", ((0, DATA),)),
    "readv": ("read", ((0, DATA),)),
    "recvfrom": ("recv", ((0, DATA),)),
    "recvmsg": ("recv", ((0, DATA),)),
    "recvmmsg": ("recv", ((0, DATA),)),
    "write": ("write", ((0, SPACE),)),
    "writev": ("write", ((0, SPACE),)),
    "sendto": ("send", ((0, SPACE),)),
    "sendmsg": ("send", ((0, SPACE),)),
    "sendmmsg": ("send", ((0, SPACE),)),
    "vmsplice": ("vmsplice", ((0, SPACE),)),
    "splice": ("splice", ((0, DATA), (2, SPACE))),
    "tee": ("tee", ((0, DATA), (1, SPACE))),
    "accept": ("accept", ((0, CLIENT),)),
    "accept4": ("accept", ((0, CLIENT),)),
    "connect": ("connect", ((0, LISTENER),)),
}


def _io(t: _Thread) -> Decoded:
    verb, fds = _IO_CALLS[t.syscall]
    wanted = [(sc.as_int32(t.args[i]), role) for i, role in fds]
    targets, note = _fd_waits(t, verb, wanted)
    if verb in ("accept", "connect"):
        targets = tuple(x for x in targets if x.kind == "socket")
    return targets, note


def _semop(t: _Thread) -> Decoded:
    semid, sops, nsops = sc.as_int32(t.args[0]), t.args[1], t.args[2]
    timed = t.syscall == "semtimedop" and t.args[3] != 0
    call = "semtimedop" if timed else "semop"
    try:
        ops = sc.parse_sembufs(t.mem(sops, min(nsops, MAX_SEM_OPS) * 6))
    except OSError:
        ops = []
    parts = []
    for num, delta, _flags in ops:
        if delta < 0:
            parts.append(f"sem {num} {delta} (wait)")
        elif delta == 0:
            parts.append(f"sem {num} 0 (wait for zero)")
        else:
            parts.append(f"sem {num} +{delta}")
    op = f"{call} {', '.join(parts)}" if parts else f"{call} (operations not readable)"
    if nsops > MAX_SEM_OPS and parts:
        op += f" (first {MAX_SEM_OPS} of {nsops})"
    nums = tuple(sorted({num for num, delta, _ in ops if delta <= 0}))
    return (Target(f"sysv-sem:{semid}", "sysv-sem", POST, op, nums, f"SysV semaphore set {semid}"),), None


def _msgrcv(t: _Thread) -> Decoded:
    msqid, mtype, flags = sc.as_int32(t.args[0]), sc.as_long(t.args[3]), sc.as_int32(t.args[4])
    if mtype == 0:
        op = "msgrcv any type (queue empty)"
    elif mtype < 0:
        op = f"msgrcv type <= {-mtype}"
    elif flags & MSG_EXCEPT:
        op = f"msgrcv type other than {mtype}"
    else:
        op = f"msgrcv type {mtype}"
    return (Target(f"sysv-msg:{msqid}", "sysv-msg", DATA, op, label=f"SysV message queue {msqid}"),), None


def _msgsnd(t: _Thread) -> Decoded:
    msqid = sc.as_int32(t.args[0])
    return (Target(f"sysv-msg:{msqid}", "sysv-msg", SPACE, "msgsnd (queue full)", label=f"SysV queue {msqid}"),), None


def _mq(t: _Thread) -> Decoded:
    f = t.file(sc.as_int32(t.args[0]))
    if isinstance(f, str):
        return (), f
    if f.kind != "file":
        return (), None
    receive = t.syscall == "mq_timedreceive"
    op, role = ("mq_receive (queue empty)", DATA) if receive else ("mq_send (queue full)", SPACE)
    return (Target(f.match, "posix-mq", role, op, label=f.label),), None


def _open(t: _Thread) -> Decoded:
    wchan = t.wchan()
    if wchan not in FIFO_WCHANS and not (wchan is None and t.state == "S"):
        return (), None  # asleep in open for another reason (a device, a network filesystem): never stat it
    if t.syscall == "open":
        dirfd, path, flags = AT_FDCWD, t.cstring(t.args[0]), t.args[1]
    else:
        dirfd, path = sc.as_int32(t.args[0]), t.cstring(t.args[1])
        flags = t.args[2] if t.syscall == "openat" else int.from_bytes(t.mem(t.args[2], 8).ljust(8, b"\0"), "little")
    if not path:
        return (), None
    if path.startswith(b"/"):
        base, rel = f"{t.prefix}root", path.lstrip(b"/") or b"."
    else:
        base, rel = (f"{t.prefix}cwd", path) if dirfd == AT_FDCWD else (f"fd/{dirfd}", path)
    base_fd = os.open(base, _PATH_DIR_FLAGS, dir_fd=t.dir_fd)
    try:
        st = os.stat(rel, dir_fd=base_fd)
    finally:
        os.close(base_fd)
    if not stat_mod.S_ISFIFO(st.st_mode) or flags & 3 == os.O_RDWR:
        return (), None
    reading = flags & 3 == os.O_RDONLY
    op = "open FIFO for reading (no writer)" if reading else "open FIFO for writing (no reader)"
    role = WRITER if reading else READER
    return (Target(f"file:{st.st_dev}:{st.st_ino}", "fifo", role, op, label=os.fsdecode(path)),), None


def _may_wait_on_ipc(syscall: str, args: tuple[int, ...]) -> bool:
    """A check on the arguments alone, before any read: most futex waits are process-private locks."""
    if syscall == "futex":
        private, waits = args[1] & FUTEX_PRIVATE, (args[1] & 0x7F) in FUTEX_WAIT_CMDS
    elif syscall == "futex_wait":  # futex_wait(uaddr, val, mask, flags, timeout, clockid)
        private, waits = args[3] & FUTEX_PRIVATE, True
    else:
        return True
    return waits and not private and args[0] % PAGE_SIZE < SEM_T_SIZE


def _futex(t: _Thread) -> Decoded:
    """A shared futex at the start of a shared `sem.*` mapping: a POSIX named semaphore (sem_wait)."""
    address = t.args[0]
    line = sc.mapping_line(read_at(t.dir_fd, "maps", 64 << 20), address)
    parsed = parse_maps_line(line) if line else None
    if parsed is None:
        return (), None
    perms, dev, inode, path = parsed
    base = os.path.basename(path.removesuffix(b" (deleted)"))
    if perms[3:4] != b"s" or not base.startswith(b"sem."):
        return (), None
    target = Target(f"file:{dev}:{inode}", "posix-sem", POST, "futex wait on sem", label=os.fsdecode(base[4:]))
    return (target,), None


def _poll(t: _Thread) -> Decoded:
    entries = sc.parse_pollfds(t.mem(t.args[0], min(t.args[1], MAX_WAIT_FDS) * 8))
    return _fd_waits(t, t.syscall, _roles(entries))


def _roles(entries: Iterable[tuple[int, int]]) -> list[tuple[int, str]]:
    out = []
    for fd, events in entries:
        if events & POLL_READ:
            out.append((fd, DATA))
        elif events & POLL_WRITE:
            out.append((fd, SPACE))
    return out


def _select(t: _Thread) -> Decoded:
    nfds = min(sc.as_int32(t.args[0]), 1 << 16)
    size = (max(nfds, 0) + 63) // 64 * 8
    wanted: list[tuple[int, str]] = []
    for arg, role in ((1, DATA), (2, SPACE)):
        if t.args[arg]:
            wanted += [(fd, role) for fd in sc.fd_set_members(t.mem(t.args[arg], size), nfds)]
    return _fd_waits(t, t.syscall, wanted[:MAX_WAIT_FDS])


def _epoll(t: _Thread) -> Decoded:
    epfd = sc.as_int32(t.args[0])
    entries = sc.parse_epoll_targets(read_at(t.dir_fd, f"fdinfo/{epfd}", 1 << 20))[:MAX_WAIT_FDS]
    inodes = {fd: inode for fd, _, inode in entries}
    return _fd_waits(t, t.syscall, _roles((fd, events) for fd, events, _ in entries), inodes)


_DECODERS: dict[str, Callable[[_Thread], Decoded]] = {
    **dict.fromkeys(_IO_CALLS, _io),
    "semop": _semop,
    "semtimedop": _semop,
    "msgrcv": _msgrcv,
    "msgsnd": _msgsnd,
    "mq_timedreceive": _mq,
    "mq_timedsend": _mq,
    "open": _open,
    "openat": _open,
    "openat2": _open,
    "futex": _futex,
    "futex_wait": _futex,
    "poll": _poll,
    "ppoll": _poll,
    "select": _select,
    "pselect6": _select,
    "epoll_wait": _epoll,
    "epoll_pwait": _epoll,
    "epoll_pwait2": _epoll,
}


def _scheduler_now() -> tuple[float, float] | None:
    """(our thread's `se.exec_start` in ms, the wall clock) read together: the scheduler clock's offset."""
    try:
        with open("/proc/thread-self/sched", "rb") as f:
            ours = sc.parse_exec_start(f.read())
    except OSError:
        return None
    return None if ours is None else (ours, time.time())


def _waiting_since(dir_fd: int, prefix: str, clock: tuple[float, float] | None) -> float | None:
    """When the thread last ran (epoch seconds): its `se.exec_start` placed on the wall clock through ours."""
    if clock is None:
        return None
    try:
        theirs = sc.parse_exec_start(_read_small(dir_fd, f"{prefix}sched", 1 << 16))
    except OSError:
        return None
    if theirs is None:
        return None
    ours, wall = clock
    return wall - max(0.0, ours - theirs) / 1000.0


# --- the finder ---------------------------------------------------------------------------------------------


_RECENT: deque[WaitFinder] = deque(maxlen=4)  # the last few scans' samples, for explain(snapshot)
_RECENT_LOCK = threading.Lock()


class WaitFinder:
    """One scan's blocked-thread analysis: `visit` in the /proc pass, then `attach` to the objects."""

    def __init__(self, machine: str | None = None) -> None:
        self.table = sc.table_for(machine)
        self.problem = None if self.table is not None else f"unknown architecture {os.uname().machine}"
        self.samples: dict[int, ProcessSample] = {}
        # (pid, tid) -> (thread, [(target, ref or None)]) for threads whose targets are IPC objects
        self.resolved: dict[tuple[int, int], tuple[ThreadSample, tuple[tuple[Target, str | None], ...]]] = {}
        self._self_pid = os.getpid()
        self._clock_read: tuple[float, float] | None | bool = False

    def _clock(self) -> tuple[float, float] | None:
        if self._clock_read is False:
            self._clock_read = _scheduler_now()
        return self._clock_read  # type: ignore[return-value]

    def visit(self, pid: int, dir_fd: int, proc: Process) -> None:
        """Sample every thread of one process (called while its /proc/PID directory fd is open)."""
        if self.table is None or pid == self._self_pid:
            return
        if proc.ppid == KERNEL_THREAD_PARENT or pid == KERNEL_THREAD_PARENT:
            return
        sample = ProcessSample(proc)
        try:
            if os.stat("task", dir_fd=dir_fd).st_nlink <= 3:  # 2 + one per thread: skip listing a lone thread
                if proc.state in ("Z", "X"):
                    return  # exited; a zombie leader with live threads is sampled thread by thread below
                sample.threads.append(self._thread(dir_fd, "", pid, proc.state))
            else:
                task_fd = os.open("task", _DIR_FLAGS, dir_fd=dir_fd)
                try:
                    tids = [int(name) for name in os.listdir(task_fd) if name.isdigit()]
                finally:
                    os.close(task_fd)
                for tid in tids:
                    try:
                        state = proc.state if tid == pid else None  # /proc/PID/stat is the main thread's
                        sample.threads.append(self._thread(dir_fd, f"task/{tid}/", tid, state))
                    except PermissionError:
                        raise
                    except OSError:
                        continue  # the thread exited while we read it
        except PermissionError:
            sample.problem = f"could not read syscall file of {pid} (permission denied)"
        except OSError:
            return  # the process exited
        self.samples[pid] = sample

    def _thread(self, dir_fd: int, prefix: str, tid: int, state: str | None) -> ThreadSample:
        """One thread; `state` is known for the main thread (the process's stat), else read only when it matters.

        The syscall file answers `running` for a running thread, so a sleeping thread costs one read unless it
        sleeps in a call that can wait on IPC.
        """
        if state is not None and state not in ("S", "D"):
            return ThreadSample(tid, state, None)
        raw = _read_small(dir_fd, f"{prefix}syscall", 512)  # PermissionError: no access
        if raw.startswith(b"running"):
            return ThreadSample(tid, "R", None)
        head = raw.split(b" ", 1)[0]
        name = sc.syscall_name(self.table, int(head)) if head.isdigit() else None
        decode = _DECODERS.get(name) if name is not None else None
        call = sc.parse_syscall(raw) if decode is not None or head == b"-1" else None
        if call is None or (name is not None and not _may_wait_on_ipc(name, call.args)):
            return ThreadSample(tid, state or "?", name)  # most sleepers: a private futex, a nanosleep, ...
        if state is None:
            state = sc.parse_thread_state(_read_small(dir_fd, f"{prefix}stat", 1024)) or "?"
        if name is None:  # asleep outside a system call (a page fault, a stop): wchan says where
            return ThreadSample(tid, state, None, wchan=_Thread(dir_fd, prefix, state, "", ()).wchan())
        if decode is None or state not in ("S", "D"):
            return ThreadSample(tid, state, name)
        thread = _Thread(dir_fd, prefix, state, name, call.args)
        try:
            targets, note = decode(thread)
        except (FileNotFoundError, ProcessLookupError):
            raise
        except (OSError, ValueError, OverflowError) as exc:
            targets, note = (), f"its wait could not be decoded: {getattr(exc, 'strerror', None) or exc}"
        finally:
            thread.close()
        if not targets:
            return ThreadSample(tid, state, name, note=note)
        since = _waiting_since(dir_fd, prefix, self._clock())
        return ThreadSample(tid, state, name, thread.wchan(), targets, note, since)

    def attach(self, objects: list[IpcObject], index: HolderIndex) -> dict[str, list[Waiter]]:
        """Map the sampled waits to objects: {ref: waiters}. Remembers the samples for `explain`."""
        by_ref = {o.ref: o for o in objects}
        by_identity = {o.identity: o for o in objects if o.identity.startswith("file:")}
        out: dict[str, list[Waiter]] = {}
        for pid, sample in self.samples.items():
            for thread in sample.threads:
                if not thread.targets:
                    continue
                resolved: list[tuple[Target, str | None]] = []
                for target in thread.targets:
                    obj = by_ref.get(target.match) or by_identity.get(target.match)
                    if obj is None and target.kind not in _ALWAYS_IPC:
                        continue  # e.g. a TCP socket: not IPC
                    if obj is not None and obj.kind == "unix" and obj.fields.get("state") == "listen":
                        target = replace(target, role=CLIENT, op=target.op.replace("nothing received", "no client"))
                    ref = obj.ref if obj is not None else None
                    if any(r == ref and ref is not None for _, r in resolved):
                        continue
                    resolved.append((target, ref))
                    if ref is not None:
                        out.setdefault(ref, []).append(Waiter(pid, thread.tid, target.op))
                self.resolved[(pid, thread.tid)] = (thread, tuple(resolved))
        with _RECENT_LOCK:
            _RECENT.append(self)
        return out

    def covers(self, snapshot: Snapshot) -> bool:
        """True when these samples come from the scan that made `snapshot` (the very same Process objects)."""
        for pid, sample in self.samples.items():
            proc = snapshot.processes.get(pid)
            if proc is not None:
                return proc is sample.proc
        return False


def _finder_for(snapshot: Snapshot) -> WaitFinder | None:
    with _RECENT_LOCK:
        recent = list(_RECENT)
    return next((f for f in reversed(recent) if f.covers(snapshot)), None)


# --- explaining ---------------------------------------------------------------------------------------------


def _who(holders: Iterable[Holder], pid: int, want: str) -> tuple[list[Holder], bool]:
    """(other processes' holders with `want` in their mode, whether `pid` itself holds it so)."""
    others, itself = [], False
    for h in holders:
        if want and want not in h.mode and h.mode != "?":
            continue
        if h.pid == pid:
            itself = True
        else:
            others.append(h)
    return others, itself


def _fd_wakers(holders: list[Holder], why: str) -> list[Waker]:
    fds: dict[int, list[str]] = {}
    comms: dict[int, str] = {}
    for h in holders:
        fds.setdefault(h.pid, []).append(h.via)
        comms[h.pid] = h.comm
    return [
        Waker(pid, comms[pid], f"{why} ({'fd ' if vias[0] != 'mapped' else ''}{', '.join(vias)})")
        for pid, vias in fds.items()
    ]


@dataclass
class _Analysis:
    wakers: list[Waker] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


def _nobody_else(what: str, itself: bool, lone: bool, a: _Analysis) -> None:
    """No other process holds `what`: a dead partner, unless another thread of this very process could act."""
    if itself and not lone:
        a.hints.append(f"only this process holds {what}: another of its threads would have to act")
    elif itself:
        a.dead.append(f"dead partner: no other process holds {what}; only this process does, and it is waiting")
    else:
        a.dead.append(f"dead partner: no process holds {what}")


_END_OF = {DATA: ("w", "the write end"), SPACE: ("r", "the read end"), WRITER: ("w", ""), READER: ("r", "")}


def _analyse_file(obj: IpcObject, pid: int, target: Target, lone: bool, a: _Analysis) -> None:
    """Pipes, FIFOs, POSIX queues and semaphores: the other processes holding the right end are the wakers."""
    if obj.kind == "posix-sem":
        others, _ = _who(obj.holders, pid, "")
        a.wakers += _fd_wakers(others, "has the semaphore open")
        if not others:
            a.dead.append("dead partner: no other process has the semaphore open")
        return
    want, end = _END_OF.get(target.role, ("", "it"))
    others, itself = _who(obj.holders, pid, want)
    direction = "writing" if want == "w" else "reading"
    if obj.kind == "posix-mq":
        a.wakers += _fd_wakers(others, f"has the queue open for {direction}")
        if not others:
            a.dead.append(f"dead partner: no other process has the queue open for {direction}")
        return
    if target.role in (WRITER, READER):
        a.wakers += _fd_wakers(others, f"has the FIFO open for {direction}")
        if not others:
            a.dead.append(f"dead partner: no process has the FIFO open for {direction}")
        return
    a.wakers += _fd_wakers(others, f"holds {end}")
    if not others:
        _nobody_else(end, itself, lone, a)
    fill = obj.fields.get("queued"), obj.fields.get("capacity")
    if fill[0] is not None and fill[1]:
        a.hints.append(f"{fill[0]} of {fill[1]} bytes queued")


def _analyse_sem(obj: IpcObject, pid: int, target: Target, snap: Snapshot, a: _Analysis) -> None:
    sems = obj.fields.get("semaphores")
    if not sems:
        a.hints.append("the semaphore values are not readable: run as root to see the last operators")
        return
    nums = target.sem_nums or tuple(range(len(sems)))
    for num in nums:
        if num >= len(sems):
            continue
        a.hints.append(f"sem {num} value is {sems[num].get('value')}")
        _last_actor(
            a,
            snap,
            pid,
            sems[num].get("pid") or 0,
            never=f"nobody has operated on sem {num} yet",
            itself=f"the last operation on sem {num} was this process's own",
            wakes=f"last operated on sem {num}",
            dead=f"the last process to operate on sem {num}",
        )


def _analyse_msg(obj: IpcObject, pid: int, target: Target, snap: Snapshot, a: _Analysis) -> None:
    sending = target.role == DATA
    key, who, verb = ("lspid", "sender", "sent to") if sending else ("lrpid", "receiver", "received from")
    a.hints.append(f"{obj.fields.get('messages', '?')} message(s) queued")
    _last_actor(
        a,
        snap,
        pid,
        obj.fields.get(key) or 0,
        never=f"nothing has been {verb} this queue yet",
        itself=f"the last {who} was this process itself",
        wakes=f"last {verb} this queue",
        dead=f"the queue's last {who}",
    )


def _last_actor(
    a: _Analysis, snap: Snapshot, pid: int, last: int, *, never: str, itself: str, wakes: str, dead: str
) -> None:
    """What the last process to act on a SysV object says: nobody yet, the waiter itself, a waker, or a dead partner."""
    if not last:
        a.hints.append(never)
    elif last == pid:
        a.hints.append(itself)
    elif last in snap.processes:
        a.wakers.append(Waker(last, snap.processes[last].comm, wakes))
    else:
        a.dead.append(f"dead partner: {dead} (pid {last}) has exited")


def _analyse_unix(obj: IpcObject, pid: int, target: Target, snap: Snapshot, lone: bool, a: _Analysis) -> None:
    if target.role == CLIENT or obj.fields.get("state") == "listen":
        where = f" to {obj.name}" if obj.name else ""
        a.hints.append(f"any process that connects{where} would wake it")
        return
    peer = obj.fields.get("peer")
    peer_obj = snap.get(f"unix:{peer}") if peer else None
    if peer_obj is None:
        a.hints.append("its peer socket is not known")
        return
    others, itself = _who(peer_obj.holders, pid, "")
    why = "holds the listening socket" if target.role == LISTENER else f"holds the other end ({peer_obj.ref})"
    a.wakers += _fd_wakers(others, why)
    if not others:
        _nobody_else(f"the other end ({peer_obj.ref})", itself, lone, a)


def _analyse(snap: Snapshot, pid: int, target: Target, ref: str | None, lone: bool) -> _Analysis:
    """Who could end this wait (`lone`: the waiting process has no other thread that could)."""
    a = _Analysis()
    obj = snap.get(ref) if ref else None
    if obj is None:
        if target.role in (WRITER, READER):
            direction = "writing" if target.role == WRITER else "reading"
            a.dead.append(f"dead partner: no process has the FIFO open for {direction}")
        else:
            a.hints.append("the object is not in this scan")
    elif obj.kind == "sysv-sem":
        _analyse_sem(obj, pid, target, snap, a)
    elif obj.kind == "sysv-msg":
        _analyse_msg(obj, pid, target, snap, a)
    elif obj.kind == "unix":
        _analyse_unix(obj, pid, target, snap, lone, a)
    else:
        _analyse_file(obj, pid, target, lone, a)
    return a


def _label(snap: Snapshot, target: Target, ref: str | None) -> str:
    obj = snap.get(ref) if ref else None
    if obj is not None:
        return obj.label
    return target.label or target.match


def _shortest_cycle(start: int, first: Iterable[int], edges: dict[int, set[int]]) -> list[int] | None:
    """The shortest path start -> first hop -> ... -> start over `edges`, as a list of pids."""
    previous: dict[int, int] = {}
    queue: deque[int] = deque()
    for hop in first:
        if hop not in previous:
            previous[hop] = start
            queue.append(hop)
    while queue:
        node = queue.popleft()
        if node == start:
            path = [start]
            node = previous[start]
            while node != start:
                path.append(node)
                node = previous[node]
            path.append(start)
            return path[::-1]
        for nxt in edges.get(node, ()):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def _from_finder(snap: Snapshot, finder: WaitFinder) -> list[BlockedThread]:
    rows = []
    for (pid, _), (thread, resolved) in finder.resolved.items():
        if not resolved or pid not in snap.processes:
            continue
        lone = len(finder.samples[pid].threads) == 1
        analyses = [_analyse(snap, pid, target, ref, lone) for target, ref in resolved]
        rows.append((pid, thread, resolved, analyses))
    running = {pid for pid, s in finder.samples.items() if any(t.state == "R" for t in s.threads)}
    stuck = {pid for pid, _, _, _ in rows} - running
    edges: dict[int, set[int]] = {}
    for pid, _, _, analyses in rows:
        edges.setdefault(pid, set()).update(w.pid for a in analyses for w in a.wakers if w.pid in stuck)
    out = []
    for pid, thread, resolved, analyses in rows:
        wakers: dict[int, Waker] = {}
        for a in analyses:
            for w in a.wakers:
                wakers.setdefault(w.pid, w)
        causes: list[str] = []
        if not wakers and all(a.dead for a in analyses):
            causes += [c for a in analyses for c in a.dead]
        cycle = _shortest_cycle(pid, [p for p in wakers if p in stuck], edges) if pid in stuck else None
        if cycle:
            causes.append("wait cycle: " + " -> ".join(f"{p} ({snap.processes[p].comm})" for p in cycle))
        refs = tuple(ref for _, ref in resolved if ref is not None)
        first_target, first_ref = resolved[0]
        out.append(
            BlockedThread(
                pid=pid,
                tid=thread.tid,
                comm=snap.processes[pid].comm,
                state=thread.state,
                syscall=thread.syscall or "?",
                wchan=thread.wchan,
                ref=refs[0] if refs else None,
                refs=refs,
                label=_label(snap, first_target, refs[0] if refs else first_ref),
                op="; ".join(dict.fromkeys(target.op for target, _ in resolved)),
                waiting_since=thread.waiting_since,
                wakers=tuple(wakers.values()),
                causes=tuple(causes),
                hints=tuple(dict.fromkeys(h for a in analyses for h in a.hints)),
            )
        )
    return sorted(out, key=lambda b: (b.pid, b.tid))


def _from_waiters(snap: Snapshot) -> list[BlockedThread]:
    """Without this scan's samples (a snapshot from elsewhere): what the objects' waiters alone say."""
    out = []
    for obj in snap.objects:
        for w in obj.waiters:
            proc = snap.processes.get(w.pid)
            others = [h for h in obj.holders if h.pid != w.pid]
            out.append(
                BlockedThread(
                    pid=w.pid,
                    tid=w.tid,
                    comm=proc.comm if proc else "?",
                    state="?",
                    syscall="?",
                    wchan=None,
                    ref=obj.ref,
                    refs=(obj.ref,),
                    label=obj.label,
                    op=w.op,
                    waiting_since=None,
                    wakers=tuple(_fd_wakers(others, "holds it")),
                    causes=(),
                    hints=("details of this wait were not kept with this snapshot",),
                )
            )
    return sorted(out, key=lambda b: (b.pid, b.tid))


def blocked_threads(snapshot: Snapshot) -> list[BlockedThread]:
    """Every thread the scan saw asleep waiting on IPC, with who could wake it and the likely cause."""
    finder = _finder_for(snapshot)
    return _from_finder(snapshot, finder) if finder is not None else _from_waiters(snapshot)


def explain(snapshot: Snapshot, pid: int) -> list[BlockedThread]:
    """The blocked threads of one process (empty when it is not blocked on IPC)."""
    return [b for b in blocked_threads(snapshot) if b.pid == pid]


_STATES = {"R": "running", "T": "stopped", "t": "stopped by a debugger", "Z": "a zombie", "X": "exiting"}


def _activity(thread: ThreadSample, undecoded: bool) -> str:
    if thread.state in _STATES:
        return _STATES[thread.state]
    if thread.state == "?":
        return f"waiting in {thread.syscall}" if thread.syscall else "waiting"
    if thread.state not in ("S", "D"):
        return f"in state {thread.state}"
    how = "sleeping" if thread.state == "S" else "in uninterruptible sleep (D)"
    if thread.syscall is None:
        where = f" in {thread.wchan}" if thread.wchan else ""
        return thread.note or f"{how} outside a system call{where}"
    text = f"{how} in {thread.syscall}"
    if thread.note:
        return f"{text} ({thread.note})"
    return f"{text} (not on an IPC object)" if undecoded else text


def describe(snapshot: Snapshot, pid: int) -> ProcessWaits:
    """What every thread of one process (`pid` may be any of its thread ids) is doing, IPC waits explained;
    says plainly what was not seen."""
    finder = _finder_for(snapshot)
    if pid not in snapshot.processes and finder is not None:
        owner = next((p for p, s in finder.samples.items() if any(t.tid == pid for t in s.threads)), None)
        if owner is not None:
            return describe(snapshot, owner)
    proc = snapshot.processes.get(pid)
    blocked = tuple(explain(snapshot, pid))
    sample = finder.samples.get(pid) if finder is not None else None
    problem = None
    others: list[tuple[int, str]] = []
    if proc is None:
        problem = "no such process in this scan"
    elif sample is None:
        if proc.state == "Z":
            problem = f"a zombie: it has exited and waits for its parent {proc.ppid} to reap it"
        elif proc.ppid == KERNEL_THREAD_PARENT or pid == KERNEL_THREAD_PARENT:
            problem = "a kernel thread: it never waits in a user's system call"
        elif pid == os.getpid():
            problem = "this is ipcwatch itself"
        elif finder is not None and finder.problem:
            problem = finder.problem
        else:
            problem = "its threads were not sampled in this scan"
    else:
        problem = sample.problem
        waiting = {b.tid for b in blocked}
        for thread in sorted(sample.threads, key=lambda t: t.tid):
            if thread.tid not in waiting:
                undecoded = (pid, thread.tid) in finder.resolved if finder else False
                others.append((thread.tid, _activity(thread, undecoded)))
    return ProcessWaits(pid, proc, blocked, tuple(others), problem)
