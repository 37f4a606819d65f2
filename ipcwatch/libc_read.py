"""The read half of the libc calls (the scan's): thin ctypes wrappers for the SysV and mqueue reads that
sysv_ipc/posix_ipc do not offer by id or by fd. Nothing here changes an object (the write half is libc_write).

sysv_ipc opens objects by key only, so IPC_PRIVATE objects (key 0) are unreachable through it; these calls
work on the id the kernel lists. Every wrapper raises OSError with the real errno.
"""

from __future__ import annotations

import ctypes
import os
import struct

LIBC = ctypes.CDLL(None, use_errno=True)

IPC_STAT = 2
MSG_STAT_ANY = 13
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT = 11, 12, 13, 14, 15

# struct msqid_ds on 64-bit Linux (x86-64 and the generic layout used by aarch64 agree):
# ipc_perm (48 bytes), stime, rtime, ctime, cbytes, qnum, qbytes (8 each), lspid, lrpid (4 each), 2 x reserved.
_MSQID_DS_SIZE = 120
_MSG_QBYTES_OFFSET = 88

# Its own function object (LIBC["..."] is not cached): the reads pass three ints, so they are typed once here
# instead of wrapped per call; libc_write's LIBC.semctl passes a fourth argument.
_semctl = LIBC["semctl"]
_semctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
_semctl.restype = ctypes.c_int
_msgctl = LIBC.msgctl
_msgctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_msgctl.restype = ctypes.c_int
_mq_getattr = LIBC.mq_getattr
_mq_getattr.argtypes = (ctypes.c_int, ctypes.c_void_p)
_mq_getattr.restype = ctypes.c_int


def check(result: int) -> int:
    """`result`, or OSError with the call's errno when it is -1."""
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def semctl(semid: int, semnum: int, cmd: int) -> int:
    """semctl for the commands that take no argument (GETVAL, GETPID, GETNCNT, GETZCNT)."""
    return check(_semctl(semid, semnum, cmd))


def msg_qbytes(msqid: int) -> int:
    """The queue's byte limit (msg_qbytes). Falls back to MSG_STAT_ANY when IPC_STAT is not permitted."""
    buf = ctypes.create_string_buffer(_MSQID_DS_SIZE + 64)
    try:
        check(_msgctl(msqid, IPC_STAT, buf))
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
    check(_mq_getattr(fd, buf))
    flags, maxmsg, msgsize, curmsgs = struct.unpack_from("=4q", buf, 0)
    return flags, maxmsg, msgsize, curmsgs
