"""The blocked-thread analysis is a pure function of a Snapshot: the thread samples travel in `Snapshot.threads`.

A recorded snapshot (built here by hand, never scanned) explains itself the same way before and after other scans,
and so does an equal copy; a live snapshot keeps its explanation however many scans follow it; an identity
re-check before an action does not sample the host's threads.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sysv_ipc

from ipcwatch import record
from ipcwatch.actions import verify
from ipcwatch.actions.outcome import Status
from ipcwatch.actions.remove import remove
from ipcwatch.kinds import Kind
from ipcwatch.scan import Holder, IpcObject, Process, ScanConfig, Snapshot, Waiter, scan
from ipcwatch.scan.info import PipeInfo
from ipcwatch.scan.waits import (
    BlockedThread,
    ProcessSample,
    Target,
    ThreadSample,
    WaitFinder,
    WaitSamples,
    blocked_threads,
    describe,
    explain,
)
from ipcwatch.scan.waits.records import DATA, SIGNAL, WRITER, OtherKind
from tests.conftest import Child, needs_root, wait_until

# Pids above the largest pid_max (2^22): never a live process, so nothing is read from /proc for them.
A, B, C = 1 << 22 | 1, 1 << 22 | 2, 1 << 22 | 3
SINCE = 1_700_000_000.0
PIPE_READ = "read (pipe empty)"


def _process(pid: int, comm: str) -> Process:
    return Process(pid=pid, ppid=1, comm=comm, cmdline=(comm,), uid=0, user="root", start=100, state="S")


def _pipe(inode: int, reader: int, writer: int) -> IpcObject:
    return IpcObject(
        ref=f"pipe:{inode}",
        kind=Kind.PIPE,
        name=None,
        id=None,
        key=None,
        owner="root",
        uid=0,
        mode=None,
        size=None,
        holders=(Holder(reader, "r", "root", 3, "r", 100), Holder(writer, "w", "root", 4, "w", 100)),
        stale=False,
        stale_reason=None,
        identity=f"file:9:{inode}",
        info=PipeInfo(readers=1, writers=1, queued=0, capacity=65536),
        waiters=(Waiter(reader, reader, PIPE_READ),),
    )


def _reading(tid: int, ref: str) -> ThreadSample:
    target = Target(ref, Kind.PIPE, DATA, PIPE_READ)
    return ThreadSample(tid, "S", "read", "pipe_read", (target,), waiting_since=SINCE, resolved=((target, ref),))


def recorded(unreadable: int = 0) -> Snapshot:
    """A waits on pipe 100 that B writes; B waits on pipe 200 that A writes (a cycle); C opens a FIFO nobody
    writes (a dead partner). A has two more threads: one in a private futex, one on a TCP socket."""
    fifo = Target("file:9:300", Kind.FIFO, WRITER, "open FIFO for reading (no writer)", label="/run/x.fifo")
    tcp = Target("socket:999", OtherKind.SOCKET, DATA, "recvfrom (nothing received)")
    samples = {
        A: ProcessSample(
            (
                _reading(A, "pipe:100"),
                ThreadSample(A + 10, "S", "futex"),
                ThreadSample(A + 11, "S", "recvfrom", targets=(tcp,)),  # waits, but not on IPC: nothing resolved
            )
        ),
        B: ProcessSample((_reading(B, "pipe:200"),)),
        C: ProcessSample((ThreadSample(C, "S", "openat", "fifo_open", (fifo,), resolved=((fifo, None),)),)),
    }
    return Snapshot(
        objects=(_pipe(100, A, B), _pipe(200, B, A)),
        processes={A: _process(A, "a"), B: _process(B, "b"), C: _process(C, "c")},
        taken_at=SINCE + 60,
        threads=WaitSamples(samples, unreadable=unreadable),
    )


EXPECTED = [
    BlockedThread(
        pid=A,
        tid=A,
        comm="a",
        state="S",
        syscall="read",
        wchan="pipe_read",
        ref="pipe:100",
        refs=("pipe:100",),
        label="pipe:100",
        op=PIPE_READ,
        waiting_since=SINCE,
        wakers=(),  # filled below: B holds the write end
        causes=(f"wait cycle: {A} (a) -> {B} (b) -> {A} (a)",),
        hints=("0 of 65536 bytes queued",),
    ),
    BlockedThread(
        pid=B,
        tid=B,
        comm="b",
        state="S",
        syscall="read",
        wchan="pipe_read",
        ref="pipe:200",
        refs=("pipe:200",),
        label="pipe:200",
        op=PIPE_READ,
        waiting_since=SINCE,
        wakers=(),
        causes=(f"wait cycle: {B} (b) -> {A} (a) -> {B} (b)",),
        hints=("0 of 65536 bytes queued",),
    ),
    BlockedThread(
        pid=C,
        tid=C,
        comm="c",
        state="S",
        syscall="openat",
        wchan="fifo_open",
        ref=None,
        refs=(),
        label="/run/x.fifo",
        op="open FIFO for reading (no writer)",
        waiting_since=None,
        wakers=(),
        causes=("dead partner: no process has the FIFO open for writing",),
    ),
]


def test_a_recorded_snapshot_explains_itself() -> None:
    found = blocked_threads(recorded())
    assert [(w.pid, w.why) for w in found[0].wakers] == [(B, "holds the write end (fd 4)")]
    assert [(w.pid, w.why) for w in found[1].wakers] == [(A, "holds the write end (fd 4)")]
    assert [record.replace(b, wakers=()) for b in found] == EXPECTED


def test_blocked_threads_reads_only_its_argument() -> None:
    """Scans in between and a rebuilt copy (new Process objects, same content) change nothing."""
    snap = recorded()
    first = blocked_threads(snap)
    for _ in range(5):  # more scans than any cache of recent samples would keep
        scan(ScanConfig(kinds=frozenset({Kind.PIPE})))
    assert blocked_threads(snap) == first
    copy = Snapshot(
        objects=snap.objects,
        processes={pid: record.replace(p) for pid, p in snap.processes.items()},
        taken_at=snap.taken_at,
        threads=record.replace(snap.threads),
    )
    assert blocked_threads(copy) == first


def test_what_the_samples_say_decides_dead_partner_or_hint() -> None:
    """`WaitSamples.unreadable` (processes whose fds were not read) turns "nobody holds it" into a hint."""
    c = explain(recorded(unreadable=3), C)
    assert [(b.causes, b.hints) for b in c] == [
        (
            (),
            (
                "no process has the FIFO open for writing among the visible processes; "
                "3 processes' fds could not be read",
            ),
        )
    ]


def test_describe_a_recorded_process_by_any_of_its_threads() -> None:
    snap = recorded()
    report = describe(snap, A + 11)  # a thread id: the report is its process's
    assert report.pid == A and [b.tid for b in report.blocked] == [A]
    assert report.others == (
        (A + 10, "sleeping in futex"),
        (A + 11, "sleeping in recvfrom (not on an IPC object)"),
    )
    assert report.problem is None and report.notes == ()  # the pid is not live: no signal notes read for it


def test_without_samples_only_the_waiters_speak() -> None:
    """A snapshot whose scan sampled no threads (or rebuilt from JSON): the objects' waiters, said to be partial."""
    snap = record.replace(recorded(), threads=None)
    found = blocked_threads(snap)
    assert [(b.pid, b.ref, b.syscall) for b in found] == [(A, "pipe:100", "?"), (B, "pipe:200", "?")]
    assert found[0].hints == ("details of this wait were not kept with this snapshot",)
    assert describe(snap, A).problem == "its threads were not sampled in this scan"


def test_a_scan_that_could_not_sample_says_why() -> None:
    snap = record.replace(recorded(), threads=WaitSamples(problem="unknown architecture m68k"))
    assert blocked_threads(snap) == []
    assert describe(snap, A).problem == "unknown architecture m68k"


# --- live: real blocked children ----------------------------------------------------------------------------


def _blocked(kinds: set[Kind], pid: int) -> tuple[Snapshot, BlockedThread]:
    def probe() -> tuple[Snapshot, BlockedThread] | None:
        snap = scan(ScanConfig(kinds=frozenset(kinds)))
        found = explain(snap, pid)
        return (snap, found[0]) if found else None

    return wait_until(probe, timeout=20, interval=0.05)  # type: ignore[return-value]


@needs_root
def test_a_live_snapshot_keeps_its_explanation_after_later_scans(spawn: Callable[..., Child]) -> None:
    waiter = spawn("import os; r, w = os.pipe(); print('READY', flush=True); os.read(r, 1)")
    snap, before = _blocked({Kind.PIPE}, waiter.pid)
    assert isinstance(snap.threads, WaitSamples) and waiter.pid in snap.threads.processes
    assert before.syscall == "read" and before.op == PIPE_READ
    for _ in range(5):
        scan(ScanConfig(kinds=frozenset({Kind.PIPE})))
    assert explain(snap, waiter.pid) == [before]  # samples kept with it, not in a cache the next scans evict
    assert scan(ScanConfig(kinds=frozenset({Kind.PIPE}), waiters=False)).threads is None


@pytest.fixture
def finders(monkeypatch: pytest.MonkeyPatch) -> list[WaitFinder]:
    """Every WaitFinder constructed while the test runs."""
    made: list[WaitFinder] = []
    init = WaitFinder.__init__

    def counting(self: WaitFinder, *args: object, **kwargs: object) -> None:
        made.append(self)
        init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(WaitFinder, "__init__", counting)
    return made


@needs_root
def test_an_identity_recheck_does_not_sample_threads(sysv_shm, finders: list[WaitFinder]) -> None:
    shm = sysv_shm()
    ref = f"sysv-shm:{shm.id}"
    shown = scan(ScanConfig(kinds=frozenset({Kind.SYSV_SHM}), waiters=False)).get(ref)
    assert shown is not None
    found = verify.recheck(ref, shown.identity)
    assert isinstance(found, IpcObject) and found.identity == shown.identity
    assert finders == []


@needs_root
def test_removing_a_queue_a_receiver_sleeps_on_needs_the_second_confirmation(
    spawn: Callable[..., Child], sysv_msg, finders: list[WaitFinder]
) -> None:
    """A thread asleep in msgrcv holds no fd: its wait is the only sign the queue is in use, so the re-check before
    removing a SysV queue still samples threads."""
    mq = sysv_msg()
    receiver = spawn(f"""
        import sysv_ipc
        mq = sysv_ipc.MessageQueue({mq.key})
        print("READY", flush=True)
        mq.receive(type=1)
    """)
    _, b = _blocked({Kind.SYSV_MSG}, receiver.pid)
    ref = f"sysv-msg:{mq.id}"
    assert b.ref == ref
    shown = scan(ScanConfig(kinds=frozenset({Kind.SYSV_MSG}), waiters=False)).get(ref)
    assert shown is not None
    finders.clear()
    outcome = remove(ref, shown.identity)
    assert outcome.status is Status.REFUSED
    assert f"pid {receiver.pid} thread {receiver.pid} waiting (msgrcv type 1)" in outcome.message
    assert finders  # the re-check sampled threads
    assert sysv_ipc.MessageQueue(mq.key).id == mq.id  # still there


def test_a_wait_for_a_signal_says_so() -> None:
    """sigwaitinfo has no object: `signal_wait` marks it (who may send the signal is in the hints)."""
    wait = Target(
        f"signal:{C}", OtherKind.SIGNAL, SIGNAL, "sigwaitinfo for SIGUSR1", label="signal SIGUSR1", signals=("SIGUSR1",)
    )
    thread = ThreadSample(C, "S", "rt_sigtimedwait", "do_sigtimedwait", (wait,), resolved=((wait, None),))
    snap = record.replace(recorded(), threads=WaitSamples({C: ProcessSample((thread,))}))
    (b,) = blocked_threads(snap)
    assert b.signal_wait and b.signals == ("SIGUSR1",) and b.causes == ()
    assert b.hints == ("waits for SIGUSR1: root may send it (kill)",)
    assert not any(x.signal_wait for x in blocked_threads(recorded()))


def test_the_scanner_itself_is_named_from_the_samples() -> None:
    """The scanning process is never sampled; the samples say which pid it was (not the pid reading them now)."""
    snap = record.replace(recorded(), threads=WaitSamples({}, scanner=B))
    assert describe(snap, B).problem == "this is ipcwatch itself"
    assert describe(snap, A).problem == "its threads were not sampled in this scan"
