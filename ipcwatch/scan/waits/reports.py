"""What the blocked-thread reports say (loaded with them, on first use: a scan only samples): a blocked thread with
who could wake it and the likely causes, and everything `ipcwatch why PID` says about one process."""

from __future__ import annotations

from ipcwatch.record import record
from ipcwatch.scan.model import Process
from ipcwatch.text import escape

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any


@record
class Waker:
    """A live process that could end the wait, and why we think so."""

    pid: int
    comm: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "comm": escape(self.comm), "why": escape(self.why)}


DEAD_PARTNER, WAIT_CYCLE = "dead partner: ", "wait cycle: "  # how the analysis words those two likely causes


@record
class BlockedThread:
    """A thread asleep in the kernel waiting on IPC. Strings are raw: escape them to show them."""

    pid: int
    tid: int
    comm: str
    state: str  # S (interruptible) or D (uninterruptible)
    syscall: str
    wchan: str | None
    ref: str | None  # the object in the snapshot, or None when the scan has none for it
    refs: tuple[str, ...]  # every object it waits on (poll and epoll wait on several)
    label: str  # what the object is called (its name, key, path or ref)
    op: str  # e.g. "semop sem 0 -1 (wait)"
    waiting_since: float | None  # epoch seconds (when it last ran); None: unknown
    wakers: tuple[Waker, ...]
    causes: tuple[str, ...]  # "dead partner: ...", "wait cycle: A -> B -> A"
    hints: tuple[str, ...] = ()  # more on who could wake it, when no process can be named
    signals: tuple[str, ...] = ()  # the signals that would end the wait (a signal wait, or a signalfd in the set)
    timeout: float | None = None  # seconds it was given to wait; None: no timeout
    signal_wait: bool = False  # it waits for a signal (sigwaitinfo, sigsuspend, pause, a signalfd in its set)

    @property
    def dead_partner(self) -> bool:
        """A likely cause is a partner that is gone: nobody left who could wake it."""
        return any(c.startswith(DEAD_PARTNER) for c in self.causes)

    @property
    def in_cycle(self) -> bool:
        """Its process is in a wait cycle (A waits on B, which waits on A)."""
        return any(c.startswith(WAIT_CYCLE) for c in self.causes)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "tid": self.tid,
            "comm": escape(self.comm),
            "state": self.state,
            "syscall": self.syscall,
            "wchan": escape(self.wchan) if self.wchan else None,
            "ref": None if self.ref is None else escape(self.ref),
            "refs": [escape(r) for r in self.refs],
            "object": escape(self.label),
            "op": escape(self.op),
            "waiting_since": self.waiting_since,
            "wakers": [w.to_json() for w in self.wakers],
            "causes": [escape(c) for c in self.causes],
            "hints": [escape(h) for h in self.hints],
            "signals": list(self.signals),
            "timeout": self.timeout,
        }


@record
class ProcessWaits:
    """Everything `ipcwatch why PID` says about one process."""

    pid: int
    process: Process | None
    blocked: tuple[BlockedThread, ...]
    others: tuple[tuple[int, str], ...]  # (tid, what it does) for threads not blocked on IPC; raw
    problem: str | None  # raw; e.g. the syscall file was not readable
    notes: tuple[str, ...] = ()  # raw; stopped (needs SIGCONT), signals pending that every thread blocks

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "comm": escape(self.process.comm) if self.process else None,
            "blocked": [b.to_json() for b in self.blocked],
            "threads": [{"tid": tid, "activity": escape(text)} for tid, text in self.others],
            "problem": escape(self.problem) if self.problem else None,
            "notes": [escape(n) for n in self.notes],
        }
