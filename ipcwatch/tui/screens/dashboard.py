"""The dashboard screen: the view list, one table per view (filled lazily), the process and blocked-thread views,
the detail pane, and the keys that act on the selection.

It is handed prepared `Rows` by the App after every scan and shows them: only the visible view's table is
diffed; a hidden table catches up when it is shown. Jumps (object -> holder process -> object, blocked thread
-> object or process, and back) keep a small history. Actions resolve the selection here and hand it to
`Flows`, which asks, confirms and acts off the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Static

from ipcwatch.scan import IpcObject, Process, Snapshot
from ipcwatch.scan.waits import BlockedThread
from ipcwatch.text import escape
from ipcwatch.tui.flows import QUEUE_KINDS, SEM_KINDS, Flows
from ipcwatch.tui.messages import FilterChanged, ViewChosen
from ipcwatch.tui.screens.confirm import with_ref
from ipcwatch.tui.widgets.detail import DetailPane, blocked_text, object_text
from ipcwatch.tui.widgets.filter_bar import FilterBar
from ipcwatch.tui.widgets.keyed_table import KeyedTable
from ipcwatch.tui.widgets.rows import (
    ALL,
    BLOCKED,
    BLOCKED_COLUMNS,
    PROCESS_COLUMNS,
    PROCESSES,
    VIEW_IDS,
    VIEWS,
    Row,
    RowFilter,
    Rows,
    compile_filter,
    heads,
    object_columns,
    view_spec,
)
from ipcwatch.tui.widgets.status import RefreshState, StatusHeader, notice_text
from ipcwatch.tui.widgets.view_list import ViewList

HELD_TABLE = "held-table"
PROC_TABLE = "proc-table"
NOTE_TOPICS = {"posix-mq": ("mqueue",), "unix": ("unix",)}  # notes shown only in these views (by substring)
ALWAYS_NOTES = ("not root",)
HISTORY_LIMIT = 50
JUMP_VIEWS = (PROCESSES, BLOCKED)  # views whose rows are not objects: `o` jumps from them to the object


@dataclass(frozen=True)
class Place:
    """Where the user was: a view and the selected row key."""

    view_id: str
    key: str | None


def _view_bindings() -> list[Binding]:
    return [
        Binding(v.key, f"show_view('{v.id}')", f"View: {v.title}", show=False, id=f"dashboard.view.{v.id}")
        for v in VIEWS
        if v.id != PROCESSES
    ]


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="dashboard.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="dashboard.clear_filter"),
        Binding("p", "holder", "Holder process", id="dashboard.holder"),
        Binding("o", "object", "Object", id="dashboard.object"),
        Binding("x,delete", "remove", "Remove", id="dashboard.remove"),
        Binding("k", "signal", "Signal", id="dashboard.signal"),
        Binding("m", "messages", "Messages", id="dashboard.messages"),
        Binding("v", "semaphore", "Semaphore", id="dashboard.semaphore"),
        Binding("a", "blocked_actions", "Actions", id="dashboard.blocked_actions"),
        Binding("C", "clean", "Clean up stale", id="dashboard.clean"),
        Binding("b,backspace", "back", "Back", id="dashboard.back"),
        Binding("right_square_bracket", "next_view", "Next view", show=False, id="dashboard.next_view"),
        Binding("left_square_bracket", "previous_view", "Previous view", show=False, id="dashboard.previous_view"),
        Binding("d", "toggle_detail", "Detail", show=False, id="dashboard.detail"),
        Binding("e", "notices", "Notices", show=False, id="dashboard.notices"),
        *_view_bindings(),
    ]

    def __init__(self, flows: Flows) -> None:
        super().__init__(id="dashboard")
        self.rows: Rows | None = None
        self.fresh: frozenset[str] = frozenset()
        self.view_id = ALL
        self.filters: dict[str, str] = {}
        self._applied: dict[str, tuple[int, str]] = {}  # view id -> (rows generation, filter) last applied
        self._generation = 0
        self._history: list[Place] = []
        self._holder_cycle: tuple[str, int] | None = None
        self.flows = flows

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="body"):
            yield ViewList()
            with Vertical(id="main"):
                yield Static(markup=False, id="notice")
                with ContentSwitcher(initial=f"view-{ALL}", id="switcher"):
                    for view in VIEWS:
                        if view.id not in JUMP_VIEWS:
                            yield KeyedTable(heads(object_columns(view.id)), id=f"view-{view.id}")
                    yield KeyedTable(BLOCKED_COLUMNS, id=f"view-{BLOCKED}")
                    with Vertical(id=f"view-{PROCESSES}"):
                        yield KeyedTable(PROCESS_COLUMNS, id=PROC_TABLE)
                        yield Static(markup=False, id="held-title")
                        yield KeyedTable(heads(object_columns(ALL)), id=HELD_TABLE)
                yield DetailPane(id="detail")
                yield FilterBar()
        yield Footer()

    def on_mount(self) -> None:
        self.table(ALL).focus()
        self.query_one(DetailPane).show_message("waiting for the first scan…")

    # --- lookups ---------------------------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot | None:
        return None if self.rows is None else self.rows.snapshot

    def table(self, view_id: str) -> KeyedTable:
        """The main table of a view (the process table for the process view)."""
        return self.query_one(f"#{PROC_TABLE if view_id == PROCESSES else f'view-{view_id}'}", KeyedTable)

    @property
    def held_table(self) -> KeyedTable:
        return self.query_one(f"#{HELD_TABLE}", KeyedTable)

    def selected_object(self) -> IpcObject | None:
        """The object under the cursor in the current view (the held-objects table in the process view)."""
        if self.snapshot is None or self.view_id == BLOCKED:
            return None
        table = self.held_table if self.view_id == PROCESSES else self.table(self.view_id)
        key = table.selected_key
        return None if key is None else self.snapshot.get(key)

    def target_object(self) -> IpcObject | None:
        """The object an action applies to: the selected one, in the process view only when its table has focus."""
        if self.view_id == PROCESSES and self.focused is not self.held_table:
            return None
        return self.selected_object()

    def selected_blocked(self) -> BlockedThread | None:
        if self.rows is None or self.view_id != BLOCKED:
            return None
        key = self.table(BLOCKED).selected_key
        return None if key is None else self.rows.blocked.get(key)

    def selected_pid(self) -> int | None:
        """The process under the cursor: in the process view, or the blocked thread's in the blocked view."""
        if self.view_id == BLOCKED:
            blocked = self.selected_blocked()
            return None if blocked is None else blocked.pid
        key = self.table(PROCESSES).selected_key if self.view_id == PROCESSES else None
        return None if key is None else int(key)

    def target_process(self) -> Process | None:
        """The process an action applies to (not when the held-objects table has focus)."""
        if self.snapshot is None or (self.view_id == PROCESSES and self.focused is self.held_table):
            return None
        pid = self.selected_pid()
        return None if pid is None else self.snapshot.processes.get(pid)

    # --- refresh ---------------------------------------------------------------------------------------------

    def apply_rows(self, rows: Rows, fresh: frozenset[str]) -> None:
        """A new scan: update counts, then the visible view only."""
        self.rows, self.fresh = rows, fresh
        self._generation += 1
        if not self._widgets_present():
            return
        counts = {v: (len(r), sum(1 for x in r if x.stale)) for v, r in rows.objects.items()}
        counts[PROCESSES] = (len(rows.processes), 0)
        counts[BLOCKED] = (len(rows.blocked), rows.flagged)
        self.query_one(ViewList).set_counts(counts)
        self._refresh_view()

    def show_status(self, state: RefreshState) -> None:
        if not self._widgets_present():
            return
        blocked = (0, 0) if self.rows is None else (len(self.rows.blocked), self.rows.flagged)
        self.query_one(StatusHeader).show(self.snapshot, state, blocked)

    def _widgets_present(self) -> bool:
        """False before compose and while the app shuts down: a late scan result or timer tick is then dropped."""
        return bool(self.query(StatusHeader)) and bool(self.query(ViewList))

    def _filter(self, view_id: str) -> RowFilter | None:
        try:
            return compile_filter(self.filters.get(view_id, ""))
        except ValueError:
            return None

    def _refresh_view(self, force: bool = False) -> None:
        if self.rows is None:
            return
        view_id, stamp = self.view_id, (self._generation, self.filters.get(self.view_id, ""))
        if force or self._applied.get(view_id) != stamp:
            self._applied[view_id] = stamp
            keep = self._filter(view_id)
            if view_id in JUMP_VIEWS:
                rows = self.rows.processes if view_id == PROCESSES else self.rows.blocked_rows
                alive = {r.key for r in rows}
            else:
                rows = self.rows.objects[view_id]
                alive = self.rows.refs
            shown = rows if keep is None else [r for r in rows if keep(r)]
            self.table(view_id).apply(shown, alive, self.fresh)
            self._show_notice(len(rows), len(shown))
        if view_id == PROCESSES:
            self._refresh_held()
        self._show_detail()

    def _refresh_held(self) -> None:
        assert self.rows is not None
        pid = self.selected_pid()
        title = self.query_one("#held-title", Static)
        if pid is None:
            self.held_table.apply([], self.rows.refs)
            title.update(Text("Pick a process above to see the objects it holds.", style="italic"))
            return
        held = self.rows.snapshot.held_by(pid)
        rows: list[Row] = [self.rows.all_by_ref[o.ref] for o in held if o.ref in self.rows.all_by_ref]
        self.held_table.apply(rows, self.rows.refs, self.fresh)
        proc = self.rows.snapshot.processes.get(pid)
        comm = escape(proc.comm) if proc else "gone"
        title.update(Text(f"Objects held by {pid} {comm}: {len(rows)}  (o: go to object)", style="bold"))

    def _show_notice(self, total: int, shown: int) -> None:
        assert self.rows is not None
        lines = []
        title = view_spec(self.view_id).title
        if total == 0:
            lines.append(f"No {title.lower()} on this host right now.")
        elif shown == 0:
            lines.append(f"No {title.lower()} match the filter {self.filters.get(self.view_id, '')!r}.")
        topics = NOTE_TOPICS.get(self.view_id, ())
        for note in self.rows.snapshot.notes:
            if note.startswith(ALWAYS_NOTES) or any(t in note for t in topics) or self.view_id == ALL:
                lines.append(f"Note: {note}")
        notice = self.query_one("#notice", Static)
        notice.update(notice_text(lines))
        notice.display = bool(lines)

    def _show_detail(self) -> None:
        self.refresh_bindings()  # what applies depends on the selection
        pane = self.query_one(DetailPane)
        snapshot = self.snapshot
        if snapshot is None or self.rows is None:
            return
        if self.view_id == BLOCKED:
            blocked = self.selected_blocked()
            if blocked is not None:
                pane.show(blocked_text(blocked, snapshot))
            elif self.rows.blocked:
                pane.show_message("Nothing selected.")
            else:
                pane.show_message("No thread is blocked on IPC right now.")
            return
        focused_held = self.view_id == PROCESSES and self.focused is self.held_table
        if self.view_id == PROCESSES and not focused_held:
            pid = self.selected_pid()
            proc = None if pid is None else snapshot.processes.get(pid)
            if proc is None:
                pane.show_message("No process selected." if pid is None else f"Process {pid} is gone.")
            else:
                pane.show_process(proc, snapshot, self.rows.blocked.values())
            return
        table = self.held_table if focused_held else self.table(self.view_id)
        key = table.selected_key
        obj = None if key is None else snapshot.get(key)
        if obj is not None:
            pane.show(object_text(obj, snapshot))
        elif key is not None:
            pane.show_message(f"{key} has gone away since the last refresh.")
        else:
            pane.show_message("Nothing selected.")

    # --- events ----------------------------------------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.rows is None:
            return
        if event.data_table.id == PROC_TABLE:
            self._refresh_held()
        self._show_detail()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == PROC_TABLE:
            self.held_table.focus()
            return
        if self.view_id == BLOCKED:
            self.action_blocked_actions()
            return
        obj = self.selected_object()
        if obj is not None:
            self.flows.open(obj)

    def on_descendant_focus(self) -> None:
        self._show_detail()

    @on(ViewChosen)
    def _view_chosen(self, event: ViewChosen) -> None:
        self.show_view(event.view_id, focus=False)

    @on(FilterChanged)
    def _filter_changed(self, event: FilterChanged) -> None:
        bar = self.query_one(FilterBar)
        try:
            compile_filter(event.text)
        except ValueError as exc:
            bar.mark_bad(True)
            bar.tooltip = Text(escape(str(exc)))  # the error quotes the pattern: never parse it as markup
            return
        bar.mark_bad(False)
        self.filters[self.view_id] = event.text.strip()
        self._refresh_view()
        if event.done:
            self.table(self.view_id).focus()

    # --- views -----------------------------------------------------------------------------------------------

    def show_view(self, view_id: str, *, focus: bool = True) -> None:
        if view_id not in VIEW_IDS:
            return
        self.view_id = view_id
        self.query_one(ContentSwitcher).current = f"view-{view_id}"
        self.query_one(ViewList).choose(view_id)
        bar = self.query_one(FilterBar)
        text = self.filters.get(view_id, "")
        with bar.prevent(FilterBar.Changed):
            bar.value = text
        bar.display = bool(text)
        if focus:
            self.table(view_id).focus()
        self._refresh_view()

    def action_show_view(self, view_id: str) -> None:
        self.show_view(view_id)

    def _step_view(self, step: int) -> None:
        index = VIEW_IDS.index(self.view_id)
        self.show_view(VIEW_IDS[(index + step) % len(VIEW_IDS)])

    def action_next_view(self) -> None:
        self._step_view(1)

    def action_previous_view(self) -> None:
        self._step_view(-1)

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def action_clear_filter(self) -> None:
        self.query_one(FilterBar).action_clear_filter()

    def action_toggle_detail(self) -> None:
        pane = self.query_one(DetailPane)
        pane.display = not pane.display

    def action_notices(self) -> None:
        from ipcwatch.tui.screens.notices import NoticesScreen  # noqa: PLC0415 - opened rarely

        if self.snapshot is not None:
            self.app.push_screen(NoticesScreen(self.snapshot))

    # --- jumps -----------------------------------------------------------------------------------------------

    def _remember(self) -> None:
        table = self.table(self.view_id)
        self._history = [*self._history[-HISTORY_LIMIT:], Place(self.view_id, table.selected_key)]

    def _reveal(self, view_id: str, key: str) -> bool:
        """Show `key` in `view_id`, clearing that view's filter if it hides the row."""
        self.show_view(view_id)
        table = self.table(view_id)
        if table.select_key(key):
            return True
        if self.filters.get(view_id):
            self.filters[view_id] = ""
            self.show_view(view_id)
            return table.select_key(key)
        return False

    def action_holder(self) -> None:
        """Go to a process holding the selected object (again: the next holder), or the blocked thread's."""
        if self.view_id == BLOCKED:
            pid = self.selected_pid()
            if pid is not None:
                self._remember()
                if not self._reveal(PROCESSES, str(pid)):
                    self.notify(f"Process {pid} has exited.", markup=False, severity="warning")
            return
        obj = self.selected_object() if self.view_id != PROCESSES or self.focused is self.held_table else None
        if obj is None:
            if self.view_id != PROCESSES:
                self._remember()
                self.show_view(PROCESSES)
            return
        pids = list(dict.fromkeys(h.pid for h in obj.holders))
        if not pids:
            why = f" ({obj.stale_reason})" if obj.stale_reason else ""
            self.notify(f"No process holds {escape(obj.ref)}{why}.", markup=False, severity="warning")
            return
        turn = 0
        if self._holder_cycle and self._holder_cycle[0] == obj.ref:
            turn = (self._holder_cycle[1] + 1) % len(pids)
        self._holder_cycle = (obj.ref, turn)
        self._remember()
        if not self._reveal(PROCESSES, str(pids[turn])):
            self.notify(f"Process {pids[turn]} has exited.", markup=False, severity="warning")
        elif len(pids) > 1:
            self.notify(f"Holder {turn + 1} of {len(pids)}: press p again for the next.", markup=False)

    def action_object(self) -> None:
        """From the process view, go to the selected held object in its own view; from the blocked view, to the
        object the thread waits on."""
        if self.view_id == BLOCKED:
            blocked = self.selected_blocked()
            if blocked is None:
                return
            if blocked.ref is None:
                self.notify(f"{escape(blocked.label)} is not in this scan.", markup=False, severity="warning")
                return
            ref = blocked.ref
            kind = ref.partition(":")[0]
        else:
            obj = self.selected_object() if self.view_id == PROCESSES else None
            if obj is None:
                return
            ref, kind = obj.ref, obj.kind
        self._remember()
        if kind not in VIEW_IDS or not self._reveal(kind, ref):
            self.notify(with_ref("", ref, " has gone away.").plain, markup=False, severity="warning")

    def action_back(self) -> None:
        if not self._history:
            return
        place = self._history.pop()
        self.show_view(place.view_id)
        if place.key is not None:
            self.table(place.view_id).select_key(place.key)

    # --- acting on the selection ---------------------------------------------------------------------------------

    def action_remove(self) -> None:
        """Remove the selected object (asks first; twice when it is in use)."""
        obj = self.target_object()
        if obj is not None:
            self.flows.remove(obj)

    def action_signal(self) -> None:
        """Send a signal to the selected process, blocked thread's process, or a holder of the selected object."""
        proc = self.target_process()
        obj = self.target_object()
        if proc is not None:
            self.flows.signal(proc)
        elif obj is not None and self.snapshot is not None:
            self.flows.signal_holder(obj, self.snapshot)

    def action_messages(self) -> None:
        """Open the selected message queue: its messages (peeked, not removed), send, receive."""
        obj = self.target_object()
        if obj is not None and obj.kind in QUEUE_KINDS:
            self.flows.queue(obj)

    def action_semaphore(self) -> None:
        """Open the selected semaphore: values, post, wait, set."""
        obj = self.target_object()
        if obj is not None and obj.kind in SEM_KINDS:
            self.flows.semaphore(obj)

    def action_blocked_actions(self) -> None:
        """What can be done about the selected blocked thread: signal it, post its semaphore, open its queue."""
        blocked = self.selected_blocked()
        if blocked is not None and self.snapshot is not None:
            self.flows.blocked_menu(blocked, self.snapshot)

    def action_clean(self) -> None:
        """Review every stale object and remove the checked ones."""
        self.flows.clean()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("remove", "messages", "semaphore"):
            obj = self.target_object()
            kinds = {"messages": QUEUE_KINDS, "semaphore": SEM_KINDS}.get(action)
            return obj is not None and (kinds is None or obj.kind in kinds)
        if action == "signal":
            obj = self.target_object()
            return self.target_process() is not None or (obj is not None and bool(obj.holders)) or None
        if action == "blocked_actions":
            return self.view_id == BLOCKED and (self.selected_blocked() is not None or None)
        if action == "object":
            return self.view_id in JUMP_VIEWS
        if action == "back":
            return bool(self._history) or None
        if action == "clear_filter":
            return bool(self.filters.get(self.view_id))
        return True
