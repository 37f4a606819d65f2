"""`ipcwatch list`'s tables built by the compiled helper `_tables`: each column's cells from the plan its column
declares, the rows padded and joined in one pass. Without the helper `table_text` is `tables.render_table` (the twin:
each column's `cell` of each object, laid out in Python); both give the same text.

    table_text(columns, objects, width=AUTO, indent=2)   # the table's rows, each indented, joined by newlines

A column's `plan` is (op, field); `op` is one of OPS:
    call      the column's `cell(obj)` for every object (`field` unused)
    number    `field`'s value as str, `?` for None               size   `text.human_size` of it
    text      `field`'s value escaped, `` for None               perms  `IpcObject.perms` of the mode, `` for None
    key       `views.key_text`      holders  `views.holders_summary`      pipe_ends  `views.pipe_ends`
    mark      `views.mark`          stale    the escaped reason of a stale object
    name      `views.object_name`: `field` is (PipeInfo, UnixInfo), the records of objects named by their ends
    queue     `views.recv_queue_cell` or `send_queue_cell`: `field` the queue (`info.recv_queue`)
    sem_values  `views.sem_values` (`field`: `info.semaphores`)
`field` is an attribute of the object, or `info.NAME`: a value of its kind's record (None when it has none). Any
value an op does not know (a bool, a str subclass, an int past 64 bits, an odd holder) is the column's `cell`'s.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ipcwatch.native.compiled import compiled
from ipcwatch.tables import AUTO, elide, fit, render_table, table_width
from ipcwatch.text import cell_len, escape

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

    from ipcwatch.tables import Cells

# The helper's op codes are these indexes (OP_* in _tables.h).
OPS = (
    "call",
    "number",
    "size",
    "text",
    "perms",
    "key",
    "holders",
    "pipe_ends",
    "mark",
    "stale",
    "name",
    "queue",
    "sem_values",
)

_c = compiled("_tables")
IMPLEMENTATION = "c" if _c else "python"


def _resolved(column: Cells) -> tuple[str, int, Any, bool, Any]:
    """A column as the helper reads it: (title, op's index in OPS, field, whether it is the info's, cell)."""
    op, field = column.plan
    in_info = isinstance(field, str) and field.startswith("info.")
    return column.title, OPS.index(op), sys.intern(field[5:]) if in_info else field, in_info, column.cell


def table_text(columns: Sequence[Cells], objects: Sequence[Any], width: int | None = AUTO, indent: int = 2) -> str:
    """`render_table`'s rows, each after `indent` spaces, joined by newlines."""
    if _c is None:
        return "\n".join(" " * indent + line for line in render_table(columns, objects, width, indent))
    width = table_width(width, indent)
    texts = _c.cells(tuple(map(_resolved, columns)), objects, escape)
    natural = _c.widths(texts, cell_len)
    widths = natural if width is None else fit(columns, natural, width)
    for i, (column, w) in enumerate(zip(columns, widths, strict=True)):
        if w is not None and natural[i] > w:  # its long texts elided, as render_table does
            texts[i] = [t if cell_len(t) <= w else elide(t, w, column.elide) for t in texts[i]]
    return _c.rows(texts, widths, [c.numeric for c in columns], cell_len, indent)


__all__ = ["IMPLEMENTATION", "OPS", "table_text"]
