"""`ipcwatch why PID`: what each thread of a process is blocked on, who could wake it, and the likely cause."""

from __future__ import annotations

import argparse
import time

from ipcwatch.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, say
from ipcwatch.commands.list import write_json
from ipcwatch.scan import scan
from ipcwatch.scan.waits import BlockedThread, ProcessWaits, describe_now
from ipcwatch.scan.waits.records import timeout_text
from ipcwatch.text import ago, escape

_INDENT = "    "
_LABEL_WIDTH = 14


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "why",
        help="explain what a process is blocked on (an IPC object or a signal, who could wake it, dead partners)",
        description="For every thread of PID asleep in the kernel: the IPC object or the signals it waits for, the "
        "operation and its timeout, the processes that could wake it, and the likely cause (a dead partner, a wait "
        "cycle). A stopped process and signals pending that every thread blocks are said too.",
    )
    p.add_argument("pid", type=int, metavar="PID")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=run)


def _field(name: str, value: str) -> str:
    return f"{_INDENT}{(name + ':').ljust(_LABEL_WIDTH)}{value}"


def _object(b: BlockedThread) -> str:
    if b.ref is None:
        return escape(b.label) if b.signal_wait else f"{escape(b.label)} (not in this scan)"
    return escape(b.ref if b.label == b.ref else f"{b.ref} ({b.label})")


def render_thread(b: BlockedThread, now: float) -> list[str]:
    """The lines describing one blocked thread; every untrusted part escaped."""
    timed = f", {timeout_text(b.timeout)} timeout" if b.timeout is not None else ""
    lines = [f"  thread {b.tid} [{b.state}] in {escape(b.syscall)}{timed}, waiting on {_object(b)}"]
    if len(b.refs) > 1:
        lines.append(_field("also on", ", ".join(b.refs[1:])))
    lines.append(_field("operation", escape(b.op)))
    if b.signals:
        lines.append(_field("signals", ", ".join(b.signals)))
    if b.timeout is not None:
        lines.append(_field("timeout", f"{timeout_text(b.timeout)}: a timed wait returns by itself, it is not stuck"))
    since = "unknown" if b.waiting_since is None else f"{ago(now - b.waiting_since)} (since it last ran)"
    lines.append(_field("asleep for", since))
    if b.wakers:
        for i, w in enumerate(b.wakers):
            lines.append(_field("could wake" if i == 0 else "", f"{w.pid} ({escape(w.comm)}): {escape(w.why)}"))
    else:
        lines.append(_field("could wake", "a signal (see the note)" if b.signal_wait else "no live process known"))
    lines += [_field("note", escape(h)) for h in b.hints]
    lines += [_field("likely cause", escape(c)) for c in b.causes]
    return lines


def render(report: ProcessWaits, now: float) -> list[str]:
    """The readable report for one process."""
    comm = escape(report.process.comm) if report.process else "?"
    head = f"{report.pid} ({comm})"
    if not report.blocked and not report.others:
        return [f"{head}: {escape(report.problem or 'no threads seen')}"]
    lines: list[str] = []
    if report.blocked:
        lines.append(f"{head}: {len(report.blocked)} thread(s) blocked on IPC")
        for b in report.blocked:
            lines += render_thread(b, now)
        lines += [f"  thread {tid}: not blocked on IPC: {escape(text)}" for tid, text in report.others]
    elif len(report.others) == 1:
        lines.append(f"{head}: not blocked on IPC: {escape(report.others[0][1])}")
    else:
        lines.append(f"{head}: not blocked on IPC")
        lines += [f"  thread {tid}: {escape(text)}" for tid, text in report.others]
    if report.problem:
        lines.append(f"  note: {escape(report.problem)}")
    lines += [f"  note: {escape(note)}" for note in report.notes]
    return lines


def run(args: argparse.Namespace) -> int:
    if args.pid <= 0:
        return fail("PID must be a positive number", EXIT_USAGE)
    snapshot = scan()
    report = describe_now(snapshot, args.pid)
    if args.json:
        write_json(report.to_json())
        return EXIT_OK if report.process is not None else EXIT_FAILED
    if report.process is None:
        return fail(f"no such process: {args.pid}")
    for line in render(report, time.time()):
        say(line)
    return EXIT_OK
