"""What each dashboard view shows: the views, one row of escaped cells per object, process, blocked thread or
namespace, and the filter.

Pure data (no widgets), so a scan thread can build rows and tests can check them without an App.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from ipcwatch.kinds import KIND_TITLES, KINDS, UNSCOPED_KINDS, Kind, spec
from ipcwatch.record import field, record
from ipcwatch.scan import IpcObject, Process, Snapshot
from ipcwatch.scan.namespaces import Namespace, NsKey
from ipcwatch.scan.waits import BlockedThread, blocked_threads
from ipcwatch.scan.waits.records import timeout_text
from ipcwatch.tables import DETAIL, ESSENTIAL, EXTRA, IDENTITY, Elide
from ipcwatch.text import cell_len, escape
from ipcwatch.tui.widgets.cells import object_cell, top_limit, waiting_for, wakers_text
from ipcwatch.views import ALL_COLUMNS, COLUMNS, Column

ALL = "all"
PROCESSES = "processes"
BLOCKED = "blocked"
CONTAINERS = "containers"


@record
class ViewSpec:
    """One view of the dashboard: an id (`all`, a kind, `processes`), its title, its key and a short label (at
    most 5 characters: the view list and the All view's KIND column)."""

    id: str
    title: str
    key: str
    label: str


# Digits 1-9 for the first nine kinds; the later ones get a capital letter (and `[`/`]`, the palette, the list).
_LETTER_KEYS = {Kind.EVENTFD: "E", Kind.SIGNALFD: "G"}

VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec(ALL, "All objects", "0", "all"),
    *(
        ViewSpec(kind, KIND_TITLES[kind], _LETTER_KEYS.get(kind, str(n)), spec(kind).label)
        for n, kind in enumerate(KINDS, start=1)
    ),
    ViewSpec(PROCESSES, "Processes using IPC objects", "p", "procs"),
    ViewSpec(BLOCKED, "Threads blocked on IPC", "w", "waits"),
    ViewSpec(CONTAINERS, "Namespaces and containers", "n", "ns"),
)
VIEW_IDS: tuple[str, ...] = tuple(v.id for v in VIEWS)


def view_spec(view_id: str) -> ViewSpec:
    return next(v for v in VIEWS if v.id == view_id)


def object_columns(view_id: str, namespaced: bool = False) -> Sequence[Column]:
    """`views.ALL_COLUMNS` for the All view and the held-objects table, else the kind's `views.COLUMNS`; when
    `namespaced` (some object lives outside the host's namespaces), a CONTAINER column after the identifying one
    (not for the kinds no namespace scopes)."""
    columns = COLUMNS.get(view_id, ALL_COLUMNS)
    if not namespaced or view_id in UNSCOPED_KINDS:
        return columns
    at = next((i + 1 for i, c in enumerate(columns) if c.priority == IDENTITY), 1)
    return (*columns[:at], CONTAINER_COLUMN, *columns[at:])


def namespace_label(obj: IpcObject) -> str:
    """Where the object lives, escaped (the table elides it): `host`, a container's name, `ipc:4026532251`; `-`
    for kinds no namespace scopes (pipes, unix sockets, eventfds, signalfds)."""
    ns = obj.namespace
    return "-" if ns is None else escape(ns.label)


CONTAINER_COLUMN = Column(
    "CONTAINER", namespace_label, lambda o: (o.namespace is None, namespace_label(o)), width=11, priority=ESSENTIAL
)


@record
class ColumnHead:
    """A table column as the table lays it out (the meaning of each attribute is in `ipcwatch.views`): `width`
    cells (0: the title's), `priority` (lower is kept first when the terminal is narrow), `flex` (takes the width
    left over) and `elide` (`middle` keeps the tail, `end`)."""

    title: str
    numeric: bool
    width: int = 0
    priority: int = DETAIL
    flex: bool = False
    elide: Elide = "end"

    @property
    def min_width(self) -> int:
        return max(self.width, cell_len(self.title))


def _head(title: str, numeric: bool, width: int, priority: int, flex: bool = False, elide: Elide = "end") -> ColumnHead:
    return ColumnHead(title, numeric, width, priority, flex, elide)


PROCESS_COLUMNS: tuple[ColumnHead, ...] = (
    _head("PID", True, 7, IDENTITY),
    _head("USER", False, 8, ESSENTIAL),
    _head("COMM", False, 15, IDENTITY),
    _head("OBJECTS", True, 7, ESSENTIAL),
    _head("STATE", False, 5, EXTRA),
    _head("COMMAND", False, 16, ESSENTIAL, flex=True),
)


BLOCKED_COLUMNS: tuple[ColumnHead, ...] = (
    _head("PID", True, 7, IDENTITY),
    _head("TID", True, 7, EXTRA),
    _head("COMM", False, 12, IDENTITY),
    _head("WAITING", True, 7, ESSENTIAL),
    _head("OBJECT", False, 16, IDENTITY, flex=True, elide="middle"),
    _head("CAUSE", False, 16, ESSENTIAL),
    _head("OP", False, 16, DETAIL),
    _head("WAKERS", False, 16, ESSENTIAL),
)


def heads(columns: Sequence[Column]) -> tuple[ColumnHead, ...]:
    return tuple(ColumnHead(c.title, c.numeric, c.width, c.priority, c.flex, c.elide) for c in columns)


@record(frozen=False)
class Row:
    """One table row: its key, its cells (escaped), whether it is stale, and what sorts it: a sort key per cell
    (`sort`), or for an object row nothing stored: the key of a column is computed from the object (`source`) only
    when the table sorts by it. An object row's cells are built from its object when first drawn or filtered
    (`cells`), then kept: a scan of 45,000 objects builds no cell that is never shown. Rows are equal when what
    they show is (`source` aside); an object row is reused for the next scan's equal object (`object_row`) and
    then points at that object (the previous snapshot is not kept alive by it)."""

    key: str
    given: tuple[str, ...] | None  # the cells; None for an object row until they are first asked for
    sort: tuple[Any, ...] | None
    stale: bool = False
    alert: bool = False  # a blocked thread with a flagged cause (dead partner, wait cycle)
    scope: tuple[str, ...] = ()  # what an `ns:` filter matches: the namespace's tag and casefolded label
    source: IpcObject | None = field(default=None, compare=False)
    columns: Sequence[Column] = field(default=(), compare=False)

    @property
    def cells(self) -> tuple[str, ...]:
        """The escaped cells, one per column (an object row's built from its object on first use; two threads
        asking at once build the same cells)."""
        if self.given is None:
            self.given = tuple(c.cell(self.source) for c in self.columns)
        return self.given

    def sort_key(self, column: int) -> Any:
        """What orders this row by column `column`."""
        if self.sort is not None:
            return self.sort[column]
        return self.columns[column].sort(self.source)


def home(obj: IpcObject, by_tag: Mapping[str, Namespace]) -> Namespace | None:
    """The namespace the object lives in: its own, or for a unix socket its network namespace (its record's
    `net_namespace`, looked up in `by_tag`, the snapshot's namespaces by tag)."""
    if obj.namespace is not None:
        return obj.namespace
    net = obj.value("net_namespace")
    return None if net is None else by_tag.get(net.tag)


def scope_of(ns: Namespace | None) -> tuple[str, ...]:
    """What an `ns:` filter matches of a row whose object lives in `ns`: its tag and casefolded label."""
    return () if ns is None else (ns.tag, ns.label.casefold())


def object_row(
    obj: IpcObject,
    columns: Sequence[Column],
    scope: tuple[str, ...] = (),
    previous: Row | None = None,
    same: bool | None = None,
) -> Row:
    """`scope`: where it lives (`scope_of` its `home`). `previous`: this object's row of the last scan, returned
    (pointing at `obj`) when `obj` equals the object it was built from (`same`, when already known): its cells are
    not built again."""
    if previous is not None and previous.scope == scope and (previous.source == obj if same is None else same):
        previous.source = obj
        return previous
    return Row(obj.ref, None, None, obj.stale, scope=scope, source=obj, columns=columns)


def process_row(proc: Process, held: int) -> Row:
    cells = (str(proc.pid), escape(proc.user), escape(proc.comm), str(held), escape(proc.state), escape(proc.command))
    sort = (proc.pid, proc.user, proc.comm, held, proc.state, proc.command)
    return Row(str(proc.pid), cells, sort)


def blocked_key(b: BlockedThread) -> str:
    return f"{b.pid}/{b.tid}"


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
        escape("; ".join(b.causes)),  # whole: the table elides to the column, the filter matches all of it
        escape(op),
        wakers_text(b),
    )
    sort = (b.pid, b.tid, b.comm, since, b.ref or b.label, b.causes, b.op, len(b.wakers))
    return Row(blocked_key(b), cells, sort, alert=bool(b.causes))


NAMESPACE_COLUMNS: tuple[ColumnHead, ...] = (
    _head("NAMESPACE", False, 16, IDENTITY, flex=True),
    _head("TYPE", False, 4, ESSENTIAL),
    _head("RUNTIME", False, 7, DETAIL),
    _head("PIDS", True, 5, ESSENTIAL),
    _head("OBJECTS", True, 7, ESSENTIAL),
    _head("STALE", True, 5, ESSENTIAL),
    _head("BLOCKED", True, 7, ESSENTIAL),
    _head("MOST-USED LIMIT", False, 20, DETAIL),
)


def namespace_rows(
    snapshot: Snapshot, blocked: Iterable[BlockedThread], homes: Sequence[Namespace | None] | None = None
) -> list[Row]:
    """One row per namespace: its label (escaped), type, container runtime, processes, objects living in it,
    stale ones, threads of its processes blocked on IPC, and its most used limit. Keyed by tag. `homes`: each
    object's `home`, when already known."""
    if homes is None:
        by_tag = {ns.tag: ns for ns in snapshot.namespaces}
        homes = [home(o, by_tag) for o in snapshot.objects]
    objs_of: dict[NsKey, list[IpcObject]] = {}
    for obj, where in zip(snapshot.objects, homes, strict=True):
        if where is not None:
            objs_of.setdefault(where.key, []).append(obj)
    waits = list(blocked)
    rows = []
    for ns in snapshot.namespaces:
        objs, pids = objs_of.get(ns.key, []), set(ns.pids)
        stuck = [b for b in waits if b.pid in pids]
        stale = sum(1 for o in objs if o.stale)
        label = escape(ns.label) + (" (pinned, no process)" if ns.pinned_only else "")
        runtime = "-" if ns.container is None else escape(ns.container.runtime)
        use = top_limit(ns, objs)
        cells = (label, ns.type, runtime, str(len(pids)), str(len(objs)), str(stale), str(len(stuck)), use)
        sort = (not ns.host, ns.label, ns.type, runtime, len(pids), len(objs), stale, len(stuck), use)
        alert = any(b.causes for b in stuck)
        rows.append(Row(ns.tag, cells, sort, stale=bool(stale), alert=alert, scope=(ns.tag, ns.label.casefold())))
    return rows


OTHER_VIEWS = (PROCESSES, BLOCKED, CONTAINERS)  # views whose rows are not objects


@record
class Rows:
    """The rows of every view for one snapshot, built in the scan thread (object rows without their cells: see
    `Row`), so the UI thread only diffs, and showing another view only shows its prepared list; and what the view
    list counts. Built in two steps for the first scan (`build_rows(defer=True)`): the All view, the blocked
    threads and the counts of every view for the first frame, the other views by `complete` (in a worker once that
    frame is painted, or at their first use)."""

    snapshot: Snapshot
    objects: dict[str, list[Row]]  # view id -> rows, for ALL and each kind
    all_by_ref: dict[str, Row]  # the ALL row of each object (the held-objects table reuses them)
    blocked: dict[str, BlockedThread]  # blocked-row key -> the blocked thread
    counts: dict[str, tuple[int, int]]  # per view, (rows, stale or flagged ones), as its rows would count them
    others: dict[str, list[Row]]  # the rows of OTHER_VIEWS (the Containers view: one per namespace)
    namespaced: bool = False  # some object lives outside the host's namespaces: object views show CONTAINER
    rest: list[Callable[[], None]] = field(default_factory=list, compare=False)  # what `complete` builds
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def view_rows(self, view_id: str) -> list[Row]:
        """The rows of any view (built now if they were left for later)."""
        if view_id != ALL:
            self.complete()
        return self.others[view_id] if view_id in OTHER_VIEWS else self.objects[view_id]

    def built(self, view_id: str) -> bool:
        return view_id == ALL or not self.rest

    def complete(self) -> None:
        """Build the views left for later, once (another thread asking meanwhile waits for them)."""
        if self.rest:
            with self.lock:
                for build in self.rest:
                    build()
                self.rest.clear()

    @property
    def refs(self) -> Collection[str]:
        return self.all_by_ref.keys()

    @property
    def flagged(self) -> int:
        """How many blocked threads have a flagged cause."""
        return sum(1 for b in self.blocked.values() if b.causes)


def view_counts(
    snapshot: Snapshot, homes: Sequence[Namespace | None], blocked: Mapping[str, BlockedThread], processes: int
) -> dict[str, tuple[int, int]]:
    """Per view, (rows, stale or flagged ones), for the view list, from the snapshot (its rows need not be built):
    `homes`, each object's `home`; `processes`, the rows of the process view."""
    rows, stale = dict.fromkeys(KINDS, 0), dict.fromkeys(KINDS, 0)
    stale_homes: set[NsKey] = set()
    for obj, where in zip(snapshot.objects, homes, strict=True):
        rows[obj.kind] += 1
        if obj.stale:
            stale[obj.kind] += 1
            if where is not None:
                stale_homes.add(where.key)
    counts = {ALL: (len(snapshot.objects), sum(stale.values()))}
    counts.update((kind, (rows[kind], stale[kind])) for kind in KINDS)
    counts[PROCESSES] = (processes, 0)
    counts[BLOCKED] = (len(blocked), sum(1 for b in blocked.values() if b.causes))
    counts[CONTAINERS] = (len(snapshot.namespaces), sum(1 for ns in snapshot.namespaces if ns.key in stale_homes))
    return counts


def _object_views(
    snapshot: Snapshot, homes: Sequence[Namespace | None], namespaced: bool, old: Mapping[str, list[Row]], kinds: bool
) -> dict[str, list[Row]]:
    """The rows of the All view and (`kinds`) of each kind's, in the snapshot's order. `old`: the last scan's (view
    id -> rows), whose row of each unchanged object is reused (its object compared once, for the All view)."""
    all_columns = object_columns(ALL, namespaced)
    kind_columns = {kind: object_columns(kind, namespaced) for kind in KINDS}
    before = {r.key: r for r in old.get(ALL, ())}
    kind_before = {r.key: r for kind in KINDS for r in old.get(kind, ())}  # refs name their kind: no clash
    views: dict[str, list[Row]] = {ALL: [], **{kind: [] for kind in KINDS}}
    all_rows, scopes = views[ALL], {ns.key: scope_of(ns) for ns in snapshot.namespaces}
    for obj, ns in zip(snapshot.objects, homes, strict=True):
        scope = () if ns is None else scopes.get(ns.key) or scope_of(ns)
        prev = before.get(obj.ref)
        row = object_row(obj, all_columns, scope, prev)
        all_rows.append(row)
        if kinds:
            kind = obj.kind
            views[kind].append(object_row(obj, kind_columns[kind], scope, kind_before.get(obj.ref), row is prev))
    return views


def _kind_views(views: dict[str, list[Row]], namespaced: bool) -> None:
    """Into `views`, each kind's rows made from the All view's."""
    columns = {kind: object_columns(kind, namespaced) for kind in KINDS}
    for row in views[ALL]:
        obj = row.source
        assert obj is not None
        views[obj.kind].append(object_row(obj, columns[obj.kind], row.scope))


def build_rows(snapshot: Snapshot, old: Rows | None = None, defer: bool = False) -> Rows:
    """Every view's rows and the blocked-thread analysis (it must run in the thread that scanned). `old`: the last
    scan's rows, whose rows of unchanged objects are reused (neither rebuilt nor duplicated). `defer`: only the All
    view's rows (and every view's counts) now, the others left to `Rows.complete`."""
    namespaced = any(o.namespace is not None and not o.namespace.host for o in snapshot.objects)
    by_tag = {ns.tag: ns for ns in snapshot.namespaces}
    homes = [home(o, by_tag) for o in snapshot.objects]
    previous = old.objects if old is not None and old.namespaced == namespaced else {}
    objects = _object_views(snapshot, homes, namespaced, previous, kinds=not defer)
    blocked = {blocked_key(b): b for b in blocked_threads(snapshot)}
    users = {p.pid: p for p in snapshot.holder_processes}
    for b in blocked.values():  # a waiter holds nothing the kernel records (SysV semaphores): list it anyway
        if b.pid not in users and b.pid in snapshot.processes:
            users[b.pid] = snapshot.processes[b.pid]
    others: dict[str, list[Row]] = {}

    def rest() -> None:
        if defer:
            _kind_views(objects, namespaced)
        others[PROCESSES] = [process_row(p, len(snapshot.held_by(p.pid))) for p in users.values()]
        others[BLOCKED] = [blocked_row(b, snapshot.taken_at) for b in blocked.values()]
        others[CONTAINERS] = namespace_rows(snapshot, blocked.values(), homes)

    by_ref = {r.key: r for r in objects[ALL]}
    counts = view_counts(snapshot, homes, blocked, len(users))
    rows = Rows(snapshot, objects, by_ref, blocked, counts, others, namespaced, [rest])
    if not defer:
        rows.complete()
    return rows
