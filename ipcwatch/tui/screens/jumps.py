"""Jumps on the dashboard: from an object to its holder process, from a blocked thread to its object or process,
and back, with a short history. A mixin of `DashboardScreen` (kept apart so each module has one job)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ipcwatch.text import escape
from ipcwatch.tui.screens.confirm import with_ref
from ipcwatch.tui.widgets.rows import BLOCKED, PROCESSES, VIEW_IDS

if TYPE_CHECKING:
    from ipcwatch.tui.screens.dashboard import DashboardScreen

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class Place:
    """Where the user was: a view and the selected row key."""

    view_id: str
    key: str | None


class Jumps:
    """`p` holder, `o` object, `b` back. Expects `_history: list[Place]` and `_holder_cycle` on the screen."""

    def _remember(self: DashboardScreen) -> None:
        table = self.table(self.view_id)
        self._history = [*self._history[-HISTORY_LIMIT:], Place(self.view_id, table.selected_key)]

    def _reveal(self: DashboardScreen, view_id: str, key: str) -> bool:
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

    def action_holder(self: DashboardScreen) -> None:
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

    def action_object(self: DashboardScreen) -> None:
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

    def action_back(self: DashboardScreen) -> None:
        if not self._history:
            return
        place = self._history.pop()
        self.show_view(place.view_id)
        if place.key is not None:
            self.table(place.view_id).select_key(place.key)
