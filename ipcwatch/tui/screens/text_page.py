"""A modal page of text (help, notices): scrollable, shown without markup, closed with its bindings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


class TextPage(ModalScreen[None]):
    """Subclasses set BINDINGS (which keys close it) and pass the page: `Content` assembled from escaped strings
    (never markup), styled with theme variables (`$text-accent`), so every theme shows it."""

    DEFAULT_CSS = """
    TextPage { align: center middle; }
    TextPage > VerticalScroll { width: 90%; max-width: 100; height: 90%; border: round $primary;
                                background: $surface; padding: 0 1; }
    """

    def __init__(self, page: Content) -> None:
        super().__init__()
        self.page = page

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.page, markup=False)
