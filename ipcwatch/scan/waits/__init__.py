"""Why is it stuck: the IPC object each thread asleep in the kernel waits on, who could wake it, and why not.

`WaitFinder.visit` is a visitor of the scan's one /proc pass. For every thread it reads `task/TID/stat` (only
sleeping threads go on) and `task/TID/syscall` through the process directory fd, so a recycled pid cannot
mix two processes' data; only calls that can wait on IPC are decoded further (their wchan, the argument
memory they point at in /proc/PID/mem, their fds). Of a one-thread process asleep, the pass itself read the
syscall, wchan and sched files and the fd table (scan.procdir.ProcDir): most waits need nothing more.
`attach` maps the waits to the scan's objects and returns the samples (`WaitSamples`), which travel in
`Snapshot.threads`. `explain`, `blocked_threads` and `describe` are
pure functions of a snapshot: they turn it into `BlockedThread`s: the operation, who could wake the thread, and
the likely cause (a dead partner, a wait cycle). Every string they hold is raw: escape it to show it.

Waits for a signal count too: sigwaitinfo/sigtimedwait (the set), sigsuspend, pause, and a signalfd, an eventfd
or a self-pipe in a poll/select/epoll set; a timed wait carries its timeout.

Modules: records (the samples), thread (reading one thread), decoders (one per system call), sigwait (the signal
calls), finder (the /proc pass), analysis (who could end one wait), explain (the reports) and reports (their
records): the last two load on first use.
"""

from __future__ import annotations

from importlib import import_module

from ipcwatch.scan.waits.finder import WaitFinder
from ipcwatch.scan.waits.records import ProcessSample, Target, ThreadSample, WaitSamples

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

    from ipcwatch.scan.waits.explain import blocked_threads, describe, describe_now, explain
    from ipcwatch.scan.waits.reports import BlockedThread, ProcessWaits, Waker

_EXPLAIN = frozenset({"blocked_threads", "describe", "describe_now", "explain"})
_REPORTS = frozenset({"BlockedThread", "ProcessWaits", "Waker"})


def __getattr__(name: str) -> Any:
    """The reports (explain, with analysis and the signal dispositions it reads, and their records) load on first
    use: a scan only needs `WaitFinder` (PEP 562)."""
    if name in _EXPLAIN:
        module = import_module("ipcwatch.scan.waits.explain")
        # Importing it bound the package's `explain` to the module: the function takes the name back, as before.
        globals().update((n, getattr(module, n)) for n in _EXPLAIN)
        return globals()[name]
    if name in _REPORTS:
        module = import_module("ipcwatch.scan.waits.reports")
        globals().update((n, getattr(module, n)) for n in _REPORTS)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BlockedThread",
    "ProcessSample",
    "ProcessWaits",
    "Target",
    "ThreadSample",
    "WaitFinder",
    "WaitSamples",
    "Waker",
    "blocked_threads",
    "describe",
    "describe_now",
    "explain",
]
