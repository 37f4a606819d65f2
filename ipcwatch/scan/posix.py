"""POSIX shared memory and named semaphores (/dev/shm) and message queues (/dev/mqueue).

Entries are listed with lstat and opened O_NOFOLLOW|O_NONBLOCK, checked to be regular files, and read with
pread: never mmap (a truncate would SIGBUS us), never follow a planted symlink, never block on a FIFO.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
import struct
import time
from collections.abc import Callable

from ipcwatch.kinds import Kind, spec
from ipcwatch.native.posixread import NOT_REGULAR, REPLACED, FileRead, Lstat, read_files
from ipcwatch.procfs import stat_identity
from ipcwatch.scan.info import KindInfo, PosixMqInfo, PosixSemInfo, PosixShmInfo
from ipcwatch.scan.model import Holder, IpcObject, ScanError
from ipcwatch.scan.namespaces import Namespace, qualified_ref
from ipcwatch.scan.nsread import list_open_dir, open_beneath
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
    st: Lstat,
    *,
    size: int | None,
    holders: tuple[Holder, ...],
    stale_reason: str | None,
    info: KindInfo,
    ns: Namespace | None = None,
) -> IpcObject:
    """An object that is a file (/dev/shm, /dev/mqueue, a socket file): owner, mode and identity from its lstat.
    `ns`: the namespace of another view than the scanner's (its ref is qualified with it)."""
    return IpcObject(  # positional, in field order: 0.5 us less per object than keywords
        qualified_ref(kind, name, ns),  # ref
        kind,  # kind
        name,  # name
        None,  # id
        None,  # key
        user_name(st.st_uid),  # owner
        st.st_uid,  # uid
        stat_mod.S_IMODE(st.st_mode),  # mode
        size,  # size
        holders,  # holders
        stale_reason is not None,  # stale
        stale_reason,  # stale_reason
        stat_identity(st),  # identity
        info,  # info
        (),  # waiters
        ns,  # namespace
    )


Opener = Callable[[str, os.stat_result], int]  # (path, lstat) -> fd on that very regular file, or OSError


class Beneath:
    """A directory of another mount namespace's view, under its root fd (/proc/PID/root): opened without following
    any symlink (ipcwatch.scan.nsread), paths relative to that root."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd


def open_regular(path: str, expected: os.stat_result | None = None, dir_fd: int | None = None) -> int:
    """Open a file for reading without following links or blocking; refuse anything but a regular file.

    With `expected`, also refuse a file whose dev/inode differ (it was replaced since it was listed).
    """
    fd = os.open(path, SAFE_OPEN, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            raise OSError(_NOT_REGULAR.format(path))  # raw, like every message: escaped where shown
        if expected is not None and (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            raise OSError(_REPLACED.format(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


_NOT_REGULAR = "{} is not a regular file"
_REPLACED = "{} was replaced since it was listed"


def _read_problem(path: str, code: int) -> str:
    """What a `read_files` code (an errno, NOT_REGULAR or REPLACED) says, as open_regular's OSError says it."""
    if code == NOT_REGULAR:
        return _NOT_REGULAR.format(path)
    if code == REPLACED:
        return _REPLACED.format(path)
    return os.strerror(code)


def sem_word(data: bytes) -> tuple[int | None, int | None, str | None]:
    """(value, waiters, problem) from the first 8 bytes of a sem_t (glibc: value low half, waiters high half)."""
    if len(data) < 8:
        return None, None, "shrank while being read"
    value, nwaiters = struct.unpack_from("=II", data)
    return value & 0x7FFFFFFF, nwaiters, None


def _too_small(st: Lstat | os.stat_result) -> str:
    return f"not a valid semaphore: {st.st_size} bytes (a sem_t is {SEM_T_SIZE})"


def read_sem_value(
    path: str, st: os.stat_result, opener: Opener = open_regular
) -> tuple[int | None, int | None, str | None]:
    """(value, waiters, problem) of a POSIX named semaphore, read with pread: a hostile `sem.*` file cannot hurt."""
    if st.st_size < SEM_T_SIZE:
        return None, None, _too_small(st)
    try:
        fd = opener(path, st)
    except OSError as exc:
        return None, None, exc.strerror or str(exc)
    try:
        data = os.pread(fd, 8, 0)
    finally:
        os.close(fd)
    return sem_word(data)


Entry = tuple[str, Lstat, KindInfo]  # (name, lstat, what the object itself says)
MqEntry = tuple[str, Lstat, PosixMqInfo]
Files = list[tuple[str, Lstat]]


def _regular_files(path: str, errors: list[ScanError], beneath: Beneath | None) -> tuple[int, Files] | None:
    """(an fd on the directory, its regular files with their lstat) of a /dev/shm or /dev/mqueue directory: here,
    or under `beneath`; None when it cannot be read. FIFOs and sockets are found by the file walk; links and
    devices are not IPC objects."""
    try:
        if beneath is None:
            dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            dir_fd = open_beneath(beneath.root_fd, path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        errors.append(ScanError(path, exc.strerror or str(exc)))
        return None
    try:
        return dir_fd, [(name, st) for name, st in list_open_dir(dir_fd, path, errors) if stat_mod.S_ISREG(st.st_mode)]
    except OSError as exc:
        os.close(dir_fd)
        errors.append(ScanError(path, exc.strerror or str(exc)))
        return None


def _read(dir_fd: int, files: Files, nbytes: int, mq_attrs: bool) -> list[FileRead]:
    """Each file's first bytes (and queue attributes), in one call (ipcwatch.native.posixread); the fd is closed."""
    try:
        return read_files(dir_fd, [(name, st.st_dev, st.st_ino) for name, st in files], nbytes, mq_attrs)
    finally:
        os.close(dir_fd)


def read_shm_dir(shm_dir: str, errors: list[ScanError], beneath: Beneath | None = None) -> list[Entry]:
    """Regular files in /dev/shm with their own fields (a semaphore's value); needs no holder index.
    With `beneath`, `shm_dir` is relative to another view's root."""
    found = _regular_files(shm_dir, errors, beneath)
    if found is None:
        return []
    dir_fd, files = found
    sems = [(name, st) for name, st in files if name.startswith(SEM_PREFIX) and st.st_size >= SEM_T_SIZE]
    words = dict(zip([name for name, _ in sems], _read(dir_fd, sems, 8, False), strict=True))
    out: list[Entry] = []
    for name, st in files:
        info: KindInfo
        mtime, ctime = int(st.st_mtime), int(st.st_ctime)
        if name.startswith(SEM_PREFIX):
            read = words.get(name)
            if read is None:
                value, nwaiters, problem = None, None, _too_small(st)
            elif isinstance(read, int):
                value, nwaiters, problem = None, None, _read_problem(os.path.join(shm_dir, name), read)
            else:
                value, nwaiters, problem = sem_word(read[0])
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


def _queue_info(st: Lstat, status: bytes, attrs: tuple[int, int, int, int]) -> PosixMqInfo:
    fields = parse_mqueue_status(status)
    _, maxmsg, msgsize, curmsgs = attrs
    notify_pid = fields.get("notify_pid", 0)
    return PosixMqInfo(  # positional, in field order (a NamedTuple's keywords cost half as much again)
        st.st_gid,
        int(st.st_mtime),
        fields.get("qsize"),  # qsize
        curmsgs,  # messages
        maxmsg,  # max_messages
        msgsize,  # message_size
        NOTIFY_KINDS.get(fields.get("notify", 1), "?") if notify_pid else "none",  # notify
        fields.get("signo") if notify_pid else None,  # notify_signal
        notify_pid or None,  # notify_pid
    )


def read_mqueue_dir(mqueue_dir: str, errors: list[ScanError], beneath: Beneath | None = None) -> list[MqEntry]:
    """Queues in /dev/mqueue with their attributes and notify registrant; needs no holder index.
    With `beneath`, `mqueue_dir` is relative to another view's root."""
    found = _regular_files(mqueue_dir, errors, beneath)
    if found is None:
        return []
    dir_fd, files = found
    out: list[MqEntry] = []
    # reading a queue's status sets its atime and ctime, so they would only say when we last looked; its mtime
    # is set by mq_send and mq_receive (and creation) alone: the time of its last message activity
    for (name, st), read in zip(files, _read(dir_fd, files, 256, True), strict=True):
        info: PosixMqInfo
        if read == errno.ENOENT:
            continue  # removed since it was listed
        if isinstance(read, int):
            problem = _read_problem(os.path.join(mqueue_dir, name), read)
            info = PosixMqInfo(st.st_gid, int(st.st_mtime), *(None,) * 7, problem=problem)
        else:
            info = _queue_info(st, read[0], read[1])  # type: ignore[arg-type]
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
