"""The native SysV reads and their pure-Python twin agree on real semaphore sets and message queues."""

from __future__ import annotations

import ctypes

import pytest

from ipcwatch import libc_write
from ipcwatch.native import sysvread
from ipcwatch.workload.ledger import Ledger
from tests.conftest import Cleanup, needs_root, wait_until

try:
    from ipcwatch.native import _sysvread
except ImportError:
    _sysvread = None  # type: ignore[assignment]

pytestmark = [needs_root, pytest.mark.skipif(_sysvread is None, reason="the C helper is not built")]
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
_semget = libc_write.LIBC.semget
_msgget = libc_write.LIBC.msgget


def _made(cleanup: Cleanup, made: Ledger, kind: str, ipc_id: int) -> int:
    assert ipc_id >= 0, ctypes.get_errno()
    made.add(f"{kind}:{ipc_id}")
    cleanup.add(lambda: libc_write.ipc_rmid(kind, ipc_id))
    return ipc_id


def test_semaphore_values_with_a_waiter(cleanup, made, spawn):
    semid = _made(cleanup, made, "sysv-sem", _semget(IPC_PRIVATE, 3, IPC_CREAT | 0o600))
    gone = _semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600)
    libc_write.ipc_rmid("sysv-sem", gone)
    libc_write.semctl_setval(semid, 0, 7)
    libc_write.semctl_setval(semid, 2, 32767)
    child = spawn(
        f"""
        from ipcwatch import libc_write
        print("READY", flush=True)
        libc_write.semop({semid}, 1, -1, None)  # waits: ncnt of semaphore 1 is 1
        """
    )
    wait_until(lambda: _sysvread.sem_values([(semid, 3)])[0][1][2] == 1)
    sets = [(semid, 3), (semid, 0), (semid, -2), (gone, 1), (semid, 1)]
    native = _sysvread.sem_values(sets)
    assert native == sysvread.py_sem_values(sets)
    values = native[0]
    assert [v[:4] for v in values] == [(0, 7, 0, 0), (1, 0, 1, 0), (2, 32767, 0, 0)]
    assert values[0][4] > 0  # SETVAL records the caller as the last operator
    assert native[1:] == [(), (), None, values[:1]]
    libc_write.semctl_setval(semid, 1, 1)  # wakes the child
    child.proc.wait(timeout=10)


def test_queue_limits(cleanup, made, sysv_msg):
    queue = sysv_msg()
    gone = _msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
    libc_write.ipc_rmid("sysv-msg", gone)
    ids = [queue.id, gone, -1]
    native = _sysvread.msg_qbytes(ids)
    assert native == sysvread.py_msg_qbytes(ids) == [queue.max_size, None, None]
