"""The cells of a dashboard row that take more than escaping a value: how long a blocked thread has waited, what it
waits on and who could wake it, and a namespace's most used limit."""

from __future__ import annotations

from collections.abc import Sequence

from ipcwatch.scan import IpcObject, Snapshot
from ipcwatch.scan.limits import limit_usage
from ipcwatch.scan.namespaces import Namespace
from ipcwatch.scan.waits import BlockedThread
from ipcwatch.text import ago, escape


def waiting_for(b: BlockedThread, now: float) -> str:
    """How long it has been waiting as of `now` (escape-safe), `unknown` when the scan could not tell."""
    return "unknown" if b.waiting_since is None else ago(now - b.waiting_since)


def wakers_text(b: BlockedThread) -> str:
    """`1234 producer, 99 writer` (escaped), `a signal: SIGURG` for a signal wait, else `none known`."""
    named = ", ".join(f"{w.pid} {escape(w.comm)}" for w in b.wakers)
    if b.signals:
        return f"signal {', '.join(b.signals)}" + (f"; {named}" if named else "")
    return named or ("a signal" if any(h.startswith("waits for ") for h in b.hints) else "none known")


def object_cell(b: BlockedThread) -> str:
    """The ref it waits on, else its label, escaped; `(+N)` more."""
    shown = escape(b.ref if b.ref is not None else b.label)
    return shown + (f" (+{len(b.refs) - 1})" if len(b.refs) > 1 else "")


def top_limit(ns: Namespace, objs: Sequence[IpcObject]) -> str:
    """The most used limit of `ns` by its objects `objs`, `semmni 3/32000 (0%)`; `-` when its limits were not read.
    (Given only its own objects, so a host with many namespaces is not walked once per namespace.)"""
    if not ns.limits:
        return "-"
    uses = [u for u in limit_usage(Snapshot(tuple(objs), {}), ns.limits, ns) if u.ratio is not None]
    top = max(uses, key=lambda u: u.ratio or 0.0, default=None)
    return "-" if top is None else f"{top.resource} {top.used}/{top.limit} ({top.ratio or 0.0:.0%})"
