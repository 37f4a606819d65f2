"""A scrollable pane of text that draws its own wrapped lines: a new text is wrapped at once and sets the pane's
scroll height, so the screen lays out once (or not at all when the line count stays). A Static in a VerticalScroll
took two layout passes ~40 ms apart for a text of another height (the second for the scrollbar), which a view
switch waited for."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual, visualize

from ipcwatch.tui.widgets.sizing import repaint_in_next_frame, set_virtual_size


class TextPane(ScrollView):
    """`show_text(text)`: wrapped to the pane's width (less the scrollbar when it does not fit), drawn line by line.
    The text is never parsed as markup."""

    DEFAULT_CSS = """
    TextPane { overflow-x: hidden; }
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._text = Text()
        self._lines: list[Strip] = []
        self._wrapped_for: tuple[int, int] | None = None  # (width, height) the lines were wrapped for

    @property
    def text(self) -> Text:
        return self._text

    def show_text(self, text: Text) -> None:
        if text == self._text:
            return
        self._text, self._wrapped_for = text, None
        self._wrap()
        repaint_in_next_frame(self)

    def on_resize(self) -> None:
        self._wrap()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._wrapped_for = None  # the lines carry the theme's colours

    def _wrap(self) -> None:
        """Wrap for the room inside the padding; when the lines overflow its height, for the room the scrollbar
        leaves. The scroll height is set here, before the next layout."""
        room = self.container_size
        if room.width <= 0 or self._wrapped_for == (room.width, room.height):
            return
        visual = visualize(self, self._text, markup=False)
        scrolls = self.styles.overflow_y != "hidden"
        narrow = max(1, room.width - self.styles.scrollbar_size_vertical)
        if scrolls and self._text.plain.count("\n") > room.height:  # taller than the room before any wrap:
            lines = self._strips(visual, narrow)  # wrapped once, for the room the scrollbar leaves (half the cost)
        else:
            lines = self._strips(visual, room.width)
            if len(lines) > room.height and scrolls:
                lines = self._strips(visual, narrow)
        self._lines, self._wrapped_for = lines, (room.width, room.height)
        set_virtual_size(self, Size(room.width, len(lines)))

    def _strips(self, visual: Visual, width: int) -> list[Strip]:
        return Visual.to_strips(self, visual, width, None, self.visual_style, apply_selection=False)

    def render_line(self, y: int) -> Strip:
        if self._wrapped_for is None:
            self._wrap()
        width = self.scrollable_content_region.width
        index = round(self.scroll_offset.y) + y
        style = self.visual_style.rich_style
        if 0 <= index < len(self._lines):
            return self._lines[index].crop_extend(0, width, style)
        return Strip.blank(width, style)
