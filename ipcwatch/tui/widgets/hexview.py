"""HexView: a Line-API hexdump of a byte source that formats and reads only the lines on screen."""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ipcwatch.native import LINE_BYTES, format_line
from ipcwatch.shmread import ByteSource, SourceError

PAGE_BYTES = 4096  # one pread per 256 lines: small enough to read on the UI thread


def offset_width(offset: int) -> int:
    """Digits of a line's offset column, as hexdump -C prints it (at least 8)."""
    return max(8, len(f"{offset:x}"))


def byte_columns(line_offset: int, index: int) -> tuple[int, int]:
    """Cells of byte `index` (0..15) of the line at `line_offset`: (hex column, ASCII column)."""
    width = offset_width(line_offset)
    return width + 2 + 3 * index + (index >= 8), width + 53 + index


class HexView(ScrollView, can_focus=True):
    """Every line of the source, canonical hexdump style; bytes are fetched in 4 KiB pages only when shown."""

    COMPONENT_CLASSES = {"hexview--offset", "hexview--cursor", "hexview--match", "hexview--changed"}
    DEFAULT_CSS = """
    HexView { background: $surface; }
    HexView > .hexview--offset { color: $text-muted; }
    HexView > .hexview--cursor { background: $accent; color: $text; text-style: bold; }
    HexView > .hexview--match { background: $warning; color: $background; }
    HexView > .hexview--changed { background: $error; color: $text; text-style: bold; }
    """

    cursor: reactive[int] = reactive(0, repaint=False)

    def __init__(self, source: ByteSource, size: int, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.source = source
        self.total = 0
        self.match: tuple[int, int] | None = None  # (offset, length) of the last search hit
        self.changed: frozenset[int] = frozenset()  # offsets that differed at the last refresh
        self.read_error: str | None = None  # escaped text of the last failed read
        self._pages: LRUCache[int, bytes] = LRUCache(256)
        self._strips: LRUCache[int, Strip] = LRUCache(1024)
        self.set_total(size)

    @property
    def line_count(self) -> int:
        return -(-self.total // LINE_BYTES)

    def set_total(self, size: int) -> None:
        """Show `size` bytes (after a shrink or growth); cached bytes past the end are dropped."""
        self.total = max(0, size)
        width = offset_width(max(0, self.total - 1)) + 70
        self.virtual_size = Size(width, self.line_count)
        self.cursor = min(self.cursor, max(0, self.total - 1))
        self._pages.clear()
        self.redraw()

    def redraw(self) -> None:
        self._strips.clear()
        self.refresh()

    def watch_cursor(self) -> None:
        self.redraw()

    # --- bytes ----------------------------------------------------------------------------------------------

    def _page(self, index: int) -> bytes:
        data = self._pages.get(index)
        if data is None:
            try:
                data = self.source.read(index * PAGE_BYTES, PAGE_BYTES)
            except SourceError as exc:
                self.read_error = str(exc)
                return b""
            self._pages.set(index, data)
        return data

    def visible_pages(self) -> range:
        """Indexes of the pages the screen shows now."""
        first = int(self.scroll_offset.y) * LINE_BYTES
        last = min(self.total, first + max(1, self.size.height) * LINE_BYTES)
        return range(first // PAGE_BYTES, max(first, last - 1) // PAGE_BYTES + 1)

    def apply_pages(self, pages: Iterable[tuple[int, bytes]]) -> None:
        """Replace pages with fresh reads; the bytes that differ from what was shown become `changed`."""
        changed: set[int] = set()
        for index, data in pages:
            old = self._pages.get(index)
            if old is not None:
                base = index * PAGE_BYTES
                changed.update(base + i for i in range(min(len(old), len(data))) if old[i] != data[i])
                changed.update(base + i for i in range(len(old), len(data)))
            self._pages.discard(index)  # LRUCache.set keeps an existing value
            self._pages.set(index, data)
        self.changed = frozenset(changed)
        self.redraw()

    # --- moving ---------------------------------------------------------------------------------------------

    def go_to(self, offset: int) -> None:
        """Put the cursor on `offset` (clamped to the data) and scroll its line to the top."""
        self.cursor = max(0, min(offset, self.total - 1))
        self.scroll_to(y=self.cursor // LINE_BYTES, animate=False, immediate=True)

    # --- drawing --------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        strip = self._strips.get(index)
        if strip is None:
            strip = self._render_index(index)
            self._strips.set(index, strip)
        return strip.crop_extend(scroll_x, scroll_x + self.size.width, self.rich_style)

    def _styles_for(self, offset: int, count: int) -> Iterable[tuple[int, Style]]:
        """(byte index in the line, style) for each highlighted byte of the line; later styles win."""
        end = offset + count
        for changed in sorted(o for o in self.changed if offset <= o < end):
            yield changed - offset, self.get_component_rich_style("hexview--changed")
        if self.match is not None:
            start, length = self.match
            match_style = self.get_component_rich_style("hexview--match")
            for o in range(max(start, offset), min(start + length, end)):
                yield o - offset, match_style
        if offset <= self.cursor < end:
            yield self.cursor - offset, self.get_component_rich_style("hexview--cursor")

    def _render_index(self, index: int) -> Strip:
        offset = index * LINE_BYTES
        if index >= self.line_count:
            return Strip.blank(0)
        page = self._page(offset // PAGE_BYTES)
        start = offset % PAGE_BYTES
        count = min(LINE_BYTES, len(page) - start, self.total - offset)
        if count <= 0:
            return Strip([Segment(f"{offset:08x}  (no longer readable)", self.rich_style)])
        # format_line gives printable ASCII only (non-printables are dots), so nothing here can reach the
        # terminal as a control sequence.
        text = Text(format_line(page[start : start + count], offset).decode("ascii"), style=self.rich_style)
        text.stylize(self.get_component_rich_style("hexview--offset"), 0, offset_width(offset))
        for i, style in self._styles_for(offset, count):
            hex_col, ascii_col = byte_columns(offset, i)
            text.stylize(style, hex_col, hex_col + 2)
            text.stylize(style, ascii_col, ascii_col + 1)
        return Strip(text.render(self.app.console), text.cell_len)
