"""What each dashboard view shows: the views, one row of escaped cells per object, process or blocked thread,
and the filter.

Pure data (no widgets), so a scan thread can build rows and tests can check them without an App.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ipcwatch.scan import KIND_TITLES, KINDS, IpcObject, Process, Snapshot
from ipcwatch.scan.waits import BlockedThread, blocked_threads
from ipcwatch.scan.waits.records import timeout_text
from ipcwatch.text import ago, escape
from ipcwatch.views import ALL_COLUMNS, COLUMNS, Column

ALL = "all"
PROCESSES = "processes"
BLOCKED = "blocked"
REGEX_PREFIX = "re:"


@dataclass(frozen=True)
class ViewSpec:
    """One view of the dashboard: an id (`all`, a kind, `processes`), its title and its key."""

    id: str
    title: str
    key: str


# Digits 1-9 for the first nine kinds; the later ones get a capital letter (and `[`/`]`, the palette, the list).
_LETTER_KEYS = {"eventfd": "E", "signalfd": "G"}

VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec(ALL, "All objects", "0"),
    *(ViewSpec(kind, KIND_TITLES[kind], _LETTER_KEYS.get(kind, str(n))) for n, kind in enumerate(KINDS, start=1)),
    ViewSpec(PROCESSES, "Processes using IPC objects", "p"),
    ViewSpec(BLOCKED, "Threads blocked on IPC", "w"),
)
VIEW_IDS: tuple[str, ...] = tuple(v.id for v in VIEWS)


def view_spec(view_id: str) -> ViewSpec:
    return next(v for v in VIEWS if v.id == view_id)


def object_columns(view_id: str) -> Sequence[Column]:
    """`views.ALL_COLUMNS` for the All view and the held-objects table, else the kind's `views.COLUMNS`."""
    return COLUMNS.get(view_id, ALL_COLUMNS)


@dataclass(frozen=True, slots=True)
class ColumnHead:
    title: str
    numeric: bool


PROCESS_COLUMNS: tuple[ColumnHead, ...] = (
    ColumnHead("PID", True),
    ColumnHead("USER", False),
    ColumnHead("COMM", False),
    ColumnHead("OBJECTS", True),
    ColumnHead("STATE", False),
    ColumnHead("COMMAND", False),
)


BLOCKED_COLUMNS: tuple[ColumnHead, ...] = (
    ColumnHead("PID", True),
    ColumnHead("TID", True),
    ColumnHead("COMM", False),
    ColumnHead("WAITING", True),
    ColumnHead("OBJECT", False),
    ColumnHead("CAUSE", False),
    ColumnHead("OP", False),
    ColumnHead("WAKERS", False),
)
CLIP = 40  # long operations and cause lists are cut in the table; the detail pane has them whole


def heads(columns: Sequence[Column]) -> tuple[ColumnHead, ...]:
    return tuple(ColumnHead(c.title, c.numeric) for c in columns)


@dataclass(frozen=True, slots=True)
class Row:
    """One table row: its key, its cells (already escaped), a sort key per cell, and whether it is stale."""

    key: str
    cells: tuple[str, ...]
    sort: tuple[Any, ...]
    stale: bool = False
    alert: bool = False  # a blocked thread with a flagged cause (dead partner, wait cycle)


def object_row(obj: IpcObject, columns: Sequence[Column]) -> Row:
    return Row(obj.ref, tuple(c.cell(obj) for c in columns), tuple(c.sort(obj) for c in columns), obj.stale)


def process_row(proc: Process, held: int) -> Row:
    cells = (str(proc.pid), escape(proc.user), escape(proc.comm), str(held), escape(proc.state), escape(proc.command))
    sort = (proc.pid, proc.user, proc.comm, held, proc.state, proc.command)
    return Row(str(proc.pid), cells, sort)


def blocked_key(b: BlockedThread) -> str:
    return f"{b.pid}/{b.tid}"


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
    """The ref it waits on (refs are escaped by the scan already), else the escaped label; `(+N)` more."""
    shown = b.ref if b.ref is not None else escape(b.label)
    return shown + (f" (+{len(b.refs) - 1})" if len(b.refs) > 1 else "")


def _clip(text: str) -> str:
    return text if len(text) <= CLIP else text[: CLIP - 1] + "…"


def blocked_row(b: BlockedThread, now: float) -> Row:
    since = -1.0 if b.waiting_since is None else now - b.waiting_since
    op = b.op if b.syscall == "?" or b.op.startswith(b.syscall) else f"{b.syscall}: {b.op}"
    if b.timeout is not None:
        op = f"{timeout_text(b.timeout)} timeout, {op}"
    cells = (
        str(b.pid),
        str(b.tid),
        escape(b.comm),
        waiting_for(b, now),
        object_cell(b),
        _clip(escape("; ".join(b.causes))),
        _clip(escape(op)),
        _clip(wakers_text(b)),
    )
    sort = (b.pid, b.tid, b.comm, since, b.ref or b.label, b.causes, b.op, len(b.wakers))
    return Row(blocked_key(b), cells, sort, alert=bool(b.causes))


@dataclass(frozen=True)
class Rows:
    """Every row of every view for one snapshot, built in the scan thread so the UI thread only diffs."""

    snapshot: Snapshot
    objects: dict[str, list[Row]]  # view id -> rows, for ALL and each kind
    all_by_ref: dict[str, Row]  # the ALL row of each object (the held-objects table reuses them)
    processes: list[Row]
    blocked: dict[str, BlockedThread]  # blocked-row key -> the blocked thread
    blocked_rows: list[Row]

    @property
    def refs(self) -> Collection[str]:
        return self.all_by_ref.keys()

    @property
    def flagged(self) -> int:
        """How many blocked threads have a flagged cause."""
        return sum(1 for b in self.blocked.values() if b.causes)


def build_rows(snapshot: Snapshot) -> Rows:
    """Every view's rows, and the blocked-thread analysis (it must run in the thread that scanned)."""
    all_rows = [object_row(o, ALL_COLUMNS) for o in snapshot.objects]
    objects: dict[str, list[Row]] = {ALL: all_rows}
    for kind in KINDS:
        objects[kind] = [object_row(o, COLUMNS[kind]) for o in snapshot.of_kind(kind)]
    blocked = {blocked_key(b): b for b in blocked_threads(snapshot)}
    users = {p.pid: p for p in snapshot.holder_processes}
    for b in blocked.values():  # a waiter holds nothing the kernel records (SysV semaphores): list it anyway
        if b.pid not in users and b.pid in snapshot.processes:
            users[b.pid] = snapshot.processes[b.pid]
    processes = [process_row(p, len(snapshot.held_by(p.pid))) for p in users.values()]
    blocked_rows = [blocked_row(b, snapshot.taken_at) for b in blocked.values()]
    return Rows(snapshot, objects, {r.key: r for r in all_rows}, processes, blocked, blocked_rows)


RowFilter = Callable[[Row], bool]


def compile_filter(text: str) -> RowFilter | None:
    """None for an empty filter; a case-insensitive substring, or a regex after `re:`. Raises ValueError."""
    text = text.strip()
    if not text:
        return None
    if text.startswith(REGEX_PREFIX):
        try:
            pattern = re.compile(text[len(REGEX_PREFIX) :], re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"bad regular expression: {exc}") from None
        return lambda row: any(pattern.search(cell) for cell in (row.key, *row.cells))
    needle = text.casefold()
    return lambda row: any(needle in cell.casefold() for cell in (row.key, *row.cells))
