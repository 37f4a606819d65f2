"""What is selected on the dashboard and what it shows around its tables: the objects the selected process holds,
the notice line above a table, and the detail pane for the selection. A mixin of `DashboardScreen`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from ipcwatch.kinds import Kind
from ipcwatch.scan import IpcObject, Process
from ipcwatch.scan.waits import BlockedThread
from ipcwatch.text import escape
from ipcwatch.tui.navigation import Pane, Selection
from ipcwatch.tui.widgets.containers import namespace_text
from ipcwatch.tui.widgets.detail import DetailPane, blocked_text, object_text
from ipcwatch.tui.widgets.rows import ALL, PROCESSES, Row, view_spec
from ipcwatch.tui.widgets.status import notice_text
from ipcwatch.tui.widgets.steady import SteadyStatic

if TYPE_CHECKING:
    from ipcwatch.tui.screens.dashboard import DashboardScreen

NOTE_TOPICS = {Kind.POSIX_MQ: ("mqueue",), Kind.UNIX: ("unix",)}  # notes shown only in these views (by substring)
ALWAYS_NOTES = ("not root",)


class Panes:
    """The selection (one `navigation.Selection`), and the held-objects table, the notice line and the detail pane
    that follow it."""

    def selection(self: DashboardScreen) -> Selection:
        held = self.view_id == PROCESSES
        return Selection(
            self.view_id,
            held and self.focused is self.held_table,
            self.table(self.view_id).selected_key,
            self.held_table.selected_key if held else None,
        )

    def selected_object(self: DashboardScreen) -> IpcObject | None:
        """The object under the cursor in the current view (the held-objects table in the process view)."""
        return None if self.snapshot is None else self.selection().object(self.snapshot)

    def target_object(self: DashboardScreen) -> IpcObject | None:
        """The object an action applies to: the selected one, in the process view only when its table has focus."""
        return None if self.snapshot is None else self.selection().target_object(self.snapshot)

    def selected_blocked(self: DashboardScreen) -> BlockedThread | None:
        return None if self.rows is None else self.selection().blocked(self.rows.blocked)

    def selected_pid(self: DashboardScreen) -> int | None:
        """The process under the cursor: in the process view, or the blocked thread's in the blocked view."""
        return None if self.rows is None else self.selection().pid(self.rows.blocked)

    def target_process(self: DashboardScreen) -> Process | None:
        """The process an action applies to (not when the held-objects table has focus)."""
        if self.rows is None:
            return None
        return self.selection().target_process(self.rows.snapshot, self.rows.blocked)

    def _refresh_held(self: DashboardScreen) -> None:
        assert self.rows is not None
        pid = self.selected_pid()
        title = self.query_one("#held-title", SteadyStatic)
        if pid is None:
            self.held_table.apply([], self.rows.refs)
            title.show(Text("Pick a process above to see the objects it holds.", style="italic"))
            return
        held = self.rows.snapshot.held_by(pid)
        rows: list[Row] = [self.rows.all_by_ref[o.ref] for o in held if o.ref in self.rows.all_by_ref]
        self.held_table.apply(rows, self.rows.refs, self.fresh)
        proc = self.rows.snapshot.processes.get(pid)
        comm = escape(proc.comm) if proc else "gone"
        title.show(Text(f"Objects held by {pid} {comm}: {len(rows)}  (o: go to object)", style="bold"))

    def _show_notice(self: DashboardScreen, total: int, shown: int) -> None:
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
        notice = self.query_one("#notice", SteadyStatic)
        notice.show(notice_text(lines))
        notice.display = bool(lines)

    def _show_detail(self: DashboardScreen) -> None:
        self.refresh_bindings_if_changed()  # what applies depends on the selection
        pane = self.query_one(DetailPane)
        snapshot = self.snapshot
        if snapshot is None or self.rows is None:
            return
        selection = self.selection()
        if selection.pane is Pane.BLOCKED:
            blocked = selection.blocked(self.rows.blocked)
            if blocked is not None:
                pane.show(blocked_text(blocked, snapshot))
            elif self.rows.blocked:
                pane.show_message("Nothing selected.")
            else:
                pane.show_message("No thread is blocked on IPC right now.")
            return
        if selection.pane is Pane.CONTAINERS:
            tag = selection.key
            ns = None if tag is None else snapshot.namespace(tag)
            if ns is not None:
                pane.show(namespace_text(ns, snapshot))
            else:
                pane.show_message("No namespace seen." if tag is None else f"{tag} has gone away.")
            return
        if selection.pane is Pane.PROCESSES:
            pid = selection.pid(self.rows.blocked)
            proc = None if pid is None else snapshot.processes.get(pid)
            if proc is None:
                pane.show_message("No process selected." if pid is None else f"Process {pid} is gone.")
            else:
                pane.show_process(proc, snapshot, self.rows.blocked.values())
            return
        key = selection.held_key if selection.pane is Pane.HELD else selection.key
        obj = None if key is None else snapshot.get(key)
        if obj is not None:
            pane.show(object_text(obj, snapshot))
        elif key is not None:
            pane.show_message(f"{key} has gone away since the last refresh.")
        else:
            pane.show_message("Nothing selected.")
