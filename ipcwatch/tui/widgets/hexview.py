"""HexView: a Line-API hexdump of a byte source that formats only the lines on screen and reads their pages in a
thread worker (render_line never reads: a missing page shows as `loading…` until the worker delivers it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ipcwatch.native.hexformat import LINE_BYTES, format_line
from ipcwatch.shmread import ByteSource, SourceError

PAGE_BYTES = 4096  # one read per 256 lines
LOADING = "  loading…"


def offset_width(offset: int) -> int:
    """Digits of a line's offset column, as hexdump -C prints it (at least 8)."""
    return max(8, len(f"{offset:x}"))


def byte_columns(line_offset: int, index: int) -> tuple[int, int]:
    """Cells of byte `index` (0..15) of the line at `line_offset`: (hex column, ASCII column)."""
    width = offset_width(line_offset)
    return width + 2 + 3 * index + (index >= 8), width + 53 + index


class HexView(ScrollView, can_focus=True):
    """Every line of the source, canonical hexdump style; bytes are fetched in 4 KiB pages only when shown.

    Pages missing when lines are drawn are collected and read by one worker at a time (the pages still on screen
    when it starts); the lines are drawn again when they arrive."""

    COMPONENT_CLASSES = {"hexview--offset", "hexview--cursor", "hexview--match", "hexview--changed", "hexview--loading"}
    DEFAULT_CSS = """
    HexView { background: $surface; }
    HexView > .hexview--offset { color: $text-muted; }
    HexView > .hexview--loading { color: $text-muted; text-style: dim; }
    HexView > .hexview--cursor { background: $accent; color: $text; text-style: bold; }
    HexView > .hexview--match { background: $warning; color: $background; }
    HexView > .hexview--changed { background: $error; color: $text; text-style: bold; }
    """

    cursor: reactive[int] = reactive(0, repaint=False)

    class PagesLoaded(Message):
        """Pages a worker read (b"" for one it could not), for the view that asked (the generation it had)."""

        bubble: ClassVar[bool] = False

        def __init__(self, pages: dict[int, bytes], generation: int, error: str | None) -> None:
            super().__init__()
            self.pages, self.generation, self.error = pages, generation, error

    def __init__(self, source: ByteSource, size: int, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.source = source
        self.total = 0
        self.match: tuple[int, int] | None = None  # (offset, length) of the last search hit
        self.changed: frozenset[int] = frozenset()  # offsets that differed at the last refresh
        self.read_error: str | None = None  # escaped text of the last failed read
        self._pages: LRUCache[int, bytes] = LRUCache(256)
        self._strips: LRUCache[int, Strip] = LRUCache(1024)
        self._wanted: set[int] = set()  # pages drawn as `loading…`, not yet asked of a worker
        self._loading = False  # a page worker runs (one at a time)
        self._generation = 0  # bumped when the size changes: pages read before are dropped
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
        self._generation += 1
        self.redraw()

    def redraw(self) -> None:
        self._strips.clear()
        self.refresh()

    def watch_cursor(self) -> None:
        self.redraw()

    # --- bytes ----------------------------------------------------------------------------------------------

    def _want(self, index: int) -> None:
        """Note a page that a drawn line lacks; the pages noted before the next idle moment load together."""
        if not self._wanted:
            self.call_later(self._load_wanted)
        self._wanted.add(index)

    def _load_wanted(self) -> None:
        if self._loading:
            return  # asked again when the running worker delivers
        visible = self.visible_pages()
        indexes = sorted(i for i in self._wanted if i in visible and self._pages.get(i) is None)
        self._wanted.clear()
        if indexes:
            self._loading = True
            self._read_pages(indexes, self._generation)

    @work(thread=True, group="hexview-pages", exit_on_error=False)
    def _read_pages(self, indexes: list[int], generation: int) -> None:
        pages: dict[int, bytes] = {}
        error: str | None = None
        try:
            for index in indexes:
                pages[index] = self.source.read(index * PAGE_BYTES, PAGE_BYTES)
        except SourceError as exc:
            error = str(exc)
        finally:
            pages.update((index, b"") for index in indexes if index not in pages)  # drawn as unreadable
            self.post_message(self.PagesLoaded(pages, generation, error))

    def on_hex_view_pages_loaded(self, message: PagesLoaded) -> None:
        self._loading = False
        self._wanted.clear()  # the redraw below asks again for what is still missing and on screen
        if message.error is not None:
            self.read_error = message.error
        if message.generation == self._generation:
            for index, data in message.pages.items():
                if self._pages.get(index) is None:  # a live refresh may have brought fresher bytes
                    self._pages.set(index, data)
        self.redraw()  # draws the pages, and asks again for any still missing

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
            if strip is None:
                strip = self._placeholder(index)  # not cached: drawn again when the page arrives
            else:
                self._strips.set(index, strip)
        return strip.crop_extend(scroll_x, scroll_x + self.size.width, self.rich_style)

    def _placeholder(self, index: int) -> Strip:
        offset = index * LINE_BYTES
        offset_style = self.rich_style + self.get_component_rich_style("hexview--offset")
        loading_style = self.rich_style + self.get_component_rich_style("hexview--loading")
        return Strip([Segment(f"{offset:0{offset_width(offset)}x}", offset_style), Segment(LOADING, loading_style)])

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

    def _render_index(self, index: int) -> Strip | None:
        """The line at `index`, or None when its page is not read yet (it is then asked for)."""
        offset = index * LINE_BYTES
        if index >= self.line_count:
            return Strip.blank(0)
        page = self._pages.get(offset // PAGE_BYTES)
        if page is None:
            self._want(offset // PAGE_BYTES)
            return None
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
