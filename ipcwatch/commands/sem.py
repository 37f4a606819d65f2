"""`ipcwatch sem REF show|post|wait|set`: read and change semaphore values (waits always time out)."""

from __future__ import annotations

import argparse

from ipcwatch.actions import semaphores
from ipcwatch.actions.outcome import Outcome
from ipcwatch.actions.verify import describe, resolve
from ipcwatch.commands.common import EXIT_USAGE, confirm, fail, normalise_ref, refuse_if_read_only, say
from ipcwatch.kinds import SEMAPHORE_KINDS, Kind
from ipcwatch.text import escape


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sem",
        help="show, post, wait on or set a semaphore",
        description="post adds --value (default 1); wait takes --value away, giving up after --timeout seconds; "
        "set (SysV only, asks for confirmation) sets the value. No SEM_UNDO: the change stays after ipcwatch "
        "exits.",
    )
    p.add_argument("ref", metavar="REF", help="sysv-sem:ID or posix-sem:NAME")
    p.add_argument("op", choices=("show", "post", "wait", "set"), help="what to do")
    p.add_argument("--num", type=int, default=0, metavar="I", help="which semaphore of a SysV set (default 0)")
    p.add_argument("--value", type=int, metavar="N", help="post/wait: the count (default 1); set: the new value")
    p.add_argument(
        "--timeout",
        type=float,
        default=semaphores.DEFAULT_TIMEOUT,
        metavar="S",
        help=f"wait: give up after S seconds (default {semaphores.DEFAULT_TIMEOUT:g}, at most "
        f"{semaphores.MAX_TIMEOUT:g})",
    )
    p.add_argument("--yes", action="store_true", help="set: do not ask for confirmation")
    p.set_defaults(func=run)


def _show(outcome: Outcome) -> int:
    if not outcome.ok:
        return fail(escape(outcome.message), outcome.exit_code)
    say(escape(outcome.message))
    for sem in outcome.data:
        extra = ", ".join(f"{k} {'?' if v is None else v}" for k, v in sem.items() if k not in ("num", "value"))
        value = "?" if sem["value"] is None else sem["value"]
        say(f"  #{sem['num']}: value {value}" + (f" ({extra})" if extra else ""))
    return 0


def run(args: argparse.Namespace) -> int:
    obj = resolve(normalise_ref(args.ref), SEMAPHORE_KINDS)
    if isinstance(obj, Outcome):
        return fail(escape(obj.message), obj.exit_code)
    if args.op == "show":
        return _show(semaphores.values(obj))
    refused = refuse_if_read_only(args, f"{args.op} on {escape(obj.ref)}")
    if refused is not None:
        return refused
    if args.op == "set":
        if args.value is None:
            return fail("sem set needs --value N", EXIT_USAGE)
        if obj.kind != Kind.SYSV_SEM:
            return fail("a POSIX semaphore has no set operation; use post or wait", EXIT_USAGE)
        question = f"set semaphore {args.num} of {escape(describe(obj))} to {args.value}?"
        if not confirm(question, yes=args.yes):
            return 1
        outcome = semaphores.sysv_set(obj, args.value, num=args.num, read_only=args.read_only)
    else:
        count = 1 if args.value is None else args.value
        operate = semaphores.post if args.op == "post" else semaphores.wait
        extra = {} if args.op == "post" else {"timeout": args.timeout}
        outcome = operate(obj, count, num=args.num, read_only=args.read_only, **extra)
    say(escape(outcome.message), err=not outcome.ok)
    return outcome.exit_code
