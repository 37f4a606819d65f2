"""Actions on the dashboard's selection (remove, signal, open a queue or semaphore, a blocked thread's menu, clean
up): each resolves what is selected (`Panes.selection`, one `navigation.Selection`) and hands it to `Flows`.
A mixin of `DashboardScreen`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipcwatch.kinds import QUEUE_KINDS, SEMAPHORE_KINDS

if TYPE_CHECKING:
    from ipcwatch.tui.screens.dashboard import DashboardScreen


class Acts:
    """The keys that act: x, k, m, v, a, C."""

    def action_remove(self: DashboardScreen) -> None:
        """Remove the selected object (asks first; twice when it is in use)."""
        obj = self.target_object()
        if obj is not None:
            self.flows.remove(obj)

    def action_signal(self: DashboardScreen) -> None:
        """Send a signal to the selected process, blocked thread's process, or a holder of the selected object."""
        proc = self.target_process()
        obj = self.target_object()
        if proc is not None:
            self.flows.signal(proc)
        elif obj is not None and self.snapshot is not None:
            self.flows.signal_holder(obj, self.snapshot)

    def action_messages(self: DashboardScreen) -> None:
        """Open the selected message queue: its messages (peeked, not removed), send, receive."""
        obj = self.target_object()
        if obj is not None and obj.kind in QUEUE_KINDS:
            self.flows.queue(obj)

    def action_semaphore(self: DashboardScreen) -> None:
        """Open the selected semaphore: values, post, wait, set."""
        obj = self.target_object()
        if obj is not None and obj.kind in SEMAPHORE_KINDS:
            self.flows.semaphore(obj)

    def action_blocked_actions(self: DashboardScreen) -> None:
        """What can be done about the selected blocked thread: signal it, post its semaphore, open its queue."""
        blocked = self.selected_blocked()
        if blocked is not None and self.snapshot is not None:
            self.flows.blocked_menu(blocked, self.snapshot)

    def action_clean(self: DashboardScreen) -> None:
        """Review every stale object and remove the checked ones."""
        self.flows.clean()
