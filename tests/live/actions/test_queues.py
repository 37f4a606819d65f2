"""Queue actions on real queues: peek copies without consuming, send/receive never block, read-only refuses."""

from __future__ import annotations

import time

import posix_ipc
import pytest

from ipcwatch.actions import queues
from ipcwatch.actions.outcome import Status
from tests.conftest import obj_of


def sysv_row(msqid: int) -> tuple[int, int]:
    """(cbytes, qnum) straight from /proc/sysvipc/msg."""
    with open("/proc/sysvipc/msg") as f:
        header, *rows = [line.split() for line in f]
    for row in rows:
        values = dict(zip(header, row, strict=False))
        if int(values["msqid"]) == msqid:
            return int(values["cbytes"]), int(values["qnum"])
    raise AssertionError(f"queue {msqid} not listed")



BODIES = [(5, b"hello"), (1, b""), (9, bytes(range(256)) * 4), (2, b"\x1b]52;c;evil\x07[/]")]


def test_peek_returns_every_message_and_leaves_the_queue_unchanged(sysv_msg):
    mq = sysv_msg()
    for mtype, body in BODIES:
        mq.send(body, type=mtype)
    before = sysv_row(mq.id)
    outcome = queues.peek(obj_of(f"sysv-msg:{mq.id}"))
    assert outcome.status is Status.DONE, outcome.message
    got = [(m.index, m.mtype, m.body) for m in outcome.data.messages]
    assert got == [(i, t, b) for i, (t, b) in enumerate(BODIES)]
    assert sysv_row(mq.id) == before == (sum(len(b) for _, b in BODIES), len(BODIES))
    # the messages are still there, in order, byte for byte
    assert [mq.receive(block=False)[::-1] for _ in BODIES] == [(t, b) for t, b in BODIES]


def test_peek_an_empty_queue_and_a_posix_queue(sysv_msg, posix_mq):
    outcome = queues.peek(obj_of(f"sysv-msg:{sysv_msg().id}"))
    assert outcome.ok and outcome.data.messages == ()
    name, mq = posix_mq(max_messages=4, max_message_size=64)
    mq.send(b"abc")
    outcome = queues.peek(obj_of(f"posix-mq:{name}"))
    assert outcome.ok
    assert outcome.data.attributes["messages"] == 1
    assert outcome.data.attributes["max_messages"] == 4
    assert outcome.data.attributes["message_size"] == 64
    assert mq.current_messages == 1


def test_sysv_send_and_receive(sysv_msg):
    mq = sysv_msg()
    obj = obj_of(f"sysv-msg:{mq.id}")
    assert queues.send(obj, b"ping", mtype=7).ok
    assert mq.receive(block=False) == (b"ping", 7)
    assert queues.send(obj, b"x", mtype=0).status is Status.REFUSED
    mq.send(b"first", type=3)
    mq.send(b"second", type=4)
    outcome = queues.receive(obj)
    assert outcome.ok and (outcome.data.mtype, outcome.data.body) == (3, b"first")
    assert mq.current_messages == 1
    mq.receive(block=False)
    started = time.monotonic()
    empty = queues.receive(obj)
    assert empty.status is Status.FAILED and "empty" in empty.message
    assert time.monotonic() - started < 30  # returned: a blocking call would hang


def test_sysv_send_to_a_full_queue_does_not_block(sysv_msg):
    mq = sysv_msg()
    mq.max_size = 16
    mq.send(b"x" * 16, type=1)
    started = time.monotonic()
    outcome = queues.send(obj_of(f"sysv-msg:{mq.id}"), b"more", mtype=1)
    assert outcome.status is Status.FAILED and "queue full" in outcome.message
    assert time.monotonic() - started < 30  # returned: a blocking call would hang
    assert mq.current_messages == 1


def test_posix_send_and_destructive_receive(posix_mq):
    name, mq = posix_mq(max_messages=2, max_message_size=32)
    obj = obj_of(f"posix-mq:{name}")
    assert queues.send(obj, b"low", priority=1).ok
    assert queues.send(obj, b"high", priority=5).ok
    full = queues.send(obj, b"more")
    assert full.status is Status.FAILED and "queue full" in full.message
    outcome = queues.receive(obj)
    assert outcome.ok and (outcome.data.body, outcome.data.mtype) == (b"high", 5)
    assert mq.current_messages == 1


def test_replaced_posix_queue_is_refused(posix_mq):
    name, mq = posix_mq()
    obj = obj_of(f"posix-mq:{name}")
    mq.unlink()
    other = posix_ipc.MessageQueue("/" + name, posix_ipc.O_CREX, mode=0o600)
    try:
        outcome = queues.send(obj, b"x")
        assert outcome.status is Status.REFUSED and "replaced" in outcome.message
        assert other.current_messages == 0
    finally:
        other.close()


def test_read_only_refuses_send_and_receive(sysv_msg):
    mq = sysv_msg()
    mq.send(b"keep", type=1)
    obj = obj_of(f"sysv-msg:{mq.id}")
    for outcome in (queues.send(obj, b"x", read_only=True), queues.receive(obj, read_only=True)):
        assert outcome.status is Status.REFUSED and "read-only" in outcome.message
    assert mq.current_messages == 1


def test_peek_of_a_removed_queue_is_already_gone(sysv_msg):
    mq = sysv_msg()
    obj = obj_of(f"sysv-msg:{mq.id}")
    mq.remove()
    assert queues.peek(obj).status is Status.GONE
    assert queues.send(obj, b"x").status is Status.GONE


@pytest.mark.parametrize(("text", "as_hex", "expected"), [("hi", False, b"hi"), ("de ad:BE", True, b"\xde\xad\xbe")])
def test_parse_body(text, as_hex, expected):
    assert queues.parse_body(text, as_hex) == expected
