"""Messages the dashboard's widgets post to the screen (small dataclasses, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass
class RowsFiltered(Message):
    """A filter worker's result: of `rows` (a view's rows as of `stamp`), the `shown` ones."""

    view_id: str
    stamp: tuple[int, str]  # (rows generation, filter text) the filter ran for
    rows: list[Any]
    shown: list[Any]
