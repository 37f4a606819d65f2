"""What the subcommands share: finding an object by ref, printing safely, asking for confirmation."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from ipcwatch.actions.outcome import Outcome
from ipcwatch.actions.verify import resolve
from ipcwatch.kinds import SPECS
from ipcwatch.scan import IpcObject
from ipcwatch.text import escape

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
# `/dev/shm/sem.` -> posix-sem, `/dev/shm/` -> posix-shm, `/dev/mqueue/` -> posix-mq: the longest prefix first
_PATH_PREFIXES = sorted(
    ((f"{s.home}/{s.entry_prefix}", s.kind) for s in SPECS.values() if s.view_dir), key=lambda p: -len(p[0])
)


def say(message: str, *, err: bool = False) -> None:
    """Print one line; the caller has escaped every untrusted part (use `escape`)."""
    print(message, file=sys.stderr if err else sys.stdout, flush=True)


def fail(message: str, code: int = EXIT_FAILED) -> int:
    say(f"ipcwatch: {message}", err=True)
    return code


def normalise_ref(ref: str) -> str:
    """Accept `/dev/shm/NAME` and `/dev/mqueue/NAME` paths as refs too."""
    for prefix, kind in _PATH_PREFIXES:
        if ref.startswith(prefix):
            return f"{kind}:{ref[len(prefix) :]}"
    return ref


def require_object(ref: str, kinds: Iterable[str] = ()) -> IpcObject | str:
    """The object behind `ref` (a path works too), or an escaped message saying what is wrong."""
    found = resolve(normalise_ref(ref), kinds)
    return escape(found.message) if isinstance(found, Outcome) else found


def refuse_if_read_only(args: argparse.Namespace, what: str) -> int | None:
    """The exit code to return when --read-only forbids `what`, else None."""
    if getattr(args, "read_only", False):
        return fail(f"refused: --read-only is set, so nothing is changed ({what})", EXIT_REFUSED)
    return None


def confirm(question: str, *, yes: bool) -> bool:
    """True with --yes; on a terminal, ask; otherwise refuse (and say how to proceed)."""
    if yes:
        return True
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        say("not confirmed: no terminal to ask on; pass --yes to proceed (nothing was changed)", err=True)
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return True
    say("cancelled: nothing was changed", err=True)
    return False
