"""`ipcwatch kill PID`: signal exactly the process you saw (pidfd + start-time check), after confirmation."""

from __future__ import annotations

import argparse

from ipcwatch.actions import signals
from ipcwatch.commands.common import EXIT_REFUSED, EXIT_USAGE, confirm, fail, refuse_if_read_only, say
from ipcwatch.text import escape


def register(sub: argparse._SubParsersAction) -> None:
    meanings = "; ".join(f"{s.name}: {s.meaning}" for s in signals.SIGNALS)
    p = sub.add_parser(
        "kill",
        help="send a signal to a process (checks it is still the same process)",
        description=f"Signals offered: {meanings}.",
    )
    p.add_argument("pid", type=int, metavar="PID")
    p.add_argument("--signal", default=signals.DEFAULT_SIGNAL, metavar="NAME", help="signal name (default TERM)")
    p.add_argument(
        "--expect",
        metavar="PID@START",
        help="only if the process is still this one (its identity as shown by `ipcwatch list --json`)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    choice = signals.signal_named(args.signal)
    if choice is None:
        offered = ", ".join(s.name for s in signals.SIGNALS)
        return fail(f"unknown signal {escape(args.signal)}; offered: {offered}", EXIT_USAGE)
    if args.pid <= 0:
        return fail(f"refused: pid {args.pid} is not a single process (pid must be > 0)", EXIT_REFUSED)
    refused = refuse_if_read_only(args, f"send SIG{choice.name} to pid {args.pid}")
    if refused is not None:
        return refused
    info = signals.process_info(args.pid)
    if info is None:
        return fail(f"no such process: {args.pid}")
    expect = args.expect or info.identity
    if expect != info.identity:
        return fail(
            f"refused: pid {args.pid} is now a different process ({escape(info.identity)}, expected "
            f"{escape(expect)}); it was not signalled",
            EXIT_REFUSED,
        )
    say(f"pid {info.pid} ({escape(info.identity)}), user {escape(info.user)}: {escape(info.command)}")
    say(escape(signals.forecast(choice, signals.dispositions_of(info.pid, info.start))), err=True)
    if not confirm(f"send SIG{choice.name} ({choice.meaning}) to pid {info.pid}?", yes=args.yes):
        return 1
    outcome = signals.send_signal(args.pid, choice.name, expect=expect, read_only=args.read_only)
    say(escape(outcome.message), err=not outcome.ok)
    return outcome.exit_code
