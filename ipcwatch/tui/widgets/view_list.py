"""The list of views on the left (All, one per kind, Processes, ...) by short label with live counts; stale
counts in the theme's warning colour."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ipcwatch.tui.messages import ViewChosen
from ipcwatch.tui.widgets.rows import VIEWS, ViewSpec

LABEL_WIDTH = 5  # ViewSpec.label is at most this long
COUNT_WIDTH = 5


def view_label(view: ViewSpec, count: int | None, stale: int = 0) -> Content:
    """`1 shm      3`: the view's key, its short label and how many rows it has (stale ones make it amber). The
    padding is never styled: a styled run starting with spaces is wrapped apart from the label."""
    digits = "" if count is None else str(count)
    pad = " " * (LABEL_WIDTH - len(view.label) + COUNT_WIDTH - len(digits))
    return Content.assemble((f"{view.key} ", "dim"), view.label + pad, (digits, "bold $text-warning" if stale else ""))


class ViewList(OptionList):
    """Arrow keys or a click pick a view; number keys work from anywhere (bound on the screen). Each option's
    tooltip is the view's full title."""

    DEFAULT_CSS = """
    ViewList { width: 15; border: none; border-right: solid $primary-darken-2; padding: 0; }
    """

    def __init__(self) -> None:
        super().__init__(*(Option(view_label(v, None), id=v.id) for v in VIEWS), id="views")

    def on_mount(self) -> None:
        self.tooltip = "\n".join(f"{v.key}  {v.label:<{LABEL_WIDTH}}  {v.title}" for v in VIEWS)

    def set_counts(self, counts: dict[str, tuple[int, int]]) -> None:
        """counts: view id -> (objects, stale)."""
        for view in VIEWS:
            count, stale = counts.get(view.id, (0, 0))
            self.replace_option_prompt(view.id, view_label(view, count, stale))

    def choose(self, view_id: str) -> None:
        """Highlight the view shown (its ViewChosen would show it a second time)."""
        index = self.get_option_index(view_id)
        if self.highlighted != index:
            with self.prevent(OptionList.OptionHighlighted):
                self.highlighted = index

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(ViewChosen(event.option.id))
