"""The command palette (ctrl+p): every dashboard action by name, and "sort by" for the current table's columns.

Actions that do not apply to the current selection (the screen's `check_action`) are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.actions import parse
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from ipcwatch.tui.app import IpcwatchApp

Command = tuple[str, str, Callable[[], object]]


class DashboardCommands(Provider):
    def _commands(self) -> list[Command]:
        app: IpcwatchApp = self.app  # type: ignore[assignment]
        dashboard = app.dashboard
        out: list[Command] = []
        for binding in app.all_bindings():
            target = app if binding.id and binding.id.startswith("app.") else dashboard
            if binding.id and binding.id.startswith(("table.", "filter.")):
                target = dashboard.table(dashboard.view_id) if binding.id.startswith("table.") else dashboard
                if binding.id.startswith("filter."):
                    continue  # the dashboard's own clear-filter binding covers it
            name, params = parse(binding.action)[1:]
            if not target.check_action(name, params):
                continue
            out.append((binding.description, f"key: {binding.key}", partial(app.run_action, binding.action, target)))
        table = dashboard.table(dashboard.view_id)
        for index, head in enumerate(table.heads):
            out.append((f"Sort by {head.title}", "this view's table", partial(table.sort_by, index)))
        return out

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
