"""Laying rows out in a width: which columns a width keeps and how wide each is (`fit`), a cell cut to its column
keeping what says the most (`elide`), and the CLI's aligned plain-text table (`render_table`).

Pure functions over escaped strings; the column sets themselves (what each kind shows) are in `ipcwatch.views`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from itertools import repeat

from ipcwatch.text import cell_len, one_cell_each, terminal_columns

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record): the protocols are types only
if TYPE_CHECKING:
    from typing import Any, Literal, Protocol

    Elide = Literal["middle", "end"]

    class Fits(Protocol):
        """What `fit` reads of a column (a `views.Column` or the dashboard's `ColumnHead`)."""

        @property
        def priority(self) -> int: ...
        @property
        def flex(self) -> bool: ...
        @property
        def min_width(self) -> int: ...

    class Cells(Fits, Protocol):
        """What `render_table` reads of a column (a `views.Column`): its title, its escaped cell of a row, how it
        aligns and elides, and how the compiled helper builds its cells (`plan`: ipcwatch.native.tables)."""

        @property
        def title(self) -> str: ...
        @property
        def cell(self) -> Callable[[Any], str]: ...
        @property
        def numeric(self) -> bool: ...
        @property
        def elide(self) -> Elide: ...
        @property
        def plan(self) -> tuple[str, Any]: ...

else:
    Elide = str  # "middle" or "end" (a name the dashboard's annotations import)
IDENTITY, ESSENTIAL, DETAIL, EXTRA = 0, 1, 2, 3  # priorities: lower is kept first
ELLIPSIS = "…"


ARROWS = (" → ", " ⇄ ")  # between the two ends of a pipe or a connected socket
_MORE = re.compile(r" \(\+\d+\)$")  # `(+3)`: more processes hold it
_NUMBERED = re.compile(r"\d+ ")


def elide(value: str, width: int, how: Elide = "end") -> str:
    """`value` cut to `width` terminal cells with `…`: at the end, or in the middle keeping the tail. The middle
    of a path goes (`/run/…/app.sock`: its file name says the most); a holder or SysV id keeps its leading number
    and `(+N)` (`1234 postg… (+3)`); two ends keep both pids and the arrow (`201 ngi… ⇄ 101 po… (+1)`)."""
    if cell_len(value) <= width:
        return value
    if width <= 1:
        return ELLIPSIS[:width]
    if how == "end":
        return _fit_left(value, width - 1) + ELLIPSIS
    arrow = next((a for a in ARROWS if a in value), None)
    if arrow is not None and width >= 2 * 4 + len(arrow):
        left, right = value.split(arrow, 1)
        room = width - len(arrow)
        left_cells = room // 2  # each end half, or what the other end leaves
        if cell_len(left) <= left_cells or cell_len(right) <= room - left_cells:
            left_cells = min(cell_len(left), room - min(cell_len(right), room - left_cells))
        return _elide_holder(left, left_cells) + arrow + _elide_holder(right, room - left_cells)
    if _MORE.search(value) is not None:
        return _elide_holder(value, width)
    if _NUMBERED.match(value):  # `1234 comm`, `12681240 0x1dc09447`: the pid or id first says the most
        return elide(value, width, "end")
    tail = _fit_left(value[::-1], (width - 1) * 2 // 3)[::-1]
    cut = tail.find("/", 1)  # start the tail at a path component when that loses little
    if 0 < cut <= len(tail) // 3:
        tail = tail[cut:]
    return _fit_left(value, width - 1 - cell_len(tail)) + ELLIPSIS + tail


def _elide_holder(value: str, width: int) -> str:
    """`1234 postg… (+3)`: the end of the name goes, the pid and how many more hold it stay while they fit."""
    more = _MORE.search(value)
    if more is None or width < len(more.group()) + 4:
        return elide(value, width, "end")
    return elide(value[: more.start()], width - len(more.group()), "end") + more.group()


def _fit_left(value: str, cells: int) -> str:
    """The longest start of `value` that fits in `cells`."""
    used = 0
    for n, ch in enumerate(value):
        used += cell_len(ch)
        if used > cells:
            return value[:n]
    return value


GAP = 2  # cells between columns in the CLI table


def fit(columns: Sequence[Fits], natural: Sequence[int], available: int, gap: int = GAP) -> list[int | None]:
    """The width of each column in `available` cells (None: left out), given each one's `natural` width (its
    widest cell, title included). Each column needs min(natural, its width); the least important go (highest
    priority, the rightmost first) until the rest fit, and EXTRA ones further while a flex column (the name) would
    be elided. What is left widens the flex columns, then the others, in priority order up to their natural
    width. Identity columns always stay."""
    floor = [min(n, c.min_width) for c, n in zip(columns, natural, strict=True)]
    shown = list(range(len(columns)))
    widths = _spread(columns, natural, floor, shown, available, gap)
    while True:
        over = sum(floor[i] for i in shown) + gap * (len(shown) - 1) > available
        squeezed = any(columns[i].flex and (widths[i] or 0) < natural[i] for i in shown)
        worst = max((i for i in shown if columns[i].priority > IDENTITY), key=lambda i: (columns[i].priority, i),
                    default=None)  # fmt: skip
        if worst is None or not (over or (squeezed and columns[worst].priority == EXTRA)):
            return widths
        shown.remove(worst)
        widths = _spread(columns, natural, floor, shown, available, gap)


def _spread(
    columns: Sequence[Fits], natural: Sequence[int], floor: Sequence[int], shown: list[int], available: int, gap: int
) -> list[int | None]:
    """Each shown column at its floor, then the spare cells to the flex columns, then to the others, in priority
    order up to their natural width."""
    widths: list[int | None] = [floor[i] if i in shown else None for i in range(len(columns))]
    spare = available - sum(floor[i] for i in shown) - gap * max(0, len(shown) - 1)
    for i in sorted(shown, key=lambda i: (not columns[i].flex, columns[i].priority, i)):
        grow = min(max(spare, 0), natural[i] - floor[i])
        widths[i] = floor[i] + grow
        spare -= grow
    return widths


AUTO = -1  # render_table's width: the terminal's, when stdout is one


def render_table(
    columns: Sequence[Cells], objects: Sequence[Any], width: int | None = AUTO, indent: int = 2
) -> list[str]:
    """Aligned plain-text rows (header first) for a terminal or a pipe. `width`: cells available (None: no limit;
    AUTO: the terminal's less the caller's `indent` when stdout is a terminal): the least important columns go,
    long cells are elided."""
    texts = [[c.title, *map(c.cell, objects)] for c in columns]  # column by column
    return _lay_out(columns, texts, table_width(width, indent))


def table_width(width: int | None, indent: int) -> int | None:
    """`render_table`'s width: AUTO is the terminal's less `indent` when stdout is one, else None (a script gets
    every column whole)."""
    if width == AUTO:
        return terminal_columns() - indent if sys.stdout.isatty() else None
    return width


def _lay_out(columns: Sequence[Cells], texts: list[list[str]], width: int | None) -> list[str]:
    """`render_table` of the columns' texts (each column's title and cells): map and str.ljust do the loops."""
    # each cell's width, None for a column whose characters take a cell each (len is the width: the `→` of pipes too)
    cells = [None if one_cell_each("".join(col)) else [cell_len(t) for t in col] for col in texts]
    natural = [max(map(len, col)) if n is None else max(n) for col, n in zip(texts, cells, strict=True)]
    widths = natural if width is None else fit(columns, natural, width)
    shown = [
        _laid_out(col, n, w, c, wide)
        for col, n, w, c, wide in zip(texts, cells, widths, columns, natural, strict=True)
        if w is not None
    ]
    gap = " " * GAP
    return list(map(str.rstrip, map(gap.join, zip(*shown, strict=True))))


def _laid_out(texts: list[str], cells: list[int] | None, width: int, column: Cells, widest: int) -> list[str]:
    """A column's title and cells padded to `width` (numbers to the right, the title to the left), elided to fit;
    `widest`: its widest text's cells."""
    if cells is None and widest <= width:  # a cell per character, and it fits: str.ljust counts cells
        return [texts[0].ljust(width), *map(str.rjust if column.numeric else str.ljust, texts[1:], repeat(width))]
    out = []
    for i, text in enumerate(texts):
        used = len(text) if cells is None else cells[i]
        if used > width:
            text = elide(text, width, column.elide)
            used = cell_len(text)
        pad = " " * (width - used)
        out.append(pad + text if column.numeric and i else text + pad)
    return out
