"""What the blocked-thread analysis records: wait targets, thread and process samples, and the reports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ipcwatch.kinds import Kind
from ipcwatch.scan.model import Process
from ipcwatch.text import escape

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
PATH_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
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
SIGNAL = "signal"  # a signal sent to it (sigwaitinfo, sigsuspend, pause, a signalfd in a wait set)


class OtherKind(StrEnum):
    """What a wait target or an fd is when it is no kind of IPC object (`Kind`)."""

    SOCKET = "socket"  # a socket: IPC only once the scan knows it as a unix socket
    SIGNAL = "signal"  # a wait for a signal (sigwaitinfo, sigsuspend, pause): no object at all
    FILE = "file"  # a regular file (a POSIX queue's fd is one)


# Kinds whose waits count as IPC even when the scan has no object for them (a FIFO outside the walked
# directories, a SysV object that vanished); a socket only counts once the scan knows it as a unix socket.
ALWAYS_IPC = frozenset(
    {
        Kind.PIPE,
        Kind.FIFO,
        Kind.SYSV_SEM,
        Kind.SYSV_MSG,
        Kind.POSIX_MQ,
        Kind.POSIX_SEM,
        Kind.EVENTFD,
        Kind.SIGNALFD,
        OtherKind.SIGNAL,
    }
)


def is_kernel_thread(proc: Process) -> bool:
    """kthreadd or one of its children: never asleep in a user's system call."""
    return proc.ppid == KERNEL_THREAD_PARENT or proc.pid == KERNEL_THREAD_PARENT


def timeout_text(seconds: float) -> str:
    """`120 s`, `1.5 s`, `250 ms`."""
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.4g} s"


@dataclass(frozen=True, slots=True)
class Target:
    """One object a thread waits on, as its own fds and syscall arguments describe it."""

    match: str  # a ref (`sysv-sem:5`, `pipe:123`, `unix:77`, `eventfd:4`) or a file identity (`file:DEV:INO`)
    kind: Kind | OtherKind  # pipe, fifo, sysv-sem, sysv-msg, posix-mq, posix-sem, eventfd, signalfd; socket, signal
    role: str  # DATA, SPACE, ...: what would wake it
    op: str  # what it does, e.g. "read (pipe empty)"; never holds a name or path
    sem_nums: tuple[int, ...] = ()
    label: str | None = None  # raw path or name to show when the scan has no object for it
    signals: tuple[str, ...] = ()  # SIGNAL: the signals that end the wait (empty: any it does not block)
    in_set: bool = False  # one fd of a poll/select/epoll set (a self-pipe there is a wait for a signal)


Decoded = tuple[tuple[Target, ...], str | None]  # what a decoder found: the targets, or a note on why none


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
    timeout: float | None = None  # seconds the call was given to wait (a timed wait wakes by itself); None: none
    # The targets that are IPC, each with the ref of its object in the snapshot (None: the scan has none); set when
    # the waits are attached to the scan's objects. Empty with targets: it waits, but not on IPC (a TCP socket).
    resolved: tuple[tuple[Target, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """Every thread of one process, as the scan's /proc pass saw them."""

    threads: tuple[ThreadSample, ...] = ()
    problem: str | None = None  # e.g. "could not read syscall file of 42 (permission denied)"
    ipc_inode: int | None = None  # its IPC namespace, read when it waits on a SysV object (the id is only unique there)


@dataclass(frozen=True, slots=True)
class WaitSamples:
    """One scan's thread samples: carried in its `Snapshot.threads`, all the analysis reads besides the snapshot."""

    processes: Mapping[int, ProcessSample] = field(default_factory=dict)  # pid -> sample; pids not sampled absent
    unreadable: int = 0  # processes whose fds the scan could not read: "nobody holds it" cannot be said then
    problem: str | None = None  # why no thread was sampled at all (an unknown architecture)
    scanner: int = 0  # the pid of the process that scanned: never sampled


@dataclass(frozen=True, slots=True)
class Waker:
    """A live process that could end the wait, and why we think so."""

    pid: int
    comm: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "comm": escape(self.comm), "why": escape(self.why)}


DEAD_PARTNER, WAIT_CYCLE = "dead partner: ", "wait cycle: "  # how the analysis words those two likely causes


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
    signals: tuple[str, ...] = ()  # the signals that would end the wait (a signal wait, or a signalfd in the set)
    timeout: float | None = None  # seconds it was given to wait; None: no timeout
    signal_wait: bool = False  # it waits for a signal (sigwaitinfo, sigsuspend, pause, a signalfd in its set)

    @property
    def dead_partner(self) -> bool:
        """A likely cause is a partner that is gone: nobody left who could wake it."""
        return any(c.startswith(DEAD_PARTNER) for c in self.causes)

    @property
    def in_cycle(self) -> bool:
        """Its process is in a wait cycle (A waits on B, which waits on A)."""
        return any(c.startswith(WAIT_CYCLE) for c in self.causes)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "tid": self.tid,
            "comm": escape(self.comm),
            "state": self.state,
            "syscall": self.syscall,
            "wchan": escape(self.wchan) if self.wchan else None,
            "ref": None if self.ref is None else escape(self.ref),
            "refs": [escape(r) for r in self.refs],
            "object": escape(self.label),
            "op": escape(self.op),
            "waiting_since": self.waiting_since,
            "wakers": [w.to_json() for w in self.wakers],
            "causes": [escape(c) for c in self.causes],
            "hints": [escape(h) for h in self.hints],
            "signals": list(self.signals),
            "timeout": self.timeout,
        }


@dataclass(frozen=True)
class ProcessWaits:
    """Everything `ipcwatch why PID` says about one process."""

    pid: int
    process: Process | None
    blocked: tuple[BlockedThread, ...]
    others: tuple[tuple[int, str], ...]  # (tid, what it does) for threads not blocked on IPC; raw
    problem: str | None  # raw; e.g. the syscall file was not readable
    notes: tuple[str, ...] = ()  # raw; stopped (needs SIGCONT), signals pending that every thread blocks

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "comm": escape(self.process.comm) if self.process else None,
            "blocked": [b.to_json() for b in self.blocked],
            "threads": [{"tid": tid, "activity": escape(text)} for tid, text in self.others],
            "problem": escape(self.problem) if self.problem else None,
            "notes": [escape(n) for n in self.notes],
        }
