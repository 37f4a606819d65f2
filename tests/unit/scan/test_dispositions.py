"""The signal-state decoder: names round-trip, deliverability and verdicts, recorded and fuzzed status text."""

from __future__ import annotations

import signal
from collections.abc import Iterable

from hypothesis import given
from hypothesis import strategies as st

from ipcwatch.record import replace
from ipcwatch.scan.dispositions import (
    COMMON_SIGNALS,
    Dispositions,
    ThreadSignals,
    from_status,
    parse_sigq,
    parse_status,
    thread_signals,
)
from ipcwatch.scan.sigset import KERNEL_SIGRTMAX, mask_names, mask_signals, signal_name, signal_number

masks = st.integers(min_value=0, max_value=(1 << 64) - 1)
numbers = st.integers(min_value=1, max_value=64)


def mask_of(numbers: Iterable[int]) -> int:
    """The kernel mask of these signal numbers (bit N-1 is signal N); numbers out of range are left out."""
    mask = 0
    for num in numbers:
        if 1 <= num <= KERNEL_SIGRTMAX:
            mask |= 1 << (num - 1)
    return mask

# /proc/PID/status of a PostgreSQL 15 backend (Debian 15, recorded from tests/postgres.py), its own SIGUSR1 added
# pending to ShdPnd; the fields that matter, as the kernel prints them
RECORDED = b"""Name:\tpostgres
Umask:\t0077
State:\tS (sleeping)
Tgid:\t13484
NSpid:\t13484
Threads:\t1
SigQ:\t1/96365
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000200
SigBlk:\t0000000000400000
SigIgn:\t0000000001701800
SigCgt:\t0000000020006287
CapInh:\t0000000000000000
"""


def _disp(caught: int = 0, ignored: int = 0, shared: int = 0, threads: tuple[ThreadSignals, ...] = (),
          state: str = "S", pid: int = 4242) -> Dispositions:
    return Dispositions(pid, 100, "x", state, caught, ignored, shared, 0, 10, threads or (ThreadSignals(pid, 0, 0),))


def test_recorded_backend() -> None:
    disp = from_status(13484, 77, "postgres", "S", parse_status(RECORDED), ())
    caught = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGFPE", "SIGUSR1", "SIGALRM", "SIGTERM", "SIGPWR"]
    assert mask_names(disp.caught) == caught
    assert mask_names(disp.ignored) == ["SIGUSR2", "SIGPIPE", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXFSZ"]
    assert mask_names(disp.blocked_everywhere) == ["SIGURG"]  # its latch: ignored, but blocked, so it is queued
    assert mask_names(disp.pending) == ["SIGUSR1"] and (disp.queued, disp.queue_limit) == (1, 96365)
    assert disp.threads == (ThreadSignals(13484, 1 << 22, 0),) and not disp.namespace_init
    assert disp.verdict(signal.SIGTERM).line == "SIGTERM: caught by a handler"
    assert disp.verdict(signal.SIGPIPE).effect == "discarded"
    assert disp.verdict(signal.SIGURG).effect == "pending"  # no signalfd known from the status text alone


def test_verdict_order() -> None:
    usr2, term, hup, cont = (int(s) for s in (signal.SIGUSR2, signal.SIGTERM, signal.SIGHUP, signal.SIGCONT))
    blocked = mask_of([usr2, cont])
    disp = _disp(
        caught=mask_of([hup, usr2]), ignored=mask_of([term]),
        threads=(ThreadSignals(1000, blocked, 0), ThreadSignals(1001, blocked | mask_of([term]), 0)),
    )
    assert disp.verdict(term).says == "ignored by this process — nothing will happen"
    assert disp.verdict(usr2).says.startswith("blocked by every thread — it will stay pending")
    assert "its handler runs" in disp.verdict(usr2).says
    assert "a stopped process resumes anyway" in disp.verdict(cont).says
    assert disp.verdict(hup).line == "SIGHUP: caught by a handler"
    assert disp.verdict(signal.SIGKILL).disposition == "uncatchable"
    assert disp.verdict(signal.SIGURG).says == "not caught, and ignored by default — nothing will happen"
    stopped = _disp(caught=mask_of([hup]), state="T")
    assert "handler runs after SIGCONT" in stopped.verdict(hup).says
    init = from_status(1, 1, "init", "S", {"NSpid": "1"}, ())
    assert init.namespace_init and init.verdict(signal.SIGKILL).effect == "discarded"
    container_init = from_status(5000, 1, "init", "S", {"NSpid": "5000\t1"}, ())
    assert container_init.verdict(term).effect == "discarded"
    assert container_init.verdict(signal.SIGKILL).effect == "killed"  # from outside its namespace


def test_signalfd_reads_a_signal_blocked_everywhere() -> None:
    urg = int(signal.SIGURG)
    only_urg = mask_of([urg])
    disp = replace(_disp(ignored=only_urg, threads=(ThreadSignals(7, only_urg, 0),)), signalfd=only_urg)
    assert disp.verdict(urg).effect == "signalfd" and not disp.verdict(urg).deliverable
    unblocked = replace(disp, threads=(ThreadSignals(7, 0, 0),))
    assert unblocked.verdict(urg).effect == "discarded"  # a signalfd only sees signals that stay pending


def test_sigwait_thread_takes_its_signals() -> None:
    rt3 = 35
    disp = _disp(threads=(ThreadSignals(1, mask_of([rt3]), 0), ThreadSignals(2, 0, 0, waits_for=mask_of([rt3]))))
    assert disp.verdict(rt3).effect == "taken" and disp.verdict(rt3).says.startswith("thread 2 waits for it")
    assert disp.verdict(signal.SIGTERM).effect == "terminate"  # not in the set: the default action


@given(numbers)
def test_every_number_has_a_name_that_reads_back(num: int) -> None:
    name = signal_name(num)
    assert name.startswith("SIG") and signal_number(name) == num


@given(masks)
def test_mask_names_round_trip(mask: int) -> None:
    names = mask_names(mask)
    assert len(names) == bin(mask).count("1") == len(set(names))
    assert mask_of(signal_number(n) or 0 for n in names) == mask
    assert mask_of(mask_signals(mask)) == mask


@given(masks, masks, masks, st.lists(st.tuples(masks, masks), min_size=1, max_size=6))
def test_status_text_round_trips_and_deliverable_logic(caught, ignored, shared, threads) -> None:  # type: ignore[no-untyped-def]
    text = f"SigQ:\t3/99\nShdPnd:\t{shared:016x}\nSigIgn:\t{ignored:016x}\nSigCgt:\t{caught:016x}\n".encode()
    per_thread = tuple(
        thread_signals(10 + i, parse_status(f"SigPnd:\t{pnd:016x}\nSigBlk:\t{blk:016x}\n".encode()))
        for i, (blk, pnd) in enumerate(threads)
    )
    disp = from_status(10, 5, "x", "S", parse_status(text), per_thread)
    assert (disp.caught, disp.ignored, disp.shared_pending, disp.queued) == (caught, ignored, shared, 3)
    assert [(t.blocked, t.pending) for t in disp.threads] == threads
    for num in range(1, 65):
        bit = 1 << (num - 1)
        some_thread_open = any(not blk & bit for blk, _ in threads)
        assert disp.deliverable(num) == (some_thread_open or num in (signal.SIGKILL, signal.SIGSTOP))
        verdict = disp.verdict(num)
        assert (verdict.effect == "pending") == (not disp.deliverable(num))
        if num not in (signal.SIGKILL, signal.SIGSTOP):
            expected = "caught" if caught & bit else "ignored" if ignored & bit else "default"
            assert verdict.disposition == expected
            if disp.deliverable(num):
                assert (verdict.effect == "discarded") == (expected == "ignored")
                assert (verdict.effect == "handler") == (expected == "caught")
    assert disp.notable()[: len(COMMON_SIGNALS)] == list(COMMON_SIGNALS)
    assert set(disp.notable()) >= set(mask_signals(caught | ignored | disp.pending))


@given(st.binary(max_size=400))
def test_garbage_never_raises(data: bytes) -> None:
    fields = parse_status(data)
    disp = from_status(3, 1, "x", "S", fields, ())
    assert all(0 <= m < 1 << 64 for m in (disp.caught, disp.ignored, disp.shared_pending))
    assert parse_sigq("1/2") == (1, 2) and parse_sigq(fields.get("SigQ", "junk")) is not None
