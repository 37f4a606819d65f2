"""Messages the dashboard's widgets post to the screen (small dataclasses, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class FilterChanged(Message):
    """The filter text changed (`""` clears it); `done` when the user pressed Enter or Escape."""

    text: str
    done: bool = False


@dataclass
class ViewChosen(Message):
    """The user picked a view in the view list."""

    view_id: str
