"""Semaphore actions on real semaphores: post/wait change the value, waits time out, hostile files are refused."""

from __future__ import annotations

import os
import time

import posix_ipc

from ipcwatch.actions import semaphores
from ipcwatch.actions.outcome import Status
from tests.conftest import obj_of, scan_kinds


def test_sysv_post_wait_set(sysv_sem):
    sem = sysv_sem(initial=0)
    obj = obj_of(f"sysv-sem:{sem.id}")
    assert semaphores.post(obj, 3).data == 3
    assert sem.value == 3
    outcome = semaphores.wait(obj, 2, timeout=1)
    assert outcome.ok and outcome.data == 1 and sem.value == 1
    started = time.monotonic()
    timed_out = semaphores.wait(obj, 2, timeout=0.3)
    elapsed = time.monotonic() - started
    assert timed_out.status is Status.TIMED_OUT
    assert 0.25 <= elapsed < 30
    assert sem.value == 1
    assert semaphores.sysv_set(obj, 9).ok and sem.value == 9
    assert semaphores.post(obj, 1, num=5).status is Status.REFUSED  # a single-semaphore set has no #5


def test_sysv_post_persists_after_the_process_exits(sysv_sem, spawn):
    """No SEM_UNDO: a post made by a process that then exits stays."""
    sem = sysv_sem(initial=0)
    child = spawn(
        f"""
        from ipcwatch.actions import semaphores
        from ipcwatch.actions.verify import lookup
        print(semaphores.post(lookup("sysv-sem:{sem.id}"), 2).status.name)
        print("READY")
        """
    )
    assert child.lines == ["DONE"]
    child.stop()
    assert sem.value == 2


def test_read_only_and_bad_counts_are_refused(sysv_sem):
    sem = sysv_sem(initial=1)
    obj = obj_of(f"sysv-sem:{sem.id}")
    for outcome in (
        semaphores.post(obj, read_only=True),
        semaphores.wait(obj, read_only=True),
        semaphores.sysv_set(obj, 5, read_only=True),
    ):
        assert outcome.status is Status.REFUSED and "read-only" in outcome.message
    assert semaphores.post(obj, 0).status is Status.REFUSED
    assert sem.value == 1


def test_removed_set_is_already_gone(sysv_sem):
    sem = sysv_sem()
    obj = obj_of(f"sysv-sem:{sem.id}")
    sem.remove()
    assert semaphores.post(obj).status is Status.GONE


def test_posix_post_wait_and_timeout(posix_sem):
    name, sem = posix_sem(initial=0)
    obj = obj_of(f"posix-sem:{name}")
    assert semaphores.post(obj, 2).ok
    assert sem.value == 2
    assert semaphores.values(obj).data[0]["value"] == 2
    outcome = semaphores.wait(obj, timeout=1)
    assert outcome.ok and outcome.data == 1 and sem.value == 1
    sem.acquire(0)
    started = time.monotonic()
    timed_out = semaphores.wait(obj, timeout=0.3)
    assert timed_out.status is Status.TIMED_OUT, timed_out.message
    assert time.monotonic() - started >= 0.25
    assert sem.value == 0


def test_hostile_zero_byte_sem_file_never_crashes(empty_sem_file):
    name = empty_sem_file
    obj = scan_kinds("posix-sem").get(f"posix-sem:{name}")
    assert obj is not None and obj.info.problem
    for outcome in (semaphores.post(obj), semaphores.wait(obj, timeout=0.2), semaphores.values(obj)):
        assert outcome.status in (Status.REFUSED, Status.FAILED)
        assert "valid semaphore" in outcome.message
    assert os.path.getsize(f"/dev/shm/sem.{name}") == 0


def test_replaced_posix_sem_is_refused(posix_sem):
    name, sem = posix_sem(initial=0)
    obj = obj_of(f"posix-sem:{name}")
    sem.unlink()
    other = posix_ipc.Semaphore("/" + name, posix_ipc.O_CREX, mode=0o600, initial_value=0)
    try:
        outcome = semaphores.post(obj)
        assert outcome.status is Status.REFUSED and "replaced" in outcome.message
        assert other.value == 0
    finally:
        other.unlink()
        other.close()
