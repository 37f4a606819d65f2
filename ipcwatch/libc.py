"""Thin ctypes wrappers for the SysV and mqueue calls that sysv_ipc/posix_ipc do not offer by id or by fd.

sysv_ipc opens objects by key only, so IPC_PRIVATE objects (key 0) are unreachable through it; these calls
work on the id the kernel lists. Every wrapper raises OSError with the real errno.
"""

from __future__ import annotations

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)

IPC_STAT = 2
MSG_STAT_ANY = 13
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT = 11, 12, 13, 14, 15

# struct msqid_ds on 64-bit Linux (x86-64 and the generic layout used by aarch64 agree):
# ipc_perm (48 bytes), stime, rtime, ctime, cbytes, qnum, qbytes (8 each), lspid, lrpid (4 each), 2 x reserved.
_MSQID_DS_SIZE = 120
_MSG_QBYTES_OFFSET = 88

_semctl = _libc.semctl
_semctl.restype = ctypes.c_int
_msgctl = _libc.msgctl
_msgctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_msgctl.restype = ctypes.c_int
_mq_getattr = _libc.mq_getattr
_mq_getattr.argtypes = (ctypes.c_int, ctypes.c_void_p)
_mq_getattr.restype = ctypes.c_int


def _check(result: int) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def semctl(semid: int, semnum: int, cmd: int) -> int:
    """semctl for the commands that take no argument (GETVAL, GETPID, GETNCNT, GETZCNT)."""
    return _check(_semctl(ctypes.c_int(semid), ctypes.c_int(semnum), ctypes.c_int(cmd)))


def msg_qbytes(msqid: int) -> int:
    """The queue's byte limit (msg_qbytes). Falls back to MSG_STAT_ANY when IPC_STAT is not permitted."""
    buf = ctypes.create_string_buffer(_MSQID_DS_SIZE + 64)
    try:
        _check(_msgctl(msqid, IPC_STAT, buf))
    except PermissionError:
        # MSG_STAT_ANY takes the table index and returns the id found there; accept only our id.
        for index in (msqid & 0x7FFF, msqid & 0xFFFFFF):
            if _msgctl(index, MSG_STAT_ANY, buf) == msqid:
                break
        else:
            raise
    return struct.unpack_from("=Q", buf, _MSG_QBYTES_OFFSET)[0]


def mq_getattr(fd: int) -> tuple[int, int, int, int]:
    """(flags, maxmsg, msgsize, curmsgs) of a POSIX queue; any fd opened on the mqueue fs is a queue descriptor."""
    buf = ctypes.create_string_buffer(64)
    _check(_mq_getattr(fd, buf))
    flags, maxmsg, msgsize, curmsgs = struct.unpack_from("=4q", buf, 0)
    return flags, maxmsg, msgsize, curmsgs


# --- used by the actions (ipcwatch.actions): peek, send, receive, semaphore operations, removal by id -----------

IPC_NOWAIT = 0o4000
IPC_RMID = 0
SETVAL = 16
MSG_NOERROR = 0o10000
MSG_COPY = 0o40000  # copy message number `msgtyp` without removing it (needs CONFIG_CHECKPOINT_RESTORE)

_LONG = ctypes.sizeof(ctypes.c_long)

_msgrcv = _libc.msgrcv
_msgrcv.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long, ctypes.c_int)
_msgrcv.restype = ctypes.c_ssize_t
_msgsnd = _libc.msgsnd
_msgsnd.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_msgsnd.restype = ctypes.c_int
_shmctl = _libc.shmctl
_shmctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_shmctl.restype = ctypes.c_int
_semtimedop = _libc.semtimedop
_semtimedop.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_semtimedop.restype = ctypes.c_int


class _Sembuf(ctypes.Structure):
    _fields_ = (("sem_num", ctypes.c_ushort), ("sem_op", ctypes.c_short), ("sem_flg", ctypes.c_short))


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


def msgrcv(msqid: int, max_size: int, msgtyp: int, flags: int) -> tuple[int, bytes]:
    """(mtype, body) of one message; with MSG_COPY, `msgtyp` is the message's index and nothing is removed."""
    buf = ctypes.create_string_buffer(_LONG + max_size)
    n = _check(_msgrcv(msqid, buf, max_size, msgtyp, flags))
    mtype = ctypes.c_long.from_buffer(buf).value
    return mtype, buf.raw[_LONG : _LONG + n]


def msgsnd(msqid: int, mtype: int, body: bytes, flags: int) -> None:
    """Send one message of type `mtype` (> 0) to the queue with this id."""
    buf = ctypes.create_string_buffer(_LONG + len(body))
    ctypes.c_long.from_buffer(buf).value = mtype
    ctypes.memmove(ctypes.addressof(buf) + _LONG, body, len(body))
    _check(_msgsnd(msqid, buf, len(body), flags))


def semop(semid: int, num: int, delta: int, timeout: float | None, flags: int = 0) -> None:
    """Add `delta` to semaphore `num` (negative: wait until it can), giving up after `timeout` seconds (EAGAIN)."""
    op = _Sembuf(num, delta, flags)
    ts = None
    if timeout is not None:
        timeout = max(0.0, timeout)
        ts = _Timespec(int(timeout), int((timeout - int(timeout)) * 1e9))
    _check(_semtimedop(semid, ctypes.byref(op), 1, None if ts is None else ctypes.byref(ts)))


def semctl_setval(semid: int, num: int, value: int) -> None:
    """SETVAL: set semaphore `num` of the set to `value` (wakes waiters it satisfies; clears undo entries)."""
    _check(_semctl(ctypes.c_int(semid), ctypes.c_int(num), ctypes.c_int(SETVAL), ctypes.c_ulong(value)))


def ipc_rmid(kind: str, ipc_id: int) -> None:
    """IPC_RMID by id for `sysv-shm`, `sysv-msg` or `sysv-sem` (works on IPC_PRIVATE objects too)."""
    if kind == "sysv-shm":
        _check(_shmctl(ipc_id, IPC_RMID, None))
    elif kind == "sysv-msg":
        _check(_msgctl(ipc_id, IPC_RMID, None))
    elif kind == "sysv-sem":
        _check(_semctl(ctypes.c_int(ipc_id), ctypes.c_int(0), ctypes.c_int(IPC_RMID)))
    else:
        raise ValueError(f"not a SysV kind: {kind}")
