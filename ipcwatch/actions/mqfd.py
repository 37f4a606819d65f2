"""A POSIX queue of another IPC namespace, used through an fd of its /dev/mqueue file (mq_open cannot reach it).

Any fd opened on the mqueue filesystem is a queue descriptor, so mq_timedsend/mq_timedreceive work on an fd opened
with nsread.open_view_dir under the root of a process in that namespace; no namespace is joined. `FdQueue` has
the shape of the posix_ipc.MessageQueue calls the actions use (non-blocking: a full or empty queue raises
posix_ipc.BusyError; a message over the queue's size raises ValueError).
"""

from __future__ import annotations

import ctypes
import errno
import os

import posix_ipc

from ipcwatch import libc_read

_libc = ctypes.CDLL(None, use_errno=True)
_send = _libc.mq_timedsend
_send.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_void_p)
_send.restype = ctypes.c_int
_receive = _libc.mq_timedreceive
_receive.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p)
_receive.restype = ctypes.c_ssize_t


def _raise(what: str) -> None:
    err = ctypes.get_errno()
    if err == errno.EAGAIN:
        raise posix_ipc.BusyError(f"{what}: the queue is {'full' if what == 'send' else 'empty'}")
    if err == errno.EMSGSIZE:
        raise ValueError("the message is longer than the queue's message size")
    raise OSError(err, os.strerror(err))


class FdQueue:
    """A queue behind an fd this object owns (opened O_NONBLOCK: no call ever waits)."""

    def __init__(self, fd: int) -> None:
        self.mqd = fd

    def send(self, body: bytes, priority: int = 0) -> None:
        if _send(self.mqd, body, len(body), priority, None) != 0:
            _raise("send")

    def receive(self) -> tuple[bytes, int]:
        size = libc_read.mq_getattr(self.mqd)[2]
        buf, prio = ctypes.create_string_buffer(max(size, 1)), ctypes.c_uint()
        got = _receive(self.mqd, buf, size, ctypes.byref(prio), None)
        if got < 0:
            _raise("receive")
        return buf.raw[:got], prio.value

    def close(self) -> None:
        if self.mqd >= 0:
            os.close(self.mqd)
            self.mqd = -1
