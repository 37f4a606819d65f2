"""The demo's child processes: one role each (`python -m ipcwatch.workload.roles ROLE PARENT ARG...`).

Every role opens what the parent made, prints READY (some print a line before it), lets go of its stdout and then
produces or consumes every TICK until killed. A role dies with its parent (PR_SET_PDEATHSIG), even a SIGKILLed one.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

import posix_ipc
import sysv_ipc

TICK = 0.5
PR_SET_PDEATHSIG = 1


def _ready() -> None:
    """Tell the parent we are set up, then let go of the stdout pipe (it would show up as one more pipe)."""
    print("READY", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _every_tick(step: Callable[[int], object]) -> None:
    n = 0
    while True:
        step(n)
        n += 1
        time.sleep(TICK)


def _sysv_writer(shm_key: str, sem_key: str) -> None:
    shm = sysv_ipc.SharedMemory(int(shm_key))
    sem = sysv_ipc.Semaphore(int(sem_key))
    _ready()

    def step(n: int) -> None:
        shm.write(f"tick {n}\n".encode())
        if sem.value < 5:
            sem.release()

    _every_tick(step)


def _sysv_reader(shm_key: str, sem_key: str) -> None:
    shm = sysv_ipc.SharedMemory(int(shm_key))
    sem = sysv_ipc.Semaphore(int(sem_key))
    _ready()
    while True:
        with contextlib.suppress(sysv_ipc.BusyError):
            sem.acquire(2)
            shm.read(16)
            time.sleep(TICK * 3)  # slower than the writer: the semaphore value climbs, then holds


def _msg_producer(key: str) -> None:
    queue = sysv_ipc.MessageQueue(int(key))
    _ready()
    _every_tick(lambda n: queue.send(f"message {n}".encode(), block=False) if queue.current_messages < 4 else None)


def _msg_consumer(key: str) -> None:
    queue = sysv_ipc.MessageQueue(int(key))
    _ready()
    while True:
        queue.receive()  # blocks in msgrcv: a waiter
        time.sleep(TICK * 3)


def _pshm_writer(name: str) -> None:
    shm = posix_ipc.SharedMemory(name)  # keeps its fd open
    _ready()
    _every_tick(lambda n: os.pwrite(shm.fd, f"tick {n}\n".encode(), 0))


def _pshm_reader(name: str) -> None:
    shm = posix_ipc.SharedMemory(name)
    mapped = mmap.mmap(shm.fd, shm.size, prot=mmap.PROT_READ)
    shm.close_fd()  # held through the mapping only
    _ready()
    _every_tick(lambda n: mapped[:16])


def _mq_producer(name: str) -> None:
    queue = posix_ipc.MessageQueue(name)
    _ready()
    _every_tick(lambda n: queue.send(f"message {n}".encode()) if queue.current_messages < 4 else None)


def _mq_consumer(name: str) -> None:
    queue = posix_ipc.MessageQueue(name)
    _ready()
    while True:
        with contextlib.suppress(posix_ipc.BusyError):
            queue.receive(2)
            time.sleep(TICK * 3)


def _psem_poster(name: str) -> None:
    sem = posix_ipc.Semaphore(name)
    _ready()
    _every_tick(lambda n: sem.release() if sem.value < 3 else None)


def _psem_waiter(name: str) -> None:
    sem = posix_ipc.Semaphore(name)
    _ready()
    while True:
        with contextlib.suppress(posix_ipc.BusyError):
            sem.acquire(2)
            time.sleep(TICK * 3)


def _fifo_writer(path: str) -> None:
    fd = os.open(path, os.O_WRONLY)  # blocks until fifo-reader has it open (the reader never blocks)
    _ready()
    _every_tick(lambda n: os.write(fd, f"line {n}\n".encode()))


def _fifo_reader(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    _ready()
    _every_tick(lambda n: _drain(fd))


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        os.read(fd, 4096)


def _pipe_writer(fd: str) -> None:
    _ready()
    _every_tick(lambda n: os.write(int(fd), f"line {n}\n".encode()))


def _pipe_reader(fd: str) -> None:
    _ready()
    while os.read(int(fd), 4096):
        time.sleep(TICK * 3)


def _unix_server(fd: str) -> None:
    listener = socket.socket(fileno=int(fd))
    _ready()
    while True:
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)


def _unix_client(path: str) -> None:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    _ready()
    _every_tick(lambda n: (client.sendall(f"ping {n}\n".encode()), client.recv(4096)))


def _sysv_orphan(key: str) -> None:
    shm = sysv_ipc.SharedMemory(int(key), sysv_ipc.IPC_CREX, mode=0o600, size=4096)
    shm.write(b"left behind by a process that exited\n")
    shm.detach()
    print(shm.id, flush=True)
    _ready()


ROLES: dict[str, Callable[..., None]] = {
    "sysv-writer": _sysv_writer,
    "sysv-reader": _sysv_reader,
    "msg-producer": _msg_producer,
    "msg-consumer": _msg_consumer,
    "pshm-writer": _pshm_writer,
    "pshm-reader": _pshm_reader,
    "mq-producer": _mq_producer,
    "mq-consumer": _mq_consumer,
    "psem-poster": _psem_poster,
    "psem-waiter": _psem_waiter,
    "fifo-writer": _fifo_writer,
    "fifo-reader": _fifo_reader,
    "pipe-writer": _pipe_writer,
    "pipe-reader": _pipe_reader,
    "unix-server": _unix_server,
    "unix-client": _unix_client,
    "sysv-orphan": _sysv_orphan,
}


def child_main(argv: list[str]) -> int:
    """Run one role; die with the parent (pid in argv[1]) even if it is SIGKILLed."""
    role, parent, args = argv[0], int(argv[1]), argv[2:]
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        return 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ROLES[role](*args)
    except (BrokenPipeError, ConnectionError):
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:]))
