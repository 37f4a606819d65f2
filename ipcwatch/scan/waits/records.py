"""What the blocked-thread sampling records: wait targets, thread and process samples (the reports: reports.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum

from ipcwatch.kinds import Kind
from ipcwatch.record import field, record
from ipcwatch.scan.model import Process

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


@record
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


@record
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


@record
class ProcessSample:
    """Every thread of one process, as the scan's /proc pass saw them."""

    threads: tuple[ThreadSample, ...] = ()
    problem: str | None = None  # e.g. "could not read syscall file of 42 (permission denied)"
    ipc_inode: int | None = None  # its IPC namespace, read when it waits on a SysV object (the id is only unique there)


@record
class WaitSamples:
    """One scan's thread samples: carried in its `Snapshot.threads`, all the analysis reads besides the snapshot."""

    processes: Mapping[int, ProcessSample] = field(default_factory=dict)  # pid -> sample; pids not sampled absent
    unreadable: int = 0  # processes whose fds the scan could not read: "nobody holds it" cannot be said then
    problem: str | None = None  # why no thread was sampled at all (an unknown architecture)
    scanner: int = 0  # the pid of the process that scanned: never sampled
