"""`ipcwatch demo`: run a small workload of every IPC kind (plus stale leftovers) until a stop signal, EOF or --for.

`--cleanup` removes what demos killed with SIGKILL left behind, from their markers (identity-checked).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from ipcwatch.actions.outcome import Outcome, Status
from ipcwatch.commands.common import EXIT_FAILED, EXIT_OK, fail, refuse_if_read_only, say
from ipcwatch.stopsignals import StopSignals
from ipcwatch.text import escape
from ipcwatch.workload.ledger import state_dir, sweep


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run a live demo workload of every IPC kind, removed again on exit",
        description="Start producer/consumer child processes over every IPC kind, plus a few stale leftovers, "
        "print their refs, and wait for end of input (Ctrl-D), SIGINT (Ctrl-C), SIGTERM, SIGHUP, SIGQUIT or "
        "--for SECONDS; then kill the children and remove every object. What the demo makes is recorded in a "
        "marker file, so what a demo killed with SIGKILL left is removed by `demo --cleanup` or the next demo.",
    )
    p.add_argument("--for", dest="seconds", type=float, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument(
        "--cleanup",
        action="store_true",
        help="only remove what killed demos left behind (objects whose identity still matches their marker)",
    )
    p.set_defaults(func=run)


def _say(line: str) -> None:
    """Print one line; a hung-up terminal (EIO) or a closed pipe must not stop the cleanup."""
    with contextlib.suppress(OSError):
        say(line)


def _sweep() -> bool:
    """Remove what killed demos left; say what was done. False when something could not be removed."""
    try:
        swept = sweep("demo")
    except OSError as exc:
        _say(f"ipcwatch: cannot read demo markers: {escape(str(exc))}")
        return False
    for marker in swept:
        owner = (marker.owner or "unknown").partition("@")[0]
        _say(f"cleaning up after a demo that was killed (pid {escape(owner)}):")
        for outcome in marker.outcomes:
            if outcome.status is not Status.GONE:
                _say(f"  {escape(outcome.message)}")
        _say(f"  {marker.removed} removed" + (f"; marker {escape(marker.marker)} kept" if marker.kept else ""))
    return not any(marker.kept for marker in swept)


def _failures(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status in (Status.DENIED, Status.FAILED)]


def run(args: argparse.Namespace) -> int:
    if args.cleanup:
        refused = refuse_if_read_only(args, "cleaning up after killed demos removes objects")
        if refused is not None:
            return refused
        with StopSignals():  # a signal waits until the sweep is done
            ok = _sweep()
        _say(f"demo cleanup done (markers in {escape(state_dir())})")
        return EXIT_OK if ok else EXIT_FAILED
    refused = refuse_if_read_only(args, "the demo creates IPC objects")
    if refused is not None:
        return refused
    from ipcwatch.demo import Demo  # noqa: PLC0415 - only this command needs posix_ipc/sysv_ipc children

    demo = Demo()
    with StopSignals() as stop:
        _sweep()
        outcomes: list[Outcome] = []
        try:
            try:
                demo.start()
            except (OSError, RuntimeError) as exc:
                return fail(f"demo could not start: {escape(str(exc))}")
            if demo.ledger.problem:
                _say(f"warning: no marker ({escape(demo.ledger.problem)}); if killed with SIGKILL, clean up by hand")
            for made in demo.made:
                _say(f"{escape(made.ref)}  {escape(made.what)}")
            _say(f"private directory: {escape(demo.directory)}")
            _say(
                "running; stop with Ctrl-C, end of input (Ctrl-D), SIGTERM, SIGHUP or SIGQUIT"
                if args.seconds is None
                else f"running for {args.seconds:g} s"
            )
            reason = stop.wait(args.seconds, stdin=sys.stdin is not None)  # None: fd 0 was closed at start-up
        finally:
            outcomes = demo.stop()
    failures = _failures(outcomes)
    for outcome in failures:
        _say(f"  {escape(outcome.message)}")
    removed = sum(o.ok for o in outcomes)
    _say(
        f"demo stopped ({escape(reason)}): children killed, {removed} object(s) removed"
        + (f", {len(failures)} could not be (marker kept for `ipcwatch demo --cleanup`)" if failures else "")
    )
    if failures:
        return EXIT_FAILED
    return 128 + stop.received if stop.received is not None else EXIT_OK
