"""The list of views on the left (All, one per kind, Processes) with live counts; stale counts in amber."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ipcwatch.tui.messages import ViewChosen
from ipcwatch.tui.widgets.rows import VIEWS

STALE_STYLE = "bold #f0b429"


def view_label(key: str, name: str, count: int | None, stale: int = 0) -> Text:
    text = Text(no_wrap=True)
    text.append(f"{key} ", style="dim")
    text.append(f"{name:<10}")
    if count is not None:
        text.append(f"{count:>5}", style=STALE_STYLE if stale else "")
    return text


class ViewList(OptionList):
    """Arrow keys or a click pick a view; number keys work from anywhere (bound on the screen)."""

    DEFAULT_CSS = """
    ViewList { width: 20; border: none; border-right: solid $primary-darken-2; padding: 0; }
    """

    def __init__(self) -> None:
        super().__init__(*(Option(view_label(v.key, v.id, None), id=v.id) for v in VIEWS), id="views")

    def set_counts(self, counts: dict[str, tuple[int, int]]) -> None:
        """counts: view id -> (objects, stale)."""
        for view in VIEWS:
            count, stale = counts.get(view.id, (0, 0))
            self.replace_option_prompt(view.id, view_label(view.key, view.id, count, stale))

    def choose(self, view_id: str) -> None:
        index = self.get_option_index(view_id)
        if self.highlighted != index:
            self.highlighted = index

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(ViewChosen(event.option.id))
