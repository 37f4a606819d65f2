"""POSIX shared memory, named semaphores and message queues in the scan (real objects)."""

from __future__ import annotations

import os
import re

import posix_ipc

from tests.conftest import needs_mqueue, scan_kinds, unique_name


def test_posix_shm_holders_by_fd_and_mapping(posix_shm, spawn):
    name, _ = posix_shm(size=8192, data=b"abc")
    child = spawn(
        f"""
        import mmap, os, sys
        fd = os.open("/dev/shm/{name}", os.O_RDWR)
        m = mmap.mmap(fd, 8192)
        print(fd)
        print("READY", flush=True)
        sys.stdin.read()
        """
    )
    obj = scan_kinds("posix-shm").get(f"posix-shm:{name}")
    assert obj is not None
    assert obj.size == 8192 and obj.perms == "0600" and obj.info.allocated >= 4096
    mine = {(h.fd, h.mode) for h in obj.holders if h.pid == child.pid}
    assert {(int(child.lines[0]), "rw"), (None, "rw")} <= mine  # (mmap.mmap holds a dup of the fd too)
    assert not obj.stale

    posix_ipc.unlink_shared_memory("/" + name)
    assert scan_kinds("posix-shm").get(f"posix-shm:{name}") is None


def test_posix_shm_nobody_holds_is_stale(posix_shm):
    name, _ = posix_shm()
    obj = scan_kinds("posix-shm").get(f"posix-shm:{name}")
    assert obj is not None and obj.stale
    assert obj.stale_reason.startswith("no process has it open or mapped; last written")


def test_posix_sem_value_and_mapping_holder(posix_sem):
    name, sem = posix_sem(initial=5)
    obj = scan_kinds("posix-sem").get(f"posix-sem:{name}")
    assert obj is not None
    assert obj.info.value == 5 and obj.info.problem is None
    assert any(h.pid == os.getpid() and h.fd is None for h in obj.holders)
    sem.release()
    assert scan_kinds("posix-sem").get(f"posix-sem:{name}").info.value == 6


def test_hostile_empty_sem_file_is_reported_not_read(empty_sem_file):
    name = empty_sem_file
    obj = scan_kinds("posix-sem").get(f"posix-sem:{name}")
    assert obj is not None
    assert obj.info.value is None
    assert "not a valid semaphore: 0 bytes" in obj.info.problem


def test_symlink_in_dev_shm_is_not_followed(cleanup, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"x" * 100)
    link = f"/dev/shm/{unique_name()}"
    os.symlink(secret, link)
    cleanup.add(lambda: os.unlink(link))
    names = {o.name for o in scan_kinds("posix-shm", "posix-sem").objects}
    assert os.path.basename(link) not in names


@needs_mqueue
def test_posix_mq_attributes_and_holder(posix_mq):
    name, mq = posix_mq(max_messages=8, max_message_size=256)
    mq.send(b"12345", priority=1)
    obj = scan_kinds("posix-mq").get(f"posix-mq:{name}")
    assert obj is not None
    f = obj.info
    assert (f.messages, f.max_messages, f.message_size, f.qsize) == (1, 8, 256, 5)
    assert f.notify == "none" and f.notify_pid is None
    assert any(h.pid == os.getpid() and h.fd == mq.mqd and h.mode == "rw" for h in obj.holders)
    assert not obj.stale
    mq.close()
    obj = scan_kinds("posix-mq").get(f"posix-mq:{name}")
    assert obj.stale and re.fullmatch(
        r"no process has it open; 1 message\(s\) queued; no message sent or received for \d+s", obj.stale_reason
    )
    posix_ipc.unlink_message_queue("/" + name)
    assert scan_kinds("posix-mq").get(f"posix-mq:{name}") is None


@needs_mqueue
def test_posix_mq_notify_registrant(posix_mq):
    name, mq = posix_mq()
    mq.request_notification(10)  # SIGUSR1
    obj = scan_kinds("posix-mq").get(f"posix-mq:{name}")
    assert obj.info.notify == "signal"
    assert obj.info.notify_signal == 10
    assert obj.info.notify_pid == os.getpid()


@needs_mqueue
def test_listing_a_queue_never_changes_its_mtime(posix_mq):
    """On this kernel: reading /dev/mqueue/NAME (every scan does) sets atime and ctime; only send/receive set mtime."""
    name, mq = posix_mq()
    path = f"/dev/mqueue/{name}"
    old = os.stat(path).st_mtime - 3600
    os.utime(path, (old, old))
    for _ in range(2):
        obj = scan_kinds("posix-mq").get(f"posix-mq:{name}")
        st = os.stat(path)
        assert st.st_mtime == old and obj.info.mtime == int(old)
        assert st.st_atime > old + 3000  # the scan's read did set atime (so atime could never tell an age)
    mq.send(b"x")
    assert os.stat(path).st_mtime > old + 3000
