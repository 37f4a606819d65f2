"""The views' tables stacked in one place, every one laid out at full size all the time: a view switch moves the
shown one in and the previous one out of sight, with nothing to resize.

Textual's ContentSwitcher hides the others (`display: none`), so a table was sized only when first shown: its
scrollbar then appeared a layout later and the screen took two more layouts ~40 ms apart, each repainting lines the
first had drawn (9,000 objects: a first switch took 100-160 ms to come to rest). Here each child is docked at the
top, full size (so all overlap), and the ones away are offset by their own height above the stack, outside its
clip: the compositor still sizes them (their scrollbars are settled before they are shown) but never draws them.
A child away can take no focus (Tab skips it); a click cannot reach it. A switch restyles the two children that
move, not what is inside them.
"""

from __future__ import annotations

from textual.containers import Container
from textual.widget import Widget

AWAY = "-away"


class ViewStack(Container):
    """Children with ids; `current` is the id of the one shown (the first child's until set)."""

    DEFAULT_CSS = f"""
    ViewStack {{ height: 1fr; overflow: hidden hidden; }}
    ViewStack > * {{ dock: top; width: 100%; height: 100%; }}
    ViewStack > .{AWAY} {{ offset-y: -100%; }}
    """

    def __init__(self, *children: Widget, initial: str, id: str | None = None) -> None:  # noqa: A002
        super().__init__(*children, id=id)
        self._current = initial

    @property
    def current(self) -> str:
        return self._current

    @current.setter
    def current(self, child_id: str) -> None:
        if child_id != self._current:
            self._current = child_id
            self._place()

    def on_mount(self) -> None:
        self._place()

    def _place(self) -> None:
        for child in self.children:
            away = child.id != self._current
            if child.has_class(AWAY) != away:
                # restyled alone: `set_class` restyles everything inside too (the process view: its three
                # widgets and their scrollbars), and nothing inside depends on this class
                child.set_class(away, AWAY, update=False)
                self.app.stylesheet.update_nodes([child], animate=False)
            if child.is_container:
                child.can_focus_children = not away
            else:
                child.can_focus = not away
