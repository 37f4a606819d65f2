"""A modal list of what the last scan could not see: host notes (not root, no /dev/mqueue) and per-entry errors."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from ipcwatch.scan import Snapshot
from ipcwatch.text import escape
from ipcwatch.tui.screens.text_page import TextPage


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


class NoticesScreen(TextPage):
    BINDINGS = [Binding("escape,q,e", "dismiss", "Close", id="notices.close")]

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__(notices_text(snapshot))
