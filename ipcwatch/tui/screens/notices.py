"""A modal list of what the last scan could not see: host notes (not root, no /dev/mqueue) and per-entry errors."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content

from ipcwatch.scan import Snapshot
from ipcwatch.text import escape
from ipcwatch.tui.screens.text_page import TextPage


def notices_text(snapshot: Snapshot) -> Content:
    parts: list[str | tuple[str, str]] = [("What this scan could not see\n\n", "bold")]
    if not snapshot.notes and not snapshot.errors:
        parts.append("Nothing: every source was readable.\n")
    for note in snapshot.notes:
        parts += [("note  ", "bold $text-warning"), escape(note) + "\n"]
    for error in snapshot.errors:
        parts += [("error ", "bold $text-error"), escape(str(error)) + "\n"]
    parts.append(("\nEscape closes.", "dim"))
    return Content.assemble(*parts)


class NoticesScreen(TextPage):
    BINDINGS = [Binding("escape,q,e", "dismiss", "Close", id="notices.close")]

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__(notices_text(snapshot))
