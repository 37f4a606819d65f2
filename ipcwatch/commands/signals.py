"""`ipcwatch signals PID`: what a process catches, ignores, blocks and has pending, and what each signal would do."""

from __future__ import annotations

import argparse

from ipcwatch.commands.common import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, fail, say
from ipcwatch.commands.list import write_json
from ipcwatch.scan.dispositions import Dispositions, read_dispositions
from ipcwatch.scan.sigset import mask_names
from ipcwatch.text import escape

_LABEL_WIDTH = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "signals",
        help="what a process catches, ignores, blocks and has pending, and what each signal would do to it now",
        description="Decodes the signal masks of /proc/PID/status and of every thread: caught (a handler), "
        "ignored, blocked per thread, pending (per thread and process-wide), queued against the limit; then says "
        f"what each common signal would do now. Exit {EXIT_FAILED} when the process is gone, {EXIT_REFUSED} when "
        f"it cannot be read (permission), {EXIT_USAGE} for a PID that is not a positive number.",
    )
    p.add_argument("pid", type=int, metavar="PID")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=run)


def _names(mask: int) -> str:
    return " ".join(mask_names(mask)) or "-"


def render(disp: Dispositions) -> list[str]:
    """The readable report; the comm is escaped, everything else is numbers and signal names."""
    queued = "?" if disp.queued is None else f"{disp.queued} of {disp.queue_limit} (the owner's queued signals)"
    lines = [
        f"{disp.pid} ({escape(disp.comm)}), state {disp.state}, identity {disp.identity}",
        f"  {'caught:':<{_LABEL_WIDTH}}{_names(disp.caught)}",
        f"  {'ignored:':<{_LABEL_WIDTH}}{_names(disp.ignored)}",
        f"  {'pending:':<{_LABEL_WIDTH}}{_names(disp.pending)}"
        + (f" (process-wide: {_names(disp.shared_pending)})" if disp.shared_pending else ""),
        f"  {'queued:':<{_LABEL_WIDTH}}{queued}",
    ]
    if disp.signalfd:
        lines.append(f"  {'signalfd:':<{_LABEL_WIDTH}}{_names(disp.signalfd)} (read through its signalfds)")
    if disp.namespace_init:
        lines.append("  note:     the init of a pid namespace: signals it has no handler for are dropped")
    lines.append(f"  threads ({len(disp.threads)}):")
    width = max(len(str(t.tid)) for t in disp.threads)
    for t in disp.threads:
        lines.append(f"    {t.tid:>{width}}  blocked: {_names(t.blocked)}  pending: {_names(t.pending)}")
    lines.append("  what each signal would do now:")
    verdicts = [disp.verdict(n) for n in disp.notable()]
    name_width = max(len(v.name) for v in verdicts)
    lines += [f"    {v.name:<{name_width}}  {v.says}" for v in verdicts]
    return lines


def run(args: argparse.Namespace) -> int:
    if args.pid <= 0:
        return fail("PID must be a positive number", EXIT_USAGE)
    try:
        disp = read_dispositions(args.pid)
    except ProcessLookupError:
        return fail(f"no such process: {args.pid}", EXIT_FAILED)
    except PermissionError:
        return fail(f"cannot read the signal state of pid {args.pid} (permission denied; try as root)", EXIT_REFUSED)
    except OSError as exc:
        return fail(f"cannot read the signal state of pid {args.pid}: {escape(exc.strerror or str(exc))}")
    if args.json:
        write_json(disp.to_json())
        return EXIT_OK
    for line in render(disp):
        say(line)
    return EXIT_OK
