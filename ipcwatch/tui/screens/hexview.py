"""HexViewScreen: browse, search and live-watch the bytes of a shared-memory object (or any byte source)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, Static
from textual.worker import Worker, get_current_worker

from ipcwatch.native.hexformat import LINE_BYTES
from ipcwatch.shmread import ByteSource, SourceError, Status, search
from ipcwatch.text import escape, human_size, parse_size
from ipcwatch.tui.widgets.footer import KeyFooter
from ipcwatch.tui.widgets.hexview import PAGE_BYTES, HexView

SEARCH_HELP = "hex bytes (de ad be ef) or t:text"
GOTO_HELP = "offset: decimal, 0x hex, or 4K / 1M"


def shown(text: str) -> str:
    """Text from a byte source (meant to be escaped already) made safe to show whatever the caller passed."""
    return text if text.isprintable() else escape(text)


def parse_pattern(text: str) -> bytes:
    """A search pattern: `t:TEXT` is UTF-8 text, anything else hex bytes (spaces and a 0x prefix allowed)."""
    if text.startswith("t:"):
        if not text[2:]:
            raise ValueError("empty text")
        return text[2:].encode("utf-8", "surrogateescape")
    digits = "".join(text.split())
    digits = digits[2:] if digits[:2].lower() == "0x" else digits
    if not digits:
        raise ValueError("empty pattern")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ValueError(f"not hex bytes: {escape(text)} (for text, type t:{escape(text)})") from None


class PromptScreen(ModalScreen[str | None]):
    """One line of input; dismisses with the text, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 60; height: auto; border: round $accent; background: $panel; padding: 0 1; }
    """

    def __init__(self, title: str, placeholder: str) -> None:
        super().__init__()
        self._title = title
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self._title))
            yield Input(placeholder=self._placeholder)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Search:
    pattern: bytes
    shown: str  # escaped, for messages


class HexViewScreen(Screen[None]):
    """The bytes of `source` (the screen closes it when it is dismissed).

    `status` is the source's status read by whoever opened it, off the UI thread; without it the screen asks a
    worker for it after mount (the UI thread never reads the source)."""

    BINDINGS = [
        Binding("g", "goto", "Go to", id="hexview.goto"),
        Binding("slash", "search", "Search", id="hexview.search"),
        Binding("n", "next_match", "Next", id="hexview.next"),
        Binding("N", "previous_match", "Previous", id="hexview.previous"),
        Binding("r", "toggle_live", "Live", id="hexview.live"),
        Binding("escape", "back", "Back / cancel search", id="hexview.back"),
        Binding("q", "close", "Close", id="hexview.close"),
    ]
    DEFAULT_CSS = """
    HexViewScreen #hex-header { height: auto; background: $boost; padding: 0 1; }
    HexViewScreen #hex-status { height: 1; padding: 0 1; color: $text-muted; }
    HexViewScreen HexView { height: 1fr; }
    """

    class Polled(Message):
        """A poll's result: the status, and fresh copies of the pages on screen when live."""

        def __init__(self, status: Status | None, pages: list[tuple[int, bytes]], error: str | None) -> None:
            super().__init__()
            self.status, self.pages, self.error = status, pages, error

    class SearchProgress(Message):
        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done, self.total = done, total

    class SearchFinished(Message):
        def __init__(self, worker: Worker[None], search: Search, offset: int | None, error: str | None) -> None:
            super().__init__()
            self.worker, self.search, self.offset, self.error = worker, search, offset, error

    def __init__(self, source: ByteSource, *, status: Status | None = None, refresh_interval: float = 1.0) -> None:
        super().__init__()
        self.source = source
        self.refresh_interval = refresh_interval
        self.live = False
        self.status_known = status is not None
        self.status = status or Status(None, False)
        self.opened_size: int | None = self.status.size
        self.last_search: Search | None = None
        self._search_worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="hex-header", markup=False)
        yield HexView(self.source, self.status.size or 0, id="hex-view")
        yield Static(id="hex-status", markup=False)
        yield KeyFooter()

    @property
    def view(self) -> HexView:
        return self.query_one(HexView)

    def on_mount(self) -> None:
        self.view.focus()
        self._show_header()
        self._show_status(f"{SEARCH_HELP} after /; {GOTO_HELP} after g")
        if self.status_known:
            self.set_timer(self.refresh_interval, self._poll)
        else:
            self._poll()  # its answer schedules the next poll

    async def on_unmount(self) -> None:
        if self._search_worker is not None:
            self._search_worker.cancel()
        self.source.close()

    # --- header and status ----------------------------------------------------------------------------------

    def state_text(self) -> str:
        """`live`, `shrank from A to B bytes`, `grew ...`, `vanished` or `unlinked`: what happened to the object."""
        size, opened = self.status.size, self.opened_size
        if not self.status_known:
            return "reading its status…"
        if size is None:
            return "vanished"
        words = []
        if opened is not None and size < opened:
            words.append(f"shrank from {opened} to {size} bytes")
        elif opened is not None and size > opened:
            words.append(f"grew from {opened} to {size} bytes")
        if self.status.gone:
            words.append("unlinked (still readable here)")
        return ", ".join(words) or "present"

    def _show_header(self) -> None:
        size = self.status.size
        size_text = "size ?" if size is None else f"{size} bytes ({human_size(size)})"
        refresh = f"live, every {self.refresh_interval:g} s" if self.live else "not refreshing (r: live)"
        parts = [escape(self.source.title), size_text, self.state_text(), refresh]  # a raw ref or title
        if self.source.note:
            parts.append(shown(self.source.note))
        self.query_one("#hex-header", Static).update(Text("  |  ".join(parts)))

    def _show_status(self, message: str) -> None:
        self.query_one("#hex-status", Static).update(Text(message))

    # --- polling --------------------------------------------------------------------------------------------

    def _poll(self) -> None:
        pages = list(self.view.visible_pages()) if self.live else []
        self._poll_worker(pages)

    @work(thread=True, exclusive=True, group="hexview-poll", exit_on_error=False)
    def _poll_worker(self, page_indexes: list[int]) -> None:
        try:
            status = self.source.status()
            pages = [(i, self.source.read(i * PAGE_BYTES, PAGE_BYTES)) for i in page_indexes]
        except SourceError as exc:
            self.post_message(self.Polled(None, [], str(exc)))
            return
        self.post_message(self.Polled(status, pages, None))

    def on_hex_view_screen_polled(self, message: Polled) -> None:
        first = not self.status_known
        self.status_known = True
        if message.error is not None:
            self.status = Status(None, True)
            self._show_status(message.error)
        else:
            assert message.status is not None
            self.status = message.status
            if first:
                self.opened_size = message.status.size
            size = message.status.size
            if size is not None and size != self.view.total:
                self.view.set_total(size)
            if self.live:
                self.view.apply_pages(message.pages)
        self._show_header()
        if self.is_mounted:
            self.set_timer(self.refresh_interval, self._poll)

    def action_toggle_live(self) -> None:
        self.live = not self.live
        if not self.live:
            self.view.changed = frozenset()
            self.view.redraw()
        self._show_header()

    # --- go to ----------------------------------------------------------------------------------------------

    def action_goto(self) -> None:
        self.app.push_screen(PromptScreen("Go to offset", GOTO_HELP), self._goto)

    def _goto(self, text: str | None) -> None:
        if not text:
            return
        try:
            offset = parse_size(text)
        except argparse.ArgumentTypeError as exc:
            self.notify(escape(str(exc)), severity="error", markup=False)
            return
        self.view.go_to(offset)
        self._show_status(f"offset 0x{self.view.cursor:x} ({self.view.cursor})")

    # --- search ---------------------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.app.push_screen(PromptScreen("Search forward", SEARCH_HELP), self._start_search)

    def _start_search(self, text: str | None) -> None:
        if not text:
            return
        try:
            pattern = parse_pattern(text)
        except ValueError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.last_search = Search(pattern, escape(text))
        self._run_search(self.view.cursor, backward=False)

    def action_next_match(self) -> None:
        if self.last_search is not None:
            self._run_search(self.view.cursor + 1, backward=False)

    def action_previous_match(self) -> None:
        if self.last_search is not None and self.view.cursor > 0:
            self._run_search(self.view.cursor - 1, backward=True)

    def _run_search(self, start: int, *, backward: bool) -> None:
        assert self.last_search is not None
        self._show_status(f"searching for {self.last_search.shown} (escape cancels)")
        self._search_worker = self._search(self.last_search, start, backward)

    @work(thread=True, exclusive=True, group="hexview-search", exit_on_error=False)
    def _search(self, wanted: Search, start: int, backward: bool) -> None:
        worker = get_current_worker()
        try:
            found = search(
                self.source,
                wanted.pattern,
                start,
                backward=backward,
                cancelled=lambda: worker.is_cancelled,
                progress=lambda done, total: self.post_message(self.SearchProgress(done, total)),
            )
        except SourceError as exc:
            self.post_message(self.SearchFinished(worker, wanted, None, str(exc)))
            return
        self.post_message(self.SearchFinished(worker, wanted, found, None))

    def on_hex_view_screen_search_progress(self, message: SearchProgress) -> None:
        if self._search_worker is not None and self._search_worker.is_running:
            percent = 100 * message.done // max(1, message.total)
            self._show_status(f"searching: {percent}% of {human_size(message.total)} (escape cancels)")

    def on_hex_view_screen_search_finished(self, message: SearchFinished) -> None:
        if message.worker is not self._search_worker:
            return  # a search that a newer one replaced
        self._search_worker = None
        if message.worker.is_cancelled:
            self._show_status("search cancelled")
        elif message.error is not None:
            self._show_status(message.error)
        elif message.offset is None:
            self._show_status(f"not found: {message.search.shown}")
            self.notify(f"not found: {message.search.shown}", markup=False)
        else:
            self.view.match = (message.offset, len(message.search.pattern))
            self.view.go_to(message.offset)
            line = message.offset - message.offset % LINE_BYTES
            self._show_status(f"found {message.search.shown} at 0x{message.offset:x} (line 0x{line:x}); n/N")

    # --- leaving --------------------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self._search_worker is not None and self._search_worker.is_running:
            self._search_worker.cancel()
            return
        self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)
