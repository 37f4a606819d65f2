"""Signals reach exactly the process that was shown: pidfd + start-time check."""

from __future__ import annotations

import signal

import pytest

from ipcwatch.actions import signals
from ipcwatch.actions.outcome import Status
from tests.conftest import wait_until

SLEEPER = 'print("READY", flush=True)\nimport sys\nsys.stdin.read()\n'


def test_signal_reaches_the_right_process(spawn):
    child = spawn(SLEEPER)
    info = signals.process_info(child.pid)
    assert info is not None and info.identity == f"{child.pid}@{signals.start_time(child.pid)}"
    outcome = signals.send_signal(child.pid, "TERM", expect=info.identity)
    assert outcome.ok, outcome.message
    assert child.proc.wait(timeout=10) == -signal.SIGTERM


def test_wrong_start_time_is_refused_and_the_process_lives(spawn):
    child = spawn(SLEEPER)
    start = signals.start_time(child.pid)
    outcome = signals.send_signal(child.pid, "KILL", expect=f"{child.pid}@{start + 1}")
    assert outcome.status is Status.REFUSED and "different process" in outcome.message
    assert child.proc.poll() is None
    assert signals.send_signal(child.pid, "KILL", expect="garbage").status is Status.REFUSED
    assert child.proc.poll() is None


@pytest.mark.parametrize("pid", [0, -1, -12345])
def test_pid_must_be_positive(pid):
    assert signals.send_signal(pid, "TERM").status is Status.REFUSED


def test_unknown_signal_read_only_and_gone(spawn):
    child = spawn(SLEEPER)
    assert signals.send_signal(child.pid, "SEGV").status is Status.REFUSED
    assert signals.send_signal(child.pid, "TERM", read_only=True).status is Status.REFUSED
    assert child.proc.poll() is None
    child.stop()
    assert signals.send_signal(child.pid, "TERM").status is Status.GONE


def test_stop_and_cont(spawn):
    child = spawn(SLEEPER)
    assert signals.send_signal(child.pid, "STOP").ok
    wait_until(lambda: _state(child.pid) == "T")
    assert signals.send_signal(child.pid, "SIGCONT").ok
    wait_until(lambda: _state(child.pid) != "T")


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0].decode()


def test_signal_names():
    assert signals.signal_named("sigterm").name == "TERM"
    assert signals.signal_named("9").name == "KILL"
    assert signals.signal_named("SEGV") is None
    assert all(s.meaning for s in signals.SIGNALS)
