"""POSIX shared memory and named semaphores (/dev/shm) and message queues (/dev/mqueue).

Entries are listed with lstat and opened O_NOFOLLOW|O_NONBLOCK, checked to be regular files, and read with
pread: never mmap (a truncate would SIGBUS us), never follow a planted symlink, never block on a FIFO.
"""

from __future__ import annotations

import os
import stat as stat_mod
import struct
import time
from collections.abc import Callable

from ipcwatch import libc_read
from ipcwatch.kinds import Kind, spec
from ipcwatch.procfs import stat_identity
from ipcwatch.scan.info import KindInfo, PosixMqInfo, PosixSemInfo, PosixShmInfo
from ipcwatch.scan.model import Holder, IpcObject, ScanError
from ipcwatch.scan.namespaces import Namespace, qualified_ref
from ipcwatch.scan.nsread import list_beneath, open_beneath
from ipcwatch.scan.parsers import parse_mqueue_status
from ipcwatch.scan.procs import HolderIndex, user_name
from ipcwatch.text import ago

SAFE_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
SEM_T_SIZE = 32  # sizeof(sem_t) on 64-bit glibc
NOTIFY_KINDS = {0: "signal", 1: "none", 2: "thread"}
SEM_PREFIX = spec(Kind.POSIX_SEM).entry_prefix  # a named semaphore is /dev/shm/sem.NAME


def file_object(
    kind: Kind,
    name: str,
    st: os.stat_result,
    *,
    size: int | None,
    holders: tuple[Holder, ...],
    stale_reason: str | None,
    info: KindInfo,
    ns: Namespace | None = None,
) -> IpcObject:
    """An object that is a file (/dev/shm, /dev/mqueue, a socket file): owner, mode and identity from its lstat.
    `ns`: the namespace of another view than the scanner's (its ref is qualified with it)."""
    return IpcObject(
        ref=qualified_ref(kind, name, ns),
        kind=kind,
        name=name,
        id=None,
        key=None,
        owner=user_name(st.st_uid),
        uid=st.st_uid,
        mode=stat_mod.S_IMODE(st.st_mode),
        size=size,
        holders=holders,
        stale=stale_reason is not None,
        stale_reason=stale_reason,
        identity=stat_identity(st),
        info=info,
        namespace=ns,
    )


Opener = Callable[[str, os.stat_result], int]  # (path, lstat) -> fd on that very regular file, or OSError


class Beneath:
    """A directory of another mount namespace's view, under its root fd (/proc/PID/root): listed and opened
    without following any symlink (ipcwatch.scan.nsread), paths relative to that root."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd

    def list(self, path: str, errors: list[ScanError]) -> list[tuple[str, os.stat_result]]:
        return list_beneath(self.root_fd, path, errors)

    def open(self, path: str, st: os.stat_result) -> int:
        return open_beneath(self.root_fd, path, os.O_RDONLY, st)


def list_dir(path: str, errors: list[ScanError]) -> list[tuple[str, os.stat_result]]:
    """Entries of a flat directory with their lstat, skipping ones that vanish."""
    out = []
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return []
    except OSError as exc:
        errors.append(ScanError(path, exc.strerror or str(exc)))
        return []
    for entry in entries:
        try:
            out.append((entry.name, entry.stat(follow_symlinks=False)))
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append(ScanError(entry.path, exc.strerror or str(exc)))
    return out


def open_regular(path: str, expected: os.stat_result | None = None, dir_fd: int | None = None) -> int:
    """Open a file for reading without following links or blocking; refuse anything but a regular file.

    With `expected`, also refuse a file whose dev/inode differ (it was replaced since it was listed).
    """
    fd = os.open(path, SAFE_OPEN, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")  # raw, like every message: escaped where shown
        if expected is not None and (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            raise OSError(f"{path} was replaced since it was listed")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_sem_value(
    path: str, st: os.stat_result, opener: Opener = open_regular
) -> tuple[int | None, int | None, str | None]:
    """(value, waiters, problem) of a POSIX named semaphore, read with pread: a hostile `sem.*` file cannot hurt."""
    if st.st_size < SEM_T_SIZE:
        return None, None, f"not a valid semaphore: {st.st_size} bytes (a sem_t is {SEM_T_SIZE})"
    try:
        fd = opener(path, st)
    except OSError as exc:
        return None, None, exc.strerror or str(exc)
    try:
        data = os.pread(fd, 8, 0)
    finally:
        os.close(fd)
    if len(data) < 8:
        return None, None, "shrank while being read"
    value, nwaiters = struct.unpack("=II", data)  # glibc: 64-bit word, value low half, waiters high half
    return value & 0x7FFFFFFF, nwaiters, None


Entry = tuple[str, os.stat_result, KindInfo]  # (name, lstat, what the object itself says)
MqEntry = tuple[str, os.stat_result, PosixMqInfo]


def _listing(
    path: str, errors: list[ScanError], beneath: Beneath | None
) -> tuple[list[tuple[str, os.stat_result]], Opener]:
    """The entries of a /dev/shm or /dev/mqueue directory and the opener for its files: here, or under `beneath`."""
    if beneath is None:
        return list_dir(path, errors), open_regular
    return beneath.list(path, errors), beneath.open


def read_shm_dir(shm_dir: str, errors: list[ScanError], beneath: Beneath | None = None) -> list[Entry]:
    """Regular files in /dev/shm with their own fields (a semaphore's value); needs no holder index.
    With `beneath`, `shm_dir` is relative to another view's root."""
    out: list[Entry] = []
    listing, opener = _listing(shm_dir, errors, beneath)
    for name, st in listing:
        if not stat_mod.S_ISREG(st.st_mode):
            continue  # FIFOs and sockets are found by the file walk; links and devices are not IPC objects
        info: KindInfo
        mtime, ctime = int(st.st_mtime), int(st.st_ctime)
        if name.startswith(SEM_PREFIX):
            value, nwaiters, problem = read_sem_value(os.path.join(shm_dir, name), st, opener)
            info = PosixSemInfo(st.st_gid, mtime, ctime, value, nwaiters, problem)
        else:
            info = PosixShmInfo(st.st_gid, mtime, ctime, st.st_blocks * 512)
        out.append((name, st, info))
    return out


def shm_dir_objects(entries: list[Entry], index: HolderIndex, ns: Namespace | None = None) -> list[IpcObject]:
    """POSIX shared memory objects and named semaphores, with their holders."""
    out = []
    now = time.time()
    for name, st, info in entries:
        holders = index.holders(index.files.get((st.st_dev, st.st_ino), ()))
        if isinstance(info, PosixSemInfo):
            kind, shown = Kind.POSIX_SEM, name.removeprefix(SEM_PREFIX)
            stale_reason = None if holders or not index.complete else "no process has it mapped"
        else:
            kind, shown = Kind.POSIX_SHM, name
            stale_reason = None
            if not holders and index.complete:
                stale_reason = f"no process has it open or mapped; last written {ago(now - st.st_mtime)} ago"
        out.append(
            file_object(kind, shown, st, size=st.st_size, holders=holders, stale_reason=stale_reason, info=info, ns=ns)
        )
    return out


def _read_queue(path: str, st: os.stat_result, opener: Opener) -> PosixMqInfo:
    fd = opener(path, st)
    try:
        status = parse_mqueue_status(os.pread(fd, 256, 0))
        _, maxmsg, msgsize, curmsgs = libc_read.mq_getattr(fd)
    finally:
        os.close(fd)
    notify_pid = status.get("notify_pid", 0)
    return PosixMqInfo(
        st.st_gid,
        int(st.st_mtime),
        qsize=status.get("qsize"),
        messages=curmsgs,
        max_messages=maxmsg,
        message_size=msgsize,
        notify=NOTIFY_KINDS.get(status.get("notify", 1), "?") if notify_pid else "none",
        notify_signal=status.get("signo") if notify_pid else None,
        notify_pid=notify_pid or None,
    )


def read_mqueue_dir(mqueue_dir: str, errors: list[ScanError], beneath: Beneath | None = None) -> list[MqEntry]:
    """Queues in /dev/mqueue with their attributes and notify registrant; needs no holder index.
    With `beneath`, `mqueue_dir` is relative to another view's root."""
    out: list[MqEntry] = []
    listing, opener = _listing(mqueue_dir, errors, beneath)
    for name, st in listing:
        if not stat_mod.S_ISREG(st.st_mode):
            continue
        # reading a queue's status sets its atime and ctime, so they would only say when we last looked; its mtime
        # is set by mq_send and mq_receive (and creation) alone: the time of its last message activity
        info: PosixMqInfo
        try:
            info = _read_queue(os.path.join(mqueue_dir, name), st, opener)
        except FileNotFoundError:
            continue
        except OSError as exc:
            info = PosixMqInfo(st.st_gid, int(st.st_mtime), *(None,) * 7, problem=exc.strerror or str(exc))
        out.append((name, st, info))
    return out


def mqueue_objects(entries: list[MqEntry], index: HolderIndex, ns: Namespace | None = None) -> list[IpcObject]:
    out = []
    now = time.time()
    for name, st, info in entries:
        holders = index.holders(index.files.get((st.st_dev, st.st_ino), ()))
        stale_reason = None
        if not holders and not info.notify_pid and index.complete:
            messages = "?" if info.messages is None else info.messages
            stale_reason = (
                f"no process has it open; {messages} message(s) queued; "
                f"no message sent or received for {ago(now - st.st_mtime)}"
            )
        out.append(
            file_object(
                Kind.POSIX_MQ,
                name,
                st,
                size=info.qsize,
                holders=holders,
                stale_reason=stale_reason,
                info=info,
                ns=ns,
            )
        )
    return out
