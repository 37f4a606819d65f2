"""Decoders of the waits for a signal: sigwaitinfo/sigtimedwait (the set, read from the caller's memory),
sigsuspend (the temporary mask), pause.

A signal wait has no object: its target is `signal:PID` and never matches one. A signalfd in a wait set is
decoded with the other fds (decoders.py); both are explained by analysis.analyse_signal.
"""

from __future__ import annotations

from ipcwatch.scan.sigset import mask_names, read_sigset
from ipcwatch.scan.waits.records import SIGNAL, Decoded, OtherKind, Target
from ipcwatch.scan.waits.thread import ThreadReader


def _target(t: ThreadReader, op: str, names: tuple[str, ...], label: str) -> Target:
    return Target(f"{OtherKind.SIGNAL}:{t.pid}", OtherKind.SIGNAL, SIGNAL, op, label=label, signals=names)


def _sigtimedwait(t: ThreadReader) -> Decoded:
    """rt_sigtimedwait(set, info, timeout, sigsetsize): sigwaitinfo when timeout is NULL."""
    call = "sigtimedwait" if t.args[2] else "sigwaitinfo"
    mask = read_sigset(t.mem, t.args[0], t.args[3])
    if mask is None:
        return (_target(t, f"{call} (its set is not readable)", (), "a signal"),), None
    names = tuple(mask_names(mask))
    if not names:
        return (_target(t, f"{call} for an empty set", (), "no signal"),), None
    return (_target(t, f"{call} for {', '.join(names)}", names, f"signal {', '.join(names)}"),), None


def _sigsuspend(t: ThreadReader) -> Decoded:
    """rt_sigsuspend(mask, sigsetsize): any signal the temporary mask does not block ends it."""
    mask = read_sigset(t.mem, t.args[0], t.args[1])
    blocked = f" (blocking {', '.join(mask_names(mask))} meanwhile)" if mask else ""
    return (_target(t, f"sigsuspend for any signal it handles{blocked}", (), "any signal"),), None


def _pause(t: ThreadReader) -> Decoded:
    return (_target(t, "pause for any signal it handles", (), "any signal"),), None


SIGNAL_DECODERS = {"rt_sigtimedwait": _sigtimedwait, "rt_sigsuspend": _sigsuspend, "pause": _pause}
