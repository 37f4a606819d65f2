"""The filter line (`/`): a substring, a regular expression after `re:`, or one namespace after `ns:`; Enter keeps
it, Escape clears it."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.widgets import Input

from ipcwatch.tui.messages import FilterChanged


class FilterBar(Input):
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", id="filter.clear")]

    DEFAULT_CSS = """
    FilterBar { dock: bottom; display: none; height: 3; }
    FilterBar.-bad { border: tall $error; }
    """

    def __init__(self) -> None:
        super().__init__(placeholder="filter: text, re:REGEX or ns:CONTAINER  (Enter keeps, Esc clears)", id="filter")

    def open(self) -> None:
        self.display = True  # at once: a hidden widget cannot take focus, and the next key must land here
        # Synchronously, not through `focus()` (which defers to the next turn of the loop): keys already queued
        # behind `/` (a paste, a fast typist) must reach the filter, not the dashboard's one-letter keys.
        self.screen.set_focus(self)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(FilterChanged(event.value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            self.close()
        self.post_message(FilterChanged(event.value, done=True))

    def action_clear_filter(self) -> None:
        self.value = ""
        self.close()
        self.post_message(FilterChanged("", done=True))

    def close(self) -> None:
        self.display = False

    def mark_bad(self, bad: bool) -> None:
        self.set_class(bad, "-bad")
