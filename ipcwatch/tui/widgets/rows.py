"""What each dashboard view shows: the views, one row of escaped cells per object or process, and the filter.

Pure data (no widgets), so a scan thread can build rows and tests can check them without an App.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ipcwatch.scan import KIND_TITLES, KINDS, IpcObject, Process, Snapshot
from ipcwatch.text import escape
from ipcwatch.views import ALL_COLUMNS, COLUMNS, Column

ALL = "all"
PROCESSES = "processes"
REGEX_PREFIX = "re:"


@dataclass(frozen=True)
class ViewSpec:
    """One view of the dashboard: an id (`all`, a kind, `processes`), its title and its key."""

    id: str
    title: str
    key: str


VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec(ALL, "All objects", "0"),
    *(ViewSpec(kind, KIND_TITLES[kind], str(n)) for n, kind in enumerate(KINDS, start=1)),
    ViewSpec(PROCESSES, "Processes holding IPC objects", "p"),
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


def heads(columns: Sequence[Column]) -> tuple[ColumnHead, ...]:
    return tuple(ColumnHead(c.title, c.numeric) for c in columns)


@dataclass(frozen=True, slots=True)
class Row:
    """One table row: its key, its cells (already escaped), a sort key per cell, and whether it is stale."""

    key: str
    cells: tuple[str, ...]
    sort: tuple[Any, ...]
    stale: bool = False


def object_row(obj: IpcObject, columns: Sequence[Column]) -> Row:
    return Row(obj.ref, tuple(c.cell(obj) for c in columns), tuple(c.sort(obj) for c in columns), obj.stale)


def process_row(proc: Process, held: int) -> Row:
    cells = (str(proc.pid), escape(proc.user), escape(proc.comm), str(held), escape(proc.state), escape(proc.command))
    sort = (proc.pid, proc.user, proc.comm, held, proc.state, proc.command)
    return Row(str(proc.pid), cells, sort)


@dataclass(frozen=True)
class Rows:
    """Every row of every view for one snapshot, built in the scan thread so the UI thread only diffs."""

    snapshot: Snapshot
    objects: dict[str, list[Row]]  # view id -> rows, for ALL and each kind
    all_by_ref: dict[str, Row]  # the ALL row of each object (the held-objects table reuses them)
    processes: list[Row]

    @property
    def refs(self) -> Collection[str]:
        return self.all_by_ref.keys()


def build_rows(snapshot: Snapshot) -> Rows:
    all_rows = [object_row(o, ALL_COLUMNS) for o in snapshot.objects]
    objects: dict[str, list[Row]] = {ALL: all_rows}
    for kind in KINDS:
        objects[kind] = [object_row(o, COLUMNS[kind]) for o in snapshot.of_kind(kind)]
    processes = [process_row(p, len(snapshot.held_by(p.pid))) for p in snapshot.holder_processes]
    return Rows(snapshot, objects, {r.key: r for r in all_rows}, processes)


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
