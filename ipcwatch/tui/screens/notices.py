"""A modal list of what the last scan could not see: host notes (not root, no /dev/mqueue) and per-entry errors."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ipcwatch.scan import Snapshot
from ipcwatch.text import escape


def notices_text(snapshot: Snapshot) -> Text:
    text = Text()
    text.append("What this scan could not see\n\n", style="bold")
    if not snapshot.notes and not snapshot.errors:
        text.append("Nothing: every source was readable.\n")
    for note in snapshot.notes:
        text.append("note  ", style="bold")
        text.append(escape(note) + "\n")
    for error in snapshot.errors:
        text.append("error ", style="bold #ff7b72")
        text.append(escape(str(error)) + "\n")
    text.append("\nEscape closes.", style="dim")
    return text


class NoticesScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,e", "dismiss", "Close", id="notices.close")]

    DEFAULT_CSS = """
    NoticesScreen { align: center middle; }
    NoticesScreen > VerticalScroll { width: 90%; max-width: 110; height: 80%; border: round $primary;
                                     background: $surface; padding: 0 1; }
    """

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(notices_text(self.snapshot), markup=False)
