"""`ipcwatch demo`: start a small workload of every IPC kind (plus stale leftovers) until Ctrl-C, EOF or --for."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from ipcwatch.commands.common import EXIT_FAILED, EXIT_OK, fail, refuse_if_read_only, say
from ipcwatch.text import escape


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run a live demo workload of every IPC kind, removed again on exit",
        description="Start producer/consumer child processes over every IPC kind, plus a few stale leftovers, "
        "print their refs, and wait for Ctrl-C, SIGTERM or end of input (or --for SECONDS); then kill the "
        "children and remove every object.",
    )
    p.add_argument("--for", dest="seconds", type=float, metavar="SECONDS", help="stop after this many seconds")
    p.set_defaults(func=run)


def _wait_for_stdin_eof(done: threading.Event) -> None:
    try:
        while sys.stdin.buffer.read1(4096):
            pass
    except (OSError, ValueError):
        pass
    done.set()


def run(args: argparse.Namespace) -> int:
    refused = refuse_if_read_only(args, "the demo creates IPC objects")
    if refused is not None:
        return refused
    from ipcwatch.demo import Demo  # noqa: PLC0415 - only this command needs posix_ipc/sysv_ipc children

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    demo = Demo()
    try:
        try:
            demo.start()
        except (OSError, RuntimeError) as exc:
            return fail(f"demo could not start: {escape(str(exc))}")
        for made in demo.made:
            say(f"{escape(made.ref)}  {escape(made.what)}")
        say(f"private directory: {escape(demo.directory)}")
        say(
            "running; stop with Ctrl-C, end of input (Ctrl-D) or SIGTERM"
            if args.seconds is None
            else f"running for {args.seconds:g} s"
        )
        threading.Thread(target=_wait_for_stdin_eof, args=(done,), daemon=True).start()
        done.wait(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop()
        signal.signal(signal.SIGTERM, previous)
    say("demo stopped: children killed, objects removed")
    return EXIT_OK if demo.made else EXIT_FAILED
