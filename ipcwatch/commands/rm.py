"""`ipcwatch rm REF...` and `ipcwatch clean`: remove objects, each after an identity re-check, after confirmation."""

from __future__ import annotations

import argparse
import sys

from ipcwatch.actions import clean as cleaning
from ipcwatch.actions.outcome import Outcome, Status
from ipcwatch.actions.remove import not_removable, remove
from ipcwatch.actions.verify import config_for, describe, users
from ipcwatch.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    confirm,
    fail,
    normalise_ref,
    refuse_if_read_only,
    say,
)
from ipcwatch.commands.list import add_namespace_option
from ipcwatch.scan import IpcObject, scan
from ipcwatch.scan.nsfilter import ALL, HOST, unknown
from ipcwatch.text import escape


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rm",
        help="remove IPC objects (SysV IPC_RMID; unlink POSIX objects, stale FIFO and socket files)",
        description="Each object is re-scanned and its identity compared just before removal; a replaced object "
        "is never removed. Objects in use need --force-in-use.",
    )
    p.add_argument("refs", nargs="+", metavar="REF")
    p.add_argument("--expect", metavar="IDENTITY", help="only if the object still has this identity (one REF)")
    p.add_argument("--force-in-use", action="store_true", help="remove even objects that processes hold or wait on")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=run_rm)

    p = sub.add_parser(
        "clean",
        help="remove stale objects (without --yes and no terminal: only shows what would be removed)",
        description="Lists every removable stale object with its reason, age, owner and size. Objects touched in "
        "the last minute are kept.",
    )
    p.add_argument("--yes", action="store_true", help="remove the selected objects without asking")
    add_namespace_option(p)
    p.set_defaults(func=run_clean)


def _worst(outcomes: list[Outcome]) -> int:
    if all(o.ok for o in outcomes):
        return EXIT_OK
    return EXIT_REFUSED if any(o.status is Status.REFUSED for o in outcomes) else EXIT_FAILED


def _select(refs: list[str], expect: str | None) -> tuple[list[IpcObject], list[Outcome]]:
    """The objects to remove, and a refusal for each ref that is missing, replaced or not removable."""
    snapshot = scan(config_for(refs))
    chosen, problems = [], []
    for ref in refs:
        obj = snapshot.find(ref)
        if obj is None:
            problems.append(Outcome(Status.GONE, f"no such object: {ref} (see `ipcwatch list`)"))
        elif expect is not None and obj.identity != expect:
            problems.append(
                Outcome(Status.REFUSED, f"refused: {ref} was replaced (identity {obj.identity}, expected {expect})")
            )
        elif not_removable(obj):
            problems.append(Outcome(Status.REFUSED, f"refused: {ref}: {not_removable(obj)}"))
        else:
            chosen.append(obj)
    return chosen, problems


def run_rm(args: argparse.Namespace) -> int:
    refused = refuse_if_read_only(args, "rm " + " ".join(escape(r) for r in args.refs))
    if refused is not None:
        return refused
    if args.expect is not None and len(args.refs) != 1:
        return fail("--expect takes exactly one REF", EXIT_USAGE)
    refs = [normalise_ref(r) for r in args.refs]
    chosen, problems = _select(refs, args.expect)
    busy = {obj.ref: users(obj) for obj in chosen if users(obj)}
    if busy and not args.force_in_use:
        problems += [
            Outcome(Status.REFUSED, f"refused: {ref} is in use ({'; '.join(u)}); pass --force-in-use")
            for ref, u in busy.items()
        ]
    for problem in problems:
        say(f"ipcwatch: {escape(problem.message)}", err=True)
    if problems:
        say("nothing was removed", err=True)
        return _worst(problems)
    say(f"will remove {len(chosen)} object(s):")
    for obj in chosen:
        say(f"  {escape(describe(obj))}")
    if not confirm("remove them?", yes=args.yes):
        return EXIT_FAILED
    if busy:
        for ref, who in busy.items():
            say(f"{escape(ref)} is IN USE by:")
            for line in who:
                say(f"  {escape(line)}")
        if not confirm("remove the objects in use anyway?", yes=args.yes):
            return EXIT_FAILED
    outcomes = [remove(o.ref, o.identity, force_in_use=args.force_in_use, read_only=args.read_only) for o in chosen]
    for outcome in outcomes:
        say(escape(outcome.message), err=not outcome.ok)
    return _worst(outcomes)


def run_clean(args: argparse.Namespace) -> int:
    if args.namespace not in (ALL, HOST) and unknown(args.namespace, scan().namespaces):
        return fail(f"no namespace or container matches {escape(args.namespace)}", EXIT_USAGE)
    plan = cleaning.plan(namespace=args.namespace)
    if isinstance(plan, Outcome):
        return fail(escape(plan.message))
    selected = [c for c in plan.candidates if c.selected]
    for candidate in plan.candidates:
        mark = "[x]" if candidate.selected else "[ ] (touched in the last minute: kept)"
        say(f"{mark} {escape(candidate.line())}")
    for obj, reason in plan.skipped:
        say(f"    skipped {escape(obj.ref)}: {escape(reason)}")
    say(escape(plan.summary(selected)))
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not args.yes and not interactive:
        say("dry run: nothing was removed (pass --yes to remove the [x] objects)")
        return EXIT_OK
    refused = refuse_if_read_only(args, "clean")
    if refused is not None:
        return refused
    if not selected:
        say("nothing to remove")
        return EXIT_OK
    if not confirm(f"remove these {len(selected)} object(s)?", yes=args.yes):
        return EXIT_FAILED
    outcomes = cleaning.clean(selected, read_only=args.read_only)
    for outcome in outcomes:
        say(escape(outcome.message), err=not outcome.ok)
    return _worst(outcomes)
