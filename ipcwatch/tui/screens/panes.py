"""What the dashboard shows around its tables: the objects the selected process holds, the notice line above a
table, and the detail pane for the selection. A mixin of `DashboardScreen`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from ipcwatch.text import escape
from ipcwatch.tui.widgets.containers import namespace_text
from ipcwatch.tui.widgets.detail import DetailPane, blocked_text, object_text
from ipcwatch.tui.widgets.rows import ALL, BLOCKED, CONTAINERS, PROCESSES, Row, view_spec
from ipcwatch.tui.widgets.status import notice_text

if TYPE_CHECKING:
    from ipcwatch.tui.screens.dashboard import DashboardScreen

NOTE_TOPICS = {"posix-mq": ("mqueue",), "unix": ("unix",)}  # notes shown only in these views (by substring)
ALWAYS_NOTES = ("not root",)


class Panes:
    """The held-objects table, the notice line and the detail pane follow the selection."""

    def _refresh_held(self: DashboardScreen) -> None:
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
        notice = self.query_one("#notice", Static)
        notice.update(notice_text(lines))
        notice.display = bool(lines)

    def _show_detail(self: DashboardScreen) -> None:
        self.refresh_bindings_if_changed()  # what applies depends on the selection
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
        if self.view_id == CONTAINERS:
            tag = self.table(CONTAINERS).selected_key
            ns = None if tag is None else snapshot.namespace(tag)
            if ns is not None:
                pane.show(namespace_text(ns, snapshot))
            else:
                pane.show_message("No namespace seen." if tag is None else f"{tag} has gone away.")
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
