"""Columns that fit a dashboard table: each column's natural width, which columns a width shows and where each
starts, and a cell's text fitted to its column.

Pure functions (no widgets). Which columns stay and how wide they are is `views.fit`, the rule the CLI table
follows too (priority, flex, the identity columns always kept); eliding is `views.elide` (`middle` keeps the tail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ipcwatch.tui.widgets.rows import ColumnHead, Row
from ipcwatch.views import Elide, cell_len, elide, fit

GAP = 1  # blank cells before each column
SORT_MARK = 2  # " ▲" after the title of the column the table is sorted by


@dataclass(frozen=True, slots=True)
class Placed:
    """One shown column: its index in the heads, the cell it starts at and its width."""

    index: int
    x: int
    width: int


def natural_widths(heads: Sequence[ColumnHead], rows: Sequence[Row]) -> tuple[int, ...]:
    """Per column, the width of its widest cell or its title and room for the sort arrow (sorting never changes
    a column's width). Counted in code points, not cells: one pass in C over tens of thousands of rows; a wide
    character only makes a cell elided a little early."""
    widths = [cell_len(head.title) + SORT_MARK for head in heads]
    if rows:
        for i, column in enumerate(zip(*(row.cells for row in rows), strict=False)):
            widths[i] = max(widths[i], max(map(len, column)))
    return tuple(widths)


def fit_columns(heads: Sequence[ColumnHead], natural: Sequence[int], available: int) -> tuple[Placed, ...]:
    """The columns shown in `available` cells, in their order, each with where it starts and its width (a gap
    before each, the first one's included)."""
    placed, x = [], 0
    for index, width in enumerate(fit(heads, natural, available - GAP, GAP)):  # type: ignore[arg-type]  # same fields
        if width is not None:
            placed.append(Placed(index, x + GAP, width))
            x += GAP + width
    return tuple(placed)


def fit_cell(text: str, width: int, how: Elide = "end", right: bool = False) -> str:
    """A cell's text elided and padded to exactly `width` cells (right-aligned when `right`)."""
    shown = elide(text, width, how)
    pad = " " * max(0, width - cell_len(shown))
    return pad + shown if right else shown + pad
