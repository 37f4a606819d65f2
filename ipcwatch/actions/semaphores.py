"""Semaphore operations: SysV post/wait/set by id, POSIX named post/wait in a short-lived child process.

SEM_UNDO is deliberately NOT used: the operator's post or wait is meant to stay done after ipcwatch exits (a
post that unblocks a stuck consumer, a wait that takes a token away). With SEM_UNDO the kernel would revert the
adjustment when ipcwatch exits, silently undoing the action a moment after reporting it done.

Waits always have a timeout (semtimedop / sem_timedwait): nothing here blocks forever. POSIX semaphores are
touched only in a child: any user can plant a `sem.*` file that SIGBUSes whoever operates on it (HOSTILE 6), so
the parent opens it O_NOFOLLOW, checks it is a regular file of at least 32 bytes with the inode the user saw, and
hands that very descriptor to the child, which maps it and calls sem_post/sem_timedwait; the child is killed if
it overruns.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
import subprocess
import sys
import time

from ipcwatch import libc_read, libc_write
from ipcwatch.actions.outcome import Outcome, Status, done, failed, from_oserror, read_only_refusal, refused
from ipcwatch.actions.verify import in_its_namespace, recheck
from ipcwatch.kinds import Kind, spec
from ipcwatch.procfs import stat_identity
from ipcwatch.scan import IpcObject, ScanConfig
from ipcwatch.scan.namespaces import in_other_namespace
from ipcwatch.scan.nsread import open_view_dir
from ipcwatch.scan.posix import SEM_PREFIX, SEM_T_SIZE, open_regular, read_sem_value
from ipcwatch.scan.sysv import read_semaphores

DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 3600.0
CHILD_GRACE = 10.0  # seconds the child may take beyond the wait timeout (interpreter start on a loaded host)
SEMVMX = 32767
EXIT_TIMED_OUT = 10

# The child: argv = fd op count timeout. Maps the inherited, already checked fd and operates on the sem_t in it.
_CHILD = """
import ctypes, mmap, os, sys, time
fd, op, count, timeout = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
libc = ctypes.CDLL(None, use_errno=True)
area = mmap.mmap(fd, 32)
sem = ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(area)))
class Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))
for _ in range(count):
    if op == "post":
        rc = libc.sem_post(sem)
    else:
        deadline = time.time() + timeout
        rc = libc.sem_timedwait(sem, ctypes.byref(Timespec(int(deadline), int(deadline % 1 * 1e9))))
        while rc != 0 and ctypes.get_errno() == 4:
            rc = libc.sem_timedwait(sem, ctypes.byref(Timespec(int(deadline), int(deadline % 1 * 1e9))))
    if rc != 0:
        err = ctypes.get_errno()
        print(err, flush=True)
        sys.exit(10 if err == 110 else 1)
value = ctypes.c_int()
libc.sem_getvalue(sem, ctypes.byref(value))
print(value.value, flush=True)
"""


def _timeout(timeout: float | None) -> float:
    return min(max(0.0, DEFAULT_TIMEOUT if timeout is None else timeout), MAX_TIMEOUT)


# --- SysV ------------------------------------------------------------------------------------------------------


def _sysv_checked(obj: IpcObject, num: int, config: ScanConfig | None) -> int | Outcome:
    found = recheck(obj.ref, obj.identity, config)
    if isinstance(found, Outcome):
        return found
    nsems = found.value("nsems") or 0
    if not 0 <= num < nsems:
        return refused(f"{obj.ref} has {nsems} semaphore(s); there is no number {num}")
    return found.id if found.id is not None else -1


def _sysv_value(semid: int, num: int) -> int | None:
    try:
        return libc_read.semctl(semid, num, libc_read.GETVAL)
    except OSError:
        return None


def _sysv_op(obj: IpcObject, num: int, delta: int, timeout: float | None, config: ScanConfig | None) -> Outcome:
    verb = "post" if delta > 0 else "wait"
    what = f"{verb} {abs(delta)} on {obj.ref} semaphore {num}"
    semid = _sysv_checked(obj, num, config)
    if isinstance(semid, Outcome):
        return semid
    limit = _timeout(timeout)
    return in_its_namespace(obj, lambda: _semop(semid, num, delta, limit, what), what, limit)


def _semop(semid: int, num: int, delta: int, limit: float, what: str) -> Outcome:
    """semop without SEM_UNDO, retried on EINTR until `limit` seconds have passed (a wait)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            libc_write.semop(semid, num, delta, None if delta > 0 else max(0.0, deadline - time.monotonic()))
            break
        except OSError as exc:
            if exc.errno == errno.EINTR and time.monotonic() < deadline:
                continue
            if exc.errno == errno.EAGAIN:
                return Outcome(Status.TIMED_OUT, f"{what}: timed out after {limit:g} s; the value was not changed")
            if exc.errno == errno.ERANGE:
                return failed(f"{what}: the value would exceed the maximum ({SEMVMX})")
            return from_oserror(exc, what)
    value = _sysv_value(semid, num)
    return done(f"{what}: done; value now {'?' if value is None else value}", value)


def sysv_set(
    obj: IpcObject, value: int, *, num: int = 0, read_only: bool = False, config: ScanConfig | None = None
) -> Outcome:
    """SETVAL (confirm first: it overrides whatever the programs using the set believe, and clears undo entries)."""
    what = f"set {obj.ref} semaphore {num} to {value}"
    if read_only:
        return read_only_refusal(what)
    if not 0 <= value <= SEMVMX:
        return refused(f"a semaphore value must be between 0 and {SEMVMX}")
    try:
        semid = _sysv_checked(obj, num, config)
        if isinstance(semid, Outcome):
            return semid
        return in_its_namespace(obj, lambda: _setval(semid, num, value, what), what)
    except OSError as exc:
        return from_oserror(exc, what)
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"{what}: {exc}")


def _setval(semid: int, num: int, value: int, what: str) -> Outcome:
    libc_write.semctl_setval(semid, num, value)
    return done(f"{what}: done", _sysv_value(semid, num))


# --- POSIX -----------------------------------------------------------------------------------------------------


def _shm_dir_fd(obj: IpcObject, shm_dir: str) -> int:
    """A directory fd on the /dev/shm that shows `obj`: ours, or its mount namespace's opened under a member's root."""
    if in_other_namespace(obj.ref):
        return open_view_dir(obj.namespace, spec(Kind.POSIX_SEM).view_dir)
    return os.open(shm_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _open_checked_sem(obj: IpcObject, shm_dir: str) -> int | Outcome:
    """An O_RDWR fd on the semaphore file, only if it is a regular file >= 32 bytes with the identity shown."""
    name = SEM_PREFIX + (obj.name or "")
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        if "/" in name:
            return refused(f"{obj.ref}: {name!r} is not a plain directory entry")
        dir_fd = _shm_dir_fd(obj, shm_dir)
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return refused(f"{obj.ref} is a symbolic link; not followed")
        return from_oserror(exc, f"open {obj.ref}")
    st = os.fstat(fd)
    problem = None
    if not stat_mod.S_ISREG(st.st_mode):
        problem = "is not a regular file"
    elif st.st_size < SEM_T_SIZE:
        problem = f"is not a valid semaphore ({st.st_size} bytes; a sem_t is {SEM_T_SIZE})"
    elif stat_identity(st) != obj.identity or (obj.uid is not None and st.st_uid != obj.uid):
        problem = "was replaced by another file since it was shown"
    if problem:
        os.close(fd)
        return refused(f"{obj.ref} {problem}; nothing was changed")
    return fd


def _posix_op(obj: IpcObject, op: str, count: int, timeout: float | None, shm_dir: str) -> Outcome:
    what = f"{op} {count} on {obj.ref}"
    if op == "wait" and count != 1:
        return refused("a POSIX semaphore is waited on one token at a time (count 1)")
    fd = _open_checked_sem(obj, shm_dir)
    if isinstance(fd, Outcome):
        return fd
    limit = _timeout(timeout)
    try:
        child = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD, str(fd), op, str(count), repr(limit)],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=limit + CHILD_GRACE,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(Status.TIMED_OUT, f"{what}: the helper process overran and was killed")
    finally:
        os.close(fd)
    out = child.stdout.strip()
    if child.returncode == 0:
        return done(f"{what}: done; value now {out}", int(out) if out.lstrip("-").isdigit() else None)
    if child.returncode == EXIT_TIMED_OUT:
        return Outcome(Status.TIMED_OUT, f"{what}: timed out after {limit:g} s; the value was not changed")
    if child.returncode < 0:
        return failed(f"{what}: the helper process was killed by signal {-child.returncode} (file changed under it?)")
    code = int(out) if out.isdigit() else 0
    return failed(f"{what}: {os.strerror(code) if code else 'helper process failed'}")


# --- both ------------------------------------------------------------------------------------------------------


def post(
    obj: IpcObject,
    count: int = 1,
    *,
    num: int = 0,
    read_only: bool = False,
    config: ScanConfig | None = None,
) -> Outcome:
    """Add `count` to the semaphore (never blocks)."""
    return _operate(obj, "post", count, num, None, read_only, config)


def wait(
    obj: IpcObject,
    count: int = 1,
    *,
    num: int = 0,
    timeout: float | None = DEFAULT_TIMEOUT,
    read_only: bool = False,
    config: ScanConfig | None = None,
) -> Outcome:
    """Take `count` from the semaphore, waiting at most `timeout` seconds (blocks the calling thread until then)."""
    return _operate(obj, "wait", count, num, timeout, read_only, config)


def _operate(
    obj: IpcObject, op: str, count: int, num: int, timeout: float | None, read_only: bool, config: ScanConfig | None
) -> Outcome:
    what = f"{op} {count} on {obj.ref}"
    if read_only:
        return read_only_refusal(what)
    if not 1 <= count <= SEMVMX:
        return refused(f"the count must be between 1 and {SEMVMX}")
    try:
        if obj.kind == Kind.SYSV_SEM:
            return _sysv_op(obj, num, count if op == "post" else -count, timeout, config)
        if obj.kind == Kind.POSIX_SEM:
            return _posix_op(obj, op, count, timeout, (config or ScanConfig()).shm_dir)
        return refused(f"{obj.ref} is a {obj.kind}, not a semaphore")
    except OSError as exc:
        return from_oserror(exc, what)
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"{what}: {exc}")


def values(obj: IpcObject, config: ScanConfig | None = None) -> Outcome:
    """Current values: a list of {num, value, ncnt, zcnt, pid} (SysV) or [{num: 0, value, waiters}] (POSIX)."""
    try:
        if obj.kind == Kind.SYSV_SEM:
            sems = read_semaphores(obj.id if obj.id is not None else -1, obj.value("nsems") or 0)
            if sems is None:
                return Outcome(Status.DENIED, f"{obj.ref}: the values cannot be read (gone or not permitted)")
            return done(f"{obj.ref}: {len(sems)} semaphore(s)", [s.to_json() for s in sems])
        if obj.kind == Kind.POSIX_SEM:
            name = SEM_PREFIX + (obj.name or "")
            if "/" in name:
                return refused(f"{obj.ref}: {name!r} is not a plain directory entry")
            dir_fd = _shm_dir_fd(obj, (config or ScanConfig()).shm_dir)
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if stat_identity(st) != obj.identity:
                    return refused(f"{obj.ref} was replaced by another file since it was shown")
                value, waiters, problem = read_sem_value(name, st, lambda n, s: open_regular(n, s, dir_fd=dir_fd))
            finally:
                os.close(dir_fd)
            if problem:
                return failed(f"{obj.ref}: {problem}")
            return done(f"{obj.ref}: value {value}", [{"num": 0, "value": value, "waiters": waiters}])
        return refused(f"{obj.ref} is a {obj.kind}, not a semaphore")
    except OSError as exc:
        return from_oserror(exc, f"read {obj.ref}")
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"read {obj.ref}: {exc}")
