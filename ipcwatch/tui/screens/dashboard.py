"""The dashboard screen: the view list, one table per view, the process and blocked-thread views, the detail pane,
and the keys that act on the selection.

It is handed prepared `Rows` by the App after every scan and shows them: the visible view's table is diffed first;
the hidden ones catch up once that is painted, so showing another view only switches tables. Jumps (object ->
holder process -> object, blocked thread -> object or process, and back) keep a small history. Actions resolve the
selection (the Panes mixin) and hand it to `Flows`, which asks, confirms and acts off the UI thread.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from ipcwatch.kinds import QUEUE_KINDS, SEMAPHORE_KINDS
from ipcwatch.scan import Snapshot
from ipcwatch.text import escape
from ipcwatch.tui.flows import Flows
from ipcwatch.tui.messages import FilterChanged, RowsFiltered, ViewChosen
from ipcwatch.tui.screens.acting import Acts
from ipcwatch.tui.screens.jumps import Jumps
from ipcwatch.tui.screens.panes import Panes
from ipcwatch.tui.widgets.detail import DetailPane
from ipcwatch.tui.widgets.filter_bar import FilterBar
from ipcwatch.tui.widgets.footer import KeyFooter
from ipcwatch.tui.widgets.keyed_table import KeyedTable
from ipcwatch.tui.widgets.row_filter import NAMESPACE_PREFIX, RowFilter, compile_filter
from ipcwatch.tui.widgets.rows import (
    ALL,
    BLOCKED,
    BLOCKED_COLUMNS,
    CONTAINERS,
    NAMESPACE_COLUMNS,
    PROCESS_COLUMNS,
    PROCESSES,
    VIEW_IDS,
    VIEWS,
    Row,
    Rows,
    heads,
    object_columns,
)
from ipcwatch.tui.widgets.status import RefreshState, StatusHeader
from ipcwatch.tui.widgets.steady import SteadyStatic
from ipcwatch.tui.widgets.view_list import ViewList
from ipcwatch.tui.widgets.view_stack import ViewStack

HELD_TABLE = "held-table"
PROC_TABLE = "proc-table"
JUMP_VIEWS = (PROCESSES, BLOCKED)  # views whose rows are not objects: `o` jumps from them to the object
OBJECT_VIEWS = tuple(v.id for v in VIEWS if v.id not in (*JUMP_VIEWS, CONTAINERS))
FILTER_INLINE = 2_000  # a view with more rows than this is filtered in a thread


def _view_bindings() -> list[Binding]:
    """Priority bindings, as `/` is: a view key queued before `/` (a burst, `0 / text`) switches first, so the
    filter typed next is the new view's; check_action lets them through to a text field that has focus."""
    return [
        Binding(
            v.key, f"show_view('{v.id}')", f"View: {v.title}", show=False, id=f"dashboard.view.{v.id}", priority=True
        )
        for v in VIEWS
        if v.id != PROCESSES
    ]


class DashboardScreen(Jumps, Acts, Panes, Screen[None]):
    BINDINGS = [
        # priority: runs as the key arrives, so keys queued behind it (a paste, a fast typist) reach the filter, not
        # the dashboard's one-letter keys; check_action lets `/` through to a text field that has focus
        Binding("slash", "filter", "Filter", id="dashboard.filter", priority=True),
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
        Binding("f", "forward", "Forward", show=False, id="dashboard.forward"),
        Binding("right_square_bracket", "next_view", "Next view", show=False, id="dashboard.next_view"),
        Binding("left_square_bracket", "previous_view", "Previous view", show=False, id="dashboard.previous_view"),
        Binding("d", "toggle_detail", "Detail", show=False, id="dashboard.detail"),
        Binding("e", "notices", "Notices", show=False, id="dashboard.notices"),
        *_view_bindings(),
    ]
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)  # not the whole screen: the 2 tables repaint

    def __init__(self, flows: Flows) -> None:
        super().__init__(id="dashboard")
        self.rows: Rows | None = None
        self.fresh: frozenset[str] = frozenset()
        self.view_id = ALL
        self.filters: dict[str, str] = {}
        self._applied: dict[str, tuple[int, str]] = {}  # view id -> (rows generation, filter) last applied
        self._generation = 0
        self._bindings_state: tuple[bool | None, ...] | None = None
        self._status: StatusHeader | None = None  # the header, once mounted
        self._counts: dict[str, tuple[int, int]] = {}  # what the view list shows
        self._following = False  # the panes' update after a cursor move is scheduled
        self._held_behind = False  # the process table's cursor moved: the held-objects table must follow
        self._hidden_behind = False  # the hidden views' tables are to take the last scan's rows
        self._sizes: dict[str, tuple[int, int]] = {}  # view id -> (rows, rows the filter keeps) its table shows
        self.flows = flows

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="body"):
            yield ViewList()
            with Vertical(id="main"):
                yield SteadyStatic(markup=False, id="notice")
                with ViewStack(initial=f"view-{ALL}", id="switcher"):
                    for view_id in OBJECT_VIEWS:
                        yield KeyedTable(heads(object_columns(view_id)), id=f"view-{view_id}")
                    yield KeyedTable(BLOCKED_COLUMNS, id=f"view-{BLOCKED}")
                    yield KeyedTable(NAMESPACE_COLUMNS, id=f"view-{CONTAINERS}")
                    with Vertical(id=f"view-{PROCESSES}"):
                        yield KeyedTable(PROCESS_COLUMNS, id=PROC_TABLE)
                        yield SteadyStatic(markup=False, id="held-title")
                        yield KeyedTable(heads(object_columns(ALL)), id=HELD_TABLE)
                yield DetailPane(id="detail")
                yield FilterBar()
        yield KeyFooter()

    def on_mount(self) -> None:
        self._status = self.query_one(StatusHeader)
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

    # --- refresh ---------------------------------------------------------------------------------------------

    def apply_rows(self, rows: Rows, fresh: frozenset[str]) -> None:
        """A new scan: update the counts (made in the scan thread: per view, rows and stale or flagged ones), then
        the visible view only."""
        counts = rows.counts
        namespaced_before = self.rows is not None and self.rows.namespaced
        self.rows, self.fresh = rows, fresh
        self._generation += 1
        if not self._widgets_present():
            return
        if rows.namespaced != namespaced_before:  # the CONTAINER column comes or goes
            for view_id in OBJECT_VIEWS:
                self.table(view_id).set_heads(heads(object_columns(view_id, rows.namespaced)))
            self.held_table.set_heads(heads(object_columns(ALL, rows.namespaced)))
        if counts != self._counts:  # 15 option prompts redrawn otherwise, every scan
            self._counts = counts
            self.query_one(ViewList).set_counts(counts)
        self._refresh_view()

    def show_status(self, state: RefreshState) -> None:
        if self._status is None or not self._widgets_present():
            return
        blocked = (0, 0) if self.rows is None else (len(self.rows.blocked), self.rows.flagged)
        self._status.show(self.snapshot, state, blocked)

    def _widgets_present(self) -> bool:
        """False before mount and once the app shuts down: a late scan result or timer tick is then dropped. (A
        check of the header widget, not a DOM query: it runs every second.)"""
        return self._status is not None and self._status.is_attached

    def _filter(self, view_id: str) -> RowFilter | None:
        try:
            return compile_filter(self.filters.get(view_id, ""))
        except ValueError:
            return None

    def _refresh_view(self, now: bool = False) -> None:
        """Show the current view's rows (see `_catch_up`), then, once that is painted, let the hidden views' tables
        take them too, so that showing one later only switches."""
        if self.rows is None:
            return
        self._catch_up(self.view_id, now)
        if self.view_id in self._sizes:
            self._show_notice(*self._sizes[self.view_id])
        if self.view_id == PROCESSES:
            self._refresh_held()
        self._show_detail()
        if not self._hidden_behind:
            self._hidden_behind = True
            self.call_after_refresh(self._catch_up_hidden)

    def _catch_up(self, view_id: str, now: bool = False) -> None:
        """Give a view's table the rows (prepared by the scan worker) it does not show yet: a big view filtered in a
        thread (it builds the cells of rows never drawn); `now` (a jump that selects a row next): here at once."""
        assert self.rows is not None
        stamp = (self._generation, self.filters.get(view_id, ""))
        if not now and self._applied.get(view_id) == stamp:
            return
        self._applied[view_id] = stamp
        keep, rows = self._filter(view_id), self.rows.view_rows(view_id)
        if not now and keep is not None and len(rows) > FILTER_INLINE:
            self._filter_rows(view_id, stamp, rows, keep)  # the table keeps showing what it did meanwhile
        else:
            self._show_rows(view_id, rows, rows if keep is None else [r for r in rows if keep(r)])

    def _catch_up_hidden(self) -> None:
        """The hidden views' tables take the last scan's rows (one that a big filter needs is left until shown, and
        all of them until their rows are built: see `rows_built`)."""
        self._hidden_behind = False
        if self.rows is None or not self._widgets_present():
            return
        for view_id in VIEW_IDS:
            if view_id == self.view_id or not self.rows.built(view_id):
                continue
            if not self.filters.get(view_id) or len(self.rows.view_rows(view_id)) <= FILTER_INLINE:
                self._catch_up(view_id)

    def rows_built(self) -> None:
        """The views a first scan left for after its first frame are built (see `Rows`): their tables take them."""
        if not self._hidden_behind:
            self._hidden_behind = True
            self.call_after_refresh(self._catch_up_hidden)

    def _show_rows(self, view_id: str, rows: list[Row], shown: list[Row]) -> None:
        assert self.rows is not None
        alive = self.rows.refs if view_id in OBJECT_VIEWS else {r.key for r in rows}
        self.table(view_id).apply(shown, alive, self.fresh)
        self._sizes[view_id] = (len(rows), len(shown))

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False, description="filter")  # no repr of rows
    def _filter_rows(self, view_id: str, stamp: tuple[int, str], rows: list[Row], keep: RowFilter) -> None:
        """Filter a big view in a thread (45,000 rows: 50 ms, 0.25 s the first time, which builds their cells); the
        result comes back as a message."""
        self.post_message(RowsFiltered(view_id, stamp, rows, [r for r in rows if keep(r)]))

    @on(RowsFiltered)
    def _rows_filtered(self, message: RowsFiltered) -> None:
        if self._applied.get(message.view_id) != message.stamp or self.rows is None or not self._widgets_present():
            return  # a newer scan or filter came since
        self._show_rows(message.view_id, message.rows, message.shown)
        if message.view_id == self.view_id:
            self._show_notice(len(message.rows), len(message.shown))
            self._show_detail()

    # --- events ----------------------------------------------------------------------------------------------

    @on(KeyedTable.RowHighlighted)
    def _row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        """The held-objects table, the detail pane and the footer follow the cursor once the moved cursor has been
        painted (a key is answered at once), and once for a burst of moves (a held-down arrow)."""
        if self.rows is None:
            return
        self._held_behind |= event.table.id == PROC_TABLE
        if not self._following:
            self._following = True
            self.call_after_refresh(self._follow_selection)

    def _follow_selection(self) -> None:
        self._following = False
        if self.rows is None or not self._widgets_present():
            return
        if self._held_behind:
            self._held_behind = False
            self._refresh_held()
        self._show_detail()

    @on(KeyedTable.RowSelected)
    def _row_selected(self, event: KeyedTable.RowSelected) -> None:
        if event.table.id == PROC_TABLE:
            self.held_table.focus()
            return
        if self.view_id == BLOCKED:
            self.action_blocked_actions()
            return
        if self.view_id == CONTAINERS:
            self.show_namespace_objects()
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

    def show_view(self, view_id: str, *, focus: bool = True, now: bool = False) -> None:
        """Show a view; `now`: its rows at once (see `_refresh_view`)."""
        stacks = self.query(ViewStack)  # none yet when a view key is pressed as the dashboard starts: nothing to do
        if view_id not in VIEW_IDS or not stacks:
            return
        self.view_id = view_id
        stacks.first().current = f"view-{view_id}"
        self.query_one(ViewList).choose(view_id)
        bar, text = self.query_one(FilterBar), self.filters.get(view_id, "")
        with bar.prevent(FilterBar.Changed):
            bar.value = text
        bar.display = bool(text)
        if focus:
            self.table(view_id).focus()
        self._refresh_view(now=now)

    def show_namespace_objects(self) -> None:
        """From the Containers view, the All view filtered to the selected namespace's objects (`b` comes back)."""
        tag = self.table(CONTAINERS).selected_key
        if tag is None:
            return
        self._remember()
        self.filters[ALL] = f"{NAMESPACE_PREFIX}{tag}"
        self.show_view(ALL)

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

    def refresh_bindings_if_changed(self) -> None:
        """Refresh the footer only when what applies changed: every refresh recomposes it, and textual keeps each
        discarded footer key alive (bound to the footer's `compact`), so refreshing per scan or per row leaked."""
        actions = dict.fromkeys(b.action for b in self.BINDINGS if isinstance(b, Binding))
        state = tuple(self.check_action(action, ()) for action in actions)
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("filter", "show_view"):
            return not isinstance(self.focused, Input)
        if action in ("remove", "messages", "semaphore"):
            obj = self.target_object()
            kinds = {"messages": QUEUE_KINDS, "semaphore": SEMAPHORE_KINDS}.get(action)
            return obj is not None and (kinds is None or obj.kind in kinds)
        if action == "signal":
            obj = self.target_object()
            return self.target_process() is not None or (obj is not None and bool(obj.holders)) or None
        if action == "blocked_actions":
            return self.view_id == BLOCKED and (self.selected_blocked() is not None or None)
        if action == "object":
            return self.view_id in JUMP_VIEWS
        if action in ("back", "forward"):
            return (self.history.can_go_back if action == "back" else self.history.can_go_forward) or None
        if action == "clear_filter":
            return bool(self.filters.get(self.view_id))
        return True
