"""The CLI's plain-text table: padding by terminal cells, numbers to the right, eliding to a width (no root); the
twin (`render_table`) and the compiled builder `list` uses (`native.tables.table_text`) give the same lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from ipcwatch.native.tables import table_text
from ipcwatch.tables import DETAIL, IDENTITY, render_table
from ipcwatch.views import Column

ROWS = [(7, "ascii name", "1 bash → 2 cat"), (12345, "\u6f22\u5b57\u540d\u524d", "a"), (None, "x", "")]
COLUMNS = (
    Column("N", lambda r: "?" if r[0] is None else str(r[0]), lambda r: r[0], numeric=True, width=5, priority=IDENTITY),
    Column("NAME", lambda r: r[1], lambda r: r[1], width=4, priority=IDENTITY, flex=True, elide="middle"),
    Column("ENDS", lambda r: r[2], lambda r: r[2], width=4, priority=DETAIL),
)
Render = Callable[[Sequence[Column], Sequence[object], "int | None"], list[str]]


def _compiled(columns: Sequence[Column], rows: Sequence[object], width: int | None) -> list[str]:
    return [line[2:] for line in table_text(columns, rows, width).split("\n")]


BOTH = pytest.mark.parametrize("render", [render_table, _compiled], ids=["twin", "list"])


@BOTH
def test_cells_are_padded_by_terminal_cells_and_numbers_align_right(render: Render) -> None:
    lines = render(COLUMNS, ROWS, None)
    assert lines == [
        "N      NAME        ENDS",
        "    7  ascii name  1 bash → 2 cat",
        "12345  \u6f22\u5b57\u540d\u524d    a",  # four wide characters take eight cells
        "    ?  x",  # the trailing padding goes
    ]


@BOTH
def test_a_narrow_width_elides_wide_and_ascii_cells_to_fit(render: Render) -> None:
    assert render(COLUMNS, ROWS, 20) == [
        "N      NAME     ENDS",
        "    7  as…name  1 b…",  # a name loses its middle, the ends their end
        "12345  \u6f22…\u540d\u524d  a",  # 7 cells: a wide character is never cut in half
        "    ?  x",
    ]
