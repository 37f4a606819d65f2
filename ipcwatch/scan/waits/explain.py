"""Turning a snapshot and the samples it carries into `BlockedThread`s and the per-process report `describe`.

Pure functions of their arguments: a recorded snapshot explains itself exactly as it did when it was taken.
`describe_now` alone reads the live process too (the signals pending that no thread will take).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ipcwatch.record import replace
from ipcwatch.scan.dispositions import read_dispositions
from ipcwatch.scan.model import Process, Snapshot
from ipcwatch.scan.sigset import mask_names
from ipcwatch.scan.waits.analysis import analyse, fd_wakers
from ipcwatch.scan.waits.records import SIGNAL, Target, ThreadSample, WaitSamples, is_kernel_thread, timeout_text
from ipcwatch.scan.waits.reports import WAIT_CYCLE, BlockedThread, ProcessWaits, Waker


def _label(snap: Snapshot, target: Target, ref: str | None) -> str:
    obj = snap.get(ref) if ref else None
    if obj is not None:
        return obj.label
    return target.label or target.match


def _shortest_cycle(start: int, first: Iterable[int], edges: dict[int, set[int]]) -> list[int] | None:
    """The shortest path start -> first hop -> ... -> start over `edges`, as a list of pids."""
    previous: dict[int, int] = {}
    queue: deque[int] = deque()
    for hop in first:
        if hop not in previous:
            previous[hop] = start
            queue.append(hop)
    while queue:
        node = queue.popleft()
        if node == start:
            path = [start]
            node = previous[start]
            while node != start:
                path.append(node)
                node = previous[node]
            path.append(start)
            return path[::-1]
        for nxt in edges.get(node, ()):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def _from_samples(snap: Snapshot, samples: WaitSamples) -> list[BlockedThread]:
    rows = []
    for pid, sample in samples.processes.items():
        if pid not in snap.processes:
            continue
        lone = len(sample.threads) == 1
        for thread in sample.threads:
            if thread.resolved:
                analyses = [analyse(snap, pid, t, ref, lone, samples.unreadable) for t, ref in thread.resolved]
                rows.append((pid, thread, thread.resolved, analyses))
    running = {pid for pid, s in samples.processes.items() if any(t.state == "R" for t in s.threads)}
    stuck = {pid for pid, _, _, _ in rows} - running
    edges: dict[int, set[int]] = {}
    for pid, _, _, analyses in rows:
        edges.setdefault(pid, set()).update(w.pid for a in analyses for w in a.wakers if w.pid in stuck)
    out = []
    for pid, thread, resolved, analyses in rows:
        wakers: dict[int, Waker] = {}
        for a in analyses:
            for w in a.wakers:
                wakers.setdefault(w.pid, w)
        causes: list[str] = []
        if not wakers and all(a.dead for a in analyses):
            causes += [c for a in analyses for c in a.dead]
        cycle = _shortest_cycle(pid, [p for p in wakers if p in stuck], edges) if pid in stuck else None
        if cycle:
            causes.append(WAIT_CYCLE + " -> ".join(f"{p} ({snap.processes[p].comm})" for p in cycle))
        refs = tuple(ref for _, ref in resolved if ref is not None)
        first_target, first_ref = resolved[0]
        out.append(
            BlockedThread(
                pid=pid,
                tid=thread.tid,
                comm=snap.processes[pid].comm,
                state=thread.state,
                syscall=thread.syscall or "?",
                wchan=thread.wchan,
                ref=refs[0] if refs else None,
                refs=refs,
                label=_label(snap, first_target, refs[0] if refs else first_ref),
                op="; ".join(dict.fromkeys(target.op for target, _ in resolved)),
                waiting_since=thread.waiting_since,
                wakers=tuple(wakers.values()),
                causes=tuple(causes),
                hints=tuple(dict.fromkeys(h for a in analyses for h in a.hints)),
                signals=tuple(dict.fromkeys(name for target, _ in resolved for name in target.signals)),
                timeout=thread.timeout,
                signal_wait=any(target.role == SIGNAL for target, _ in resolved),
            )
        )
    return sorted(out, key=lambda b: (b.pid, b.tid))


def _from_waiters(snap: Snapshot) -> list[BlockedThread]:
    """Without thread samples (a snapshot rebuilt from its JSON): what the objects' waiters alone say."""
    out = []
    for obj in snap.objects:
        for w in obj.waiters:
            proc = snap.processes.get(w.pid)
            others = [h for h in obj.holders if h.pid != w.pid]
            out.append(
                BlockedThread(
                    pid=w.pid,
                    tid=w.tid,
                    comm=proc.comm if proc else "?",
                    state="?",
                    syscall="?",
                    wchan=None,
                    ref=obj.ref,
                    refs=(obj.ref,),
                    label=obj.label,
                    op=w.op,
                    waiting_since=None,
                    wakers=tuple(fd_wakers(others, "holds it")),
                    causes=(),
                    hints=("details of this wait were not kept with this snapshot",),
                )
            )
    return sorted(out, key=lambda b: (b.pid, b.tid))


def _samples(snapshot: Snapshot) -> WaitSamples | None:
    """The thread samples the snapshot carries; None when its scan took none (or it was rebuilt from JSON)."""
    samples = snapshot.threads
    return samples if isinstance(samples, WaitSamples) else None


def blocked_threads(snapshot: Snapshot) -> list[BlockedThread]:
    """Every thread the scan saw asleep waiting on IPC, with who could wake it and the likely cause."""
    samples = _samples(snapshot)
    return _from_samples(snapshot, samples) if samples is not None else _from_waiters(snapshot)


def explain(snapshot: Snapshot, pid: int) -> list[BlockedThread]:
    """The blocked threads of one process (empty when it is not blocked on IPC)."""
    return [b for b in blocked_threads(snapshot) if b.pid == pid]


_STATES = {
    "R": "running",
    "T": "stopped: it needs SIGCONT to go on",
    "t": "stopped by a debugger",
    "Z": "a zombie",
    "X": "exiting",
}


def _activity(thread: ThreadSample, undecoded: bool) -> str:
    if thread.state in _STATES:
        return _STATES[thread.state]
    if thread.state == "?":
        return f"waiting in {thread.syscall}" if thread.syscall else "waiting"
    if thread.state not in ("S", "D"):
        return f"in state {thread.state}"
    how = "sleeping" if thread.state == "S" else "in uninterruptible sleep (D)"
    if thread.syscall is None:
        where = f" in {thread.wchan}" if thread.wchan else ""
        return thread.note or f"{how} outside a system call{where}"
    text = f"{how} in {thread.syscall}"
    if thread.timeout is not None:
        text += f", {timeout_text(thread.timeout)} timeout"
    if thread.note:
        return f"{text} ({thread.note})"
    return f"{text} (not on an IPC object)" if undecoded else text


def describe(snapshot: Snapshot, pid: int) -> ProcessWaits:
    """What every thread of one process (`pid` may be any of its thread ids) is doing, IPC waits explained;
    says plainly what was not seen."""
    samples = _samples(snapshot)
    if pid not in snapshot.processes and samples is not None:
        owner = next((p for p, s in samples.processes.items() if any(t.tid == pid for t in s.threads)), None)
        if owner is not None:
            return describe(snapshot, owner)
    proc = snapshot.processes.get(pid)
    blocked = tuple(explain(snapshot, pid))
    sample = samples.processes.get(pid) if samples is not None else None
    problem = None
    others: list[tuple[int, str]] = []
    if proc is None:
        problem = "no such process in this scan"
    elif sample is None:
        if proc.state == "Z":
            problem = f"a zombie: it has exited and waits for its parent {proc.ppid} to reap it"
        elif is_kernel_thread(proc):
            problem = "a kernel thread: it never waits in a user's system call"
        elif samples is not None and pid == samples.scanner:
            problem = "this is ipcwatch itself"
        elif samples is not None and samples.problem:
            problem = samples.problem
        else:
            problem = "its threads were not sampled in this scan"
    else:
        problem = sample.problem
        waiting = {b.tid for b in blocked}
        for thread in sorted(sample.threads, key=lambda t: t.tid):
            if thread.tid not in waiting:
                others.append((thread.tid, _activity(thread, undecoded=bool(thread.targets))))
    stopped = proc is not None and sample is not None and proc.state == "T"
    notes = (f"stopped: it needs SIGCONT to go on (kill -CONT {pid})",) if stopped else ()
    return ProcessWaits(pid, proc, blocked, tuple(others), problem, notes)


def describe_now(snapshot: Snapshot, pid: int) -> ProcessWaits:
    """`describe`, plus the signals pending that no thread will take, read now from the live process (the very one
    the snapshot saw: pid and start time)."""
    report = describe(snapshot, pid)
    samples = _samples(snapshot)
    if report.process is None or samples is None or report.pid not in samples.processes:
        return report
    return replace(report, notes=report.notes + _pending_notes(report.process))


def _pending_notes(proc: Process) -> tuple[str, ...]:
    try:
        disp = read_dispositions(proc.pid, proc.start)
    except OSError:
        return ()
    waited = 0
    for thread in disp.threads:
        waited |= thread.waits_for
    stuck = disp.pending & disp.blocked_everywhere & ~waited
    if not stuck:
        return ()
    names = ", ".join(mask_names(stuck))
    return (f"{names} pending but blocked by every thread: it stays pending until a thread unblocks it",)
