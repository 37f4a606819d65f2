"""Columns that fit a dashboard table: which columns a width shows, where each starts and how wide it is, and a
cell's text fitted to its column.

Pure functions (no widgets). Which columns stay and how wide they are is `tables.fit`, the rule the CLI table
follows too (priority, flex, the identity columns always kept); eliding is `tables.elide` (`middle` keeps the tail).
"""

from __future__ import annotations

from collections.abc import Sequence

from ipcwatch.record import record
from ipcwatch.tables import Elide, elide, fit
from ipcwatch.text import cell_len
from ipcwatch.tui.widgets.rows import ColumnHead

GAP = 1  # blank cells before each column
SORT_MARK = 2  # " ▲" after the title of the column a table is sorted by


@record
class Placed:
    """One shown column: its index in the heads, the cell it starts at and its width."""

    index: int
    x: int
    width: int


def fit_columns(heads: Sequence[ColumnHead], available: int, sorted_by: int | None = None) -> tuple[Placed, ...]:
    """The columns shown in `available` cells, in their order, each with where it starts and its width (a gap
    before each, the first one's included). Each column is laid out at its head's width, never measured from the
    rows (tens of thousands of them), the one `sorted_by` with room for the arrow after its title; the width left
    over goes to the `flex` columns."""
    floors = [head.min_width + (SORT_MARK if i == sorted_by else 0) for i, head in enumerate(heads)]
    widths = fit(heads, floors, available - GAP, GAP)  # type: ignore[arg-type]  # ColumnHead has Column's fields
    shown = [i for i, width in enumerate(widths) if width is not None]
    spare = available - sum(GAP + (widths[i] or 0) for i in shown)
    flex = [i for i in shown if heads[i].flex]
    for n, i in enumerate(flex):
        widths[i] = (widths[i] or 0) + spare // len(flex) + (n < spare % len(flex))
    placed, x = [], 0
    for i in shown:
        placed.append(Placed(i, x + GAP, widths[i] or 0))
        x += GAP + (widths[i] or 0)
    return tuple(placed)


def fit_cell(text: str, width: int, how: Elide = "end", right: bool = False) -> str:
    """A cell's text elided and padded to exactly `width` cells (right-aligned when `right`)."""
    shown = elide(text, width, how)
    pad = " " * max(0, width - cell_len(shown))
    return pad + shown if right else shown + pad
