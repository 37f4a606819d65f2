"""Jumps on the dashboard: from an object to its holder process, from a blocked thread to its object or process,
back and forward again (`navigation.History`), and `p` again for the next holder (`navigation.HolderCycle`).
A mixin of `DashboardScreen` (kept apart so each module has one job)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from ipcwatch.text import escape
from ipcwatch.tui.navigation import History, HolderCycle, Pane, Place
from ipcwatch.tui.screens.confirm import with_ref
from ipcwatch.tui.widgets.rows import PROCESSES, VIEW_IDS

if TYPE_CHECKING:
    from ipcwatch.tui.screens.dashboard import DashboardScreen

__all__ = ["Jumps", "Place"]


class Jumps:
    """`p` holder, `o` object, `b` back, `f` forward."""

    @cached_property
    def history(self: DashboardScreen) -> History:
        """The screen's jump history (`b` back, `f` forward)."""
        return History()

    @cached_property
    def holder_cycle(self: DashboardScreen) -> HolderCycle:
        return HolderCycle()

    def here(self: DashboardScreen) -> Place:
        return Place(self.view_id, self.table(self.view_id).selected_key)

    def _remember(self: DashboardScreen) -> None:
        self.history.leave(self.here())

    def _reveal(self: DashboardScreen, view_id: str, key: str) -> bool:
        """Show `key` in `view_id`, clearing that view's filter if it hides the row."""
        self.show_view(view_id, now=True)
        table = self.table(view_id)
        if table.select_key(key):
            return True
        if self.filters.get(view_id):
            self.filters[view_id] = ""
            self.show_view(view_id, now=True)
            return table.select_key(key)
        return False

    def _go(self: DashboardScreen, place: Place) -> None:
        self.show_view(place.view_id, now=place.key is not None)
        if place.key is not None:
            self.table(place.view_id).select_key(place.key)

    def _to_process(self: DashboardScreen, pid: int) -> bool:
        self._remember()
        if not self._reveal(PROCESSES, str(pid)):
            self.notify(f"Process {pid} has exited.", markup=False, severity="warning")
            return False
        return True

    def action_holder(self: DashboardScreen) -> None:
        """Go to a process holding the selected object (again: the next holder), or the blocked thread's."""
        selection = self.selection()
        if selection.pane is Pane.BLOCKED:
            pid = self.selected_pid()
            if pid is not None:
                self._to_process(pid)
            return
        obj = self.target_object()
        if obj is None:
            if selection.view_id != PROCESSES:
                self._remember()
                self.show_view(PROCESSES)
            return
        pids = list(dict.fromkeys(h.pid for h in obj.holders))
        if not pids:
            why = f" ({obj.stale_reason})" if obj.stale_reason else ""
            self.notify(escape(f"No process holds {obj.ref}{why}."), markup=False, severity="warning")
            return
        turn = self.holder_cycle.next(obj.ref, pids)
        if self._to_process(pids[turn]) and len(pids) > 1:
            self.notify(f"Holder {turn + 1} of {len(pids)}: press p again for the next.", markup=False)

    def action_object(self: DashboardScreen) -> None:
        """From the process view, go to the selected held object in its own view; from the blocked view, to the
        object the thread waits on."""
        if self.selection().pane is Pane.BLOCKED:
            blocked = self.selected_blocked()
            if blocked is None:
                return
            if blocked.ref is None:
                self.notify(f"{escape(blocked.label)} is not in this scan.", markup=False, severity="warning")
                return
            ref = blocked.ref
            obj = None if self.snapshot is None else self.snapshot.get(ref)
        else:
            obj = self.selected_object() if self.view_id == PROCESSES else None
            if obj is None:
                return
            ref = obj.ref
        self._remember()
        if obj is None or obj.kind not in VIEW_IDS or not self._reveal(obj.kind, ref):
            self.notify(with_ref("", ref, " has gone away.").plain, markup=False, severity="warning")

    def action_back(self: DashboardScreen) -> None:
        place = self.history.back(self.here())
        if place is not None:
            self._go(place)

    def action_forward(self: DashboardScreen) -> None:
        place = self.history.forward(self.here())
        if place is not None:
            self._go(place)
