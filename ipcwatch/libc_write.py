"""The write half of the libc calls: SysV removal by id, message send and receive, semaphore operations and
SETVAL, for the actions (ipcwatch.actions) alone; the scan reads through libc_read and never imports this.

Every wrapper raises OSError with the real errno.
"""

from __future__ import annotations

import ctypes

from ipcwatch.kinds import Kind
from ipcwatch.libc_read import LIBC, check

IPC_NOWAIT = 0o4000
IPC_RMID = 0
SETVAL = 16
MSG_NOERROR = 0o10000
MSG_COPY = 0o40000  # copy message number `msgtyp` without removing it (needs CONFIG_CHECKPOINT_RESTORE)

_LONG = ctypes.sizeof(ctypes.c_long)

_msgrcv = LIBC.msgrcv
_msgrcv.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long, ctypes.c_int)
_msgrcv.restype = ctypes.c_ssize_t
_msgsnd = LIBC.msgsnd
_msgsnd.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_msgsnd.restype = ctypes.c_int
_shmctl = LIBC.shmctl
_shmctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_shmctl.restype = ctypes.c_int
_semtimedop = LIBC.semtimedop
_semtimedop.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_semtimedop.restype = ctypes.c_int


class _Sembuf(ctypes.Structure):
    _fields_ = (("sem_num", ctypes.c_ushort), ("sem_op", ctypes.c_short), ("sem_flg", ctypes.c_short))


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


def msgrcv(msqid: int, max_size: int, msgtyp: int, flags: int) -> tuple[int, bytes]:
    """(mtype, body) of one message; with MSG_COPY, `msgtyp` is the message's index and nothing is removed."""
    buf = ctypes.create_string_buffer(_LONG + max_size)
    n = check(_msgrcv(msqid, buf, max_size, msgtyp, flags))
    mtype = ctypes.c_long.from_buffer(buf).value
    return mtype, buf.raw[_LONG : _LONG + n]


def msgsnd(msqid: int, mtype: int, body: bytes, flags: int) -> None:
    """Send one message of type `mtype` (> 0) to the queue with this id."""
    buf = ctypes.create_string_buffer(_LONG + len(body))
    ctypes.c_long.from_buffer(buf).value = mtype
    ctypes.memmove(ctypes.addressof(buf) + _LONG, body, len(body))
    check(_msgsnd(msqid, buf, len(body), flags))


def semop(semid: int, num: int, delta: int, timeout: float | None, flags: int = 0) -> None:
    """Add `delta` to semaphore `num` (negative: wait until it can), giving up after `timeout` seconds (EAGAIN)."""
    op = _Sembuf(num, delta, flags)
    ts = None
    if timeout is not None:
        timeout = max(0.0, timeout)
        ts = _Timespec(int(timeout), int((timeout - int(timeout)) * 1e9))
    check(_semtimedop(semid, ctypes.byref(op), 1, None if ts is None else ctypes.byref(ts)))


def semctl_setval(semid: int, num: int, value: int) -> None:
    """SETVAL: set semaphore `num` of the set to `value` (wakes waiters it satisfies; clears undo entries)."""
    check(LIBC.semctl(ctypes.c_int(semid), ctypes.c_int(num), ctypes.c_int(SETVAL), ctypes.c_ulong(value)))


_RMID = {
    Kind.SYSV_SHM: lambda ipc_id: _shmctl(ipc_id, IPC_RMID, None),
    Kind.SYSV_MSG: lambda ipc_id: LIBC.msgctl(ipc_id, IPC_RMID, None),
    Kind.SYSV_SEM: lambda ipc_id: LIBC.semctl(ctypes.c_int(ipc_id), ctypes.c_int(0), ctypes.c_int(IPC_RMID)),
}


def ipc_rmid(kind: str, ipc_id: int) -> None:
    """IPC_RMID by id for a SysV kind (works on IPC_PRIVATE objects too)."""
    rmid = _RMID.get(kind)  # type: ignore[call-overload]
    if rmid is None:
        raise ValueError(f"not a SysV kind: {kind}")
    check(rmid(ipc_id))
