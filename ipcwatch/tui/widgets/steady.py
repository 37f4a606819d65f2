"""A Static that re-lays out the screen only when its text changes its height (a new text of as many lines, none
wrapped, is only repainted: a layout pass of the dashboard costs ~20 ms)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ipcwatch.text import cell_len


class SteadyStatic(Static):
    """`show(text)`: nothing when the text is the one shown; a repaint alone when it takes the same lines."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._shown: Text | None = None
        self._shape: tuple[int, int] | None = None  # (lines, width) of the text shown; None if it may wrap

    def show(self, content: Text) -> None:
        if content == self._shown:
            return
        width = self.content_size.width
        lines = content.plain.split("\n") if content.plain else []
        fits = width > 0 and all(cell_len(line) <= width for line in lines)
        shape = (len(lines), width) if fits else None
        self.update(content, layout=shape is None or shape != self._shape)
        self._shown, self._shape = content, shape
