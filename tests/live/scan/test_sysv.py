"""SysV objects in the scan: fields, holders, stale verdicts, gone after removal (real objects)."""

from __future__ import annotations

import time

import sysv_ipc

from ipcwatch.scan.sysv import same_except_ctime
from tests.conftest import scan_kinds, wait_until


def test_shm_fields_and_attached_holder(sysv_shm, spawn):
    shm = sysv_shm(size=8192)
    child = spawn(
        f"""
        import sys, sysv_ipc
        m = sysv_ipc.SharedMemory({shm.key})  # attaches
        print("READY", flush=True)
        sys.stdin.read()
        """
    )
    obj = scan_kinds("sysv-shm").get(f"sysv-shm:{shm.id}")
    assert obj is not None
    assert (obj.key, obj.size, obj.perms) == (shm.key, 8192, "0600")
    assert obj.info.nattch == 1
    assert obj.info.cpid > 0
    holder = next(h for h in obj.holders if h.pid == child.pid)
    assert holder.fd is None and holder.via == "mapped" and holder.mode == "rw"
    assert not obj.stale

    shm.remove()  # marked for destruction: it lives on, as IPC_PRIVATE, until the last detach
    obj = scan_kinds("sysv-shm").get(f"sysv-shm:{shm.id}")
    assert obj.info.status == "dest" and obj.key == 0
    child.stop()
    assert scan_kinds("sysv-shm").get(f"sysv-shm:{shm.id}") is None


def test_shm_abandoned_by_dead_creator_is_stale(spawn, cleanup):
    child = spawn(
        """
        import sysv_ipc
        m = sysv_ipc.SharedMemory(sysv_ipc.IPC_PRIVATE, sysv_ipc.IPC_CREX, size=4096)
        print(m.id)
        print("READY", flush=True)
        """
    )
    shmid = int(child.lines[0])
    cleanup.add(lambda: sysv_ipc.remove_shared_memory(shmid))
    child.proc.wait(timeout=10)
    obj = scan_kinds("sysv-shm").get(f"sysv-shm:{shmid}")
    assert obj is not None and obj.key == 0
    assert obj.stale
    assert obj.stale_reason == f"no attachers; creator {child.pid} is gone"


def test_shm_of_a_live_creator_is_not_stale(sysv_shm):
    shm = sysv_shm()
    obj = scan_kinds("sysv-shm").get(f"sysv-shm:{shm.id}")
    assert obj is not None and obj.info.nattch == 0
    assert not obj.stale  # the creator (this process) may attach again


def test_msg_counts_limits_and_pids(sysv_msg):
    mq = sysv_msg()
    mq.send(b"hello", type=3)
    mq.send(b"world!", type=4)
    obj = scan_kinds("sysv-msg").get(f"sysv-msg:{mq.id}")
    assert obj is not None
    assert obj.info.messages == 2
    assert obj.info.used_bytes == 11
    assert obj.info.max_bytes == mq.max_size
    assert obj.info.lspid == mq.last_send_pid
    assert not obj.stale
    mq.remove()
    assert scan_kinds("sysv-msg").get(f"sysv-msg:{mq.id}") is None


def test_msg_whose_partners_are_gone_is_stale(sysv_msg, spawn):
    mq = sysv_msg()
    child = spawn(
        f"""
        import sysv_ipc
        sysv_ipc.MessageQueue({mq.key}).send(b"orphan")
        print("READY", flush=True)
        """
    )
    child.proc.wait(timeout=10)
    obj = scan_kinds("sysv-msg").get(f"sysv-msg:{mq.id}")
    assert obj is not None and obj.stale
    assert obj.stale_reason == f"last sender {child.pid} is gone; never received from; 1 message(s) queued"


def test_sem_values_waiters_and_last_pid(sysv_sem, spawn):
    sem = sysv_sem(initial=0)
    spawn(
        f"""
        import sysv_ipc
        print("READY", flush=True)
        sysv_ipc.Semaphore({sem.key}).acquire()
        """
    )

    def waiting():
        obj = scan_kinds("sysv-sem").get(f"sysv-sem:{sem.id}")
        return obj if obj and obj.info.ncnt == 1 else None

    obj = wait_until(waiting)
    assert obj.info.nsems == 1 and obj.size == 1
    (only,) = obj.info.semaphores
    assert only.value == 0 and only.ncnt == 1 and only.zcnt == 0
    assert not obj.stale  # someone is waiting on it

    sem.release()
    sem.release()
    obj = wait_until(lambda: (o := scan_kinds("sysv-sem").get(f"sysv-sem:{sem.id}")) and o.info.ncnt == 0 and o)
    assert obj.info.semaphores[0].value == 1


def test_identity_changes_when_an_id_is_reused_with_other_attributes(sysv_shm):
    first = sysv_shm(size=4096)
    before = scan_kinds("sysv-shm").get(f"sysv-shm:{first.id}")
    assert before is not None
    assert before.identity == scan_kinds("sysv-shm").get(f"sysv-shm:{first.id}").identity  # stable across scans
    second = sysv_shm(size=8192)
    after = scan_kinds("sysv-shm").get(f"sysv-shm:{second.id}")
    assert after is not None and after.identity != before.identity


def test_identity_may_change_only_in_ctime_after_setval(sysv_sem):
    sem = sysv_sem(initial=0)
    before = scan_kinds("sysv-sem").get(f"sysv-sem:{sem.id}").identity
    time.sleep(1.05)  # ctime has a resolution of one second
    sem.value = 5  # SETVAL
    after = scan_kinds("sysv-sem").get(f"sysv-sem:{sem.id}").identity
    assert after != before and same_except_ctime(before, after)
    other = sysv_sem(initial=0)
    assert not same_except_ctime(before, scan_kinds("sysv-sem").get(f"sysv-sem:{other.id}").identity)
