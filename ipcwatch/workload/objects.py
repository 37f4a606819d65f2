"""Making every kind of IPC object a workload needs (the demo, the test fixtures, the benchmarks' load generator).

The functions make one object each and hold nothing: SysV objects through libc (never attached, any number of
semaphores per set), POSIX objects exclusively (O_CREAT|O_EXCL), FIFOs, unix listeners (path or abstract) with
pending clients, and socket files nobody listens on. `Maker` adds a tag, a private directory
and a `Ledger`: everything it makes is recorded the moment it exists, so one `Ledger.remove_all` removes it.
"""

from __future__ import annotations

import ctypes
import os
import socket

import posix_ipc

from ipcwatch.kinds import Kind, parse_kind
from ipcwatch.record import record
from ipcwatch.workload.keys import KeyRange
from ipcwatch.workload.ledger import Ledger

IPC_CREAT, IPC_EXCL = 0o1000, 0o2000
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmget.argtypes = (ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
_libc.msgget.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.semget.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)


def _checked(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")  # EEXIST comes out as FileExistsError
    return result


def sysv_with_key(kind: str, key: int, *, size: int = 4096, nsems: int = 1, mode: int = 0o600) -> int:
    """Create a SysV object under `key` (IPC_CREAT|IPC_EXCL); its id. A segment is not attached."""
    flags = IPC_CREAT | IPC_EXCL | mode
    match parse_kind(kind):
        case Kind.SYSV_SHM:
            return _checked(_libc.shmget(key, size, flags), kind)
        case Kind.SYSV_MSG:
            return _checked(_libc.msgget(key, flags), kind)
        case Kind.SYSV_SEM:
            return _checked(_libc.semget(key, nsems, flags), kind)
    raise ValueError(f"not a SysV kind: {kind}")


def sysv(kind: str, keys: KeyRange, *, size: int = 4096, nsems: int = 1, mode: int = 0o600) -> tuple[int, int]:
    """Create a SysV object with a key of `keys` nobody uses; (id, key)."""
    return keys.create(lambda key: (sysv_with_key(kind, key, size=size, nsems=nsems, mode=mode), key))


def posix_shm(name: str, size: int = 4096, data: bytes = b"", mode: int = 0o600) -> posix_ipc.SharedMemory:
    """A new POSIX segment `/name` of `size` bytes starting with `data`; its fd is open (close_fd() to drop it)."""
    shm = posix_ipc.SharedMemory("/" + name, posix_ipc.O_CREX, mode=mode, size=size)
    if data:
        os.pwrite(shm.fd, data, 0)
    return shm


def posix_mq(
    name: str, max_messages: int = 8, max_message_size: int = 256, mode: int = 0o600
) -> posix_ipc.MessageQueue:
    return posix_ipc.MessageQueue(
        "/" + name, posix_ipc.O_CREX, mode=mode, max_messages=max_messages, max_message_size=max_message_size
    )


def posix_sem(name: str, initial: int = 0, mode: int = 0o600) -> posix_ipc.Semaphore:
    return posix_ipc.Semaphore("/" + name, posix_ipc.O_CREX, mode=mode, initial_value=initial)


def fifo(path: str, mode: int = 0o600) -> str:
    os.mkfifo(path, mode)
    return path


def unix_listener(address: str, backlog: int = 64, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A listening unix socket bound to a path, or to an abstract name when `address` starts with NUL."""
    listener = socket.socket(socket.AF_UNIX, kind)
    try:
        listener.bind(address)
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener


def pending_client(listener: socket.socket) -> socket.socket:
    """A client connected to `listener` that it has not accepted (a waiting client in its backlog)."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(listener.getsockname())
    return client


def socket_file(path: str) -> str:
    """A socket file nobody listens on (bound, then closed): what a crashed server leaves."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as orphan:
        orphan.bind(path)
    return path


@record(frozen=False)
class Maker:
    """Makes named objects (names `tag` + suffix, files in `directory`) and records each in `ledger` at once."""

    ledger: Ledger
    keys: KeyRange
    tag: str
    directory: str

    def sysv(self, kind: str, **kw: int) -> tuple[int, int]:
        ident, key = sysv(kind, self.keys, **kw)
        self.ledger.add(f"{kind}:{ident}")
        return ident, key

    def posix_shm(self, suffix: str, size: int = 4096, data: bytes = b"") -> posix_ipc.SharedMemory:
        shm = posix_shm(self.tag + suffix, size, data)
        self.ledger.add(f"posix-shm:{self.tag}{suffix}")
        return shm

    def posix_mq(self, suffix: str, max_messages: int = 8, max_message_size: int = 256) -> posix_ipc.MessageQueue:
        mq = posix_mq(self.tag + suffix, max_messages, max_message_size)
        self.ledger.add(f"posix-mq:{self.tag}{suffix}")
        return mq

    def posix_sem(self, suffix: str, initial: int = 0) -> posix_ipc.Semaphore:
        sem = posix_sem(self.tag + suffix, initial)
        self.ledger.add(f"posix-sem:{self.tag}{suffix}")
        return sem

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def fifo(self, name: str) -> str:
        path = fifo(self.path(name))
        self.ledger.add(f"fifo:{path}")
        return path

    def unix_listener(self, name: str, backlog: int = 64) -> socket.socket:
        listener = unix_listener(self.path(name), backlog)
        self.ledger.add(f"unix:{self.path(name)}")
        return listener

    def socket_file(self, name: str) -> str:
        path = socket_file(self.path(name))
        self.ledger.add(f"unix:{path}")
        return path
