"""A DataTable refreshed by diff on row keys: keeps selection and scroll, marks new, stale and vanished rows.

`apply(rows, alive, fresh)` removes rows that went away (a vanished object stays one refresh, struck out),
updates only the cells that changed and adds new rows, all in one `batch_update()`; it sorts again only when
something that affects the order changed. Every cell is a `Cell` (a `rich.text.Text` built from an escaped
string, never markup), so a hostile name can neither run an action nor reach the terminal raw.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from ipcwatch.tui.widgets.rows import ColumnHead, Row

NEW_STYLE = "bold #e8ffe8 on #1e6b34"
STALE_STYLE = "#f0b429"
ALERT_STYLE = "bold #ff7b72"
GONE_STYLE = "dim strike"
REBUILD_FRACTION = 4  # changing more than 1/4 of the rows: clear and refill
REBUILD_MIN = 200
BULK_REMOVE_MIN = 8  # fewer removals than this go through the public remove_row
CELL_CACHE = 2000  # rendered cells kept per table (DataTable's own: 10,000)
LINE_CACHE = 200  # rendered rows and lines kept per table (DataTable's own: 1,000)


def _style(row: Row, fresh: Collection[str]) -> str:
    if row.key in fresh:
        return NEW_STYLE
    return ALERT_STYLE if row.alert else STALE_STYLE if row.stale else ""


class Cell(Text):
    """A table cell: plain text (never parsed as markup) plus the value its column sorts by."""

    __slots__ = ("sort_key",)

    def __init__(self, text: str, sort_key: Any, style: str, numeric: bool) -> None:
        super().__init__(text, style=style, justify="right" if numeric else "left", no_wrap=True)
        self.sort_key = sort_key


class KeyedTable(DataTable[Cell]):
    """Rows keyed by ref (or pid); click a header or press `s`/`S` to sort."""

    BINDINGS = [
        Binding("s", "cycle_sort", "Sort", id="table.sort"),
        Binding("S", "reverse_sort", "Reverse", show=False, id="table.reverse"),
    ]

    def __init__(self, columns: Sequence[ColumnHead], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cursor_foreground_priority="renderable")
        # DataTable caches up to 10,000 rendered cells and 1,000 rows and lines per table, keyed by update count:
        # with a table per view on a churning host they only ever fill. A screen needs a few hundred.
        self._cell_render_cache = LRUCache(CELL_CACHE)
        self._row_render_cache = LRUCache(LINE_CACHE)
        self._line_cache = LRUCache(LINE_CACHE)
        self.heads = tuple(columns)
        self.sort_column: int | None = None
        self.sort_reverse = False
        self._shown: dict[str, tuple[tuple[str, ...], str]] = {}
        self._rows: dict[str, Row] = {}
        self._gone: set[str] = set()

    def on_mount(self) -> None:
        for i in range(len(self.heads)):
            self.add_column(self._label(i), key=f"c{i}")

    def set_heads(self, columns: Sequence[ColumnHead]) -> None:
        """Show other columns (a CONTAINER column comes and goes with namespaced objects): the rows are dropped,
        the next `apply` fills them again."""
        heads = tuple(columns)
        if heads == self.heads:
            return
        self.heads, self.sort_column, self.sort_reverse = heads, None, False
        self.clear(columns=True)
        self._shown.clear()
        self._rows.clear()
        self._gone.clear()
        self.on_mount()

    def _label(self, index: int) -> Text:
        head = self.heads[index]
        mark = "  "  # room for the sort arrow, so sorting never changes a column's width
        if index == self.sort_column:
            mark = " ▼" if self.sort_reverse else " ▲"
        return Text(head.title + mark, justify="right" if head.numeric else "left", style="bold")

    # --- what is selected ------------------------------------------------------------------------------------

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # noqa: BLE001 - the cursor can point past the end while rows change
            return None
        return row_key.value

    def is_gone(self, key: str) -> bool:
        return key in self._gone

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row with this key; False when there is no such row."""
        if key not in self._shown:
            return False
        self.move_cursor(row=self.get_row_index(key))
        return True

    # --- refresh by diff -------------------------------------------------------------------------------------

    def apply(self, rows: Sequence[Row], alive: Collection[str], fresh: Collection[str] = ()) -> None:
        """Show exactly `rows` (plus vanished ones, once, struck out). `alive`: keys still in the snapshot
        (a row filtered out is removed, not shown as vanished); `fresh`: keys to highlight as new."""
        selected = self.selected_key
        styled = [(row, _style(row, fresh)) for row in rows]
        wanted = {row.key for row in rows}
        remove = [k for k in self._shown if k not in wanted and (k in self._gone or k in alive)]
        vanish = [k for k in self._shown if k not in wanted and k not in self._gone and k not in alive]
        changed = sum(1 for row, style in styled if self._shown.get(row.key) != (row.cells, style))
        # update_cell costs ~25 us a cell: past a quarter of the table, clearing and refilling is cheaper
        rebuild = changed + len(remove) > max(REBUILD_MIN, len(self._shown) // REBUILD_FRACTION)
        resort = False
        with self.app.batch_update():
            if rebuild:
                self._clear_rows()
                vanish = []
            else:
                self._remove_rows(remove)
            for key in vanish:
                self._gone.add(key)
                self._set_row(self._rows[key], GONE_STYLE)
            for row, style in styled:
                resort |= self._set_row(row, style)
            if resort or vanish:
                self._sort()
            self._restore(selected, scroll=rebuild)

    def _remove_rows(self, keys: list[str]) -> None:
        """Remove many rows in one O(n) pass. `DataTable.remove_row` re-indexes every row on each call (O(n)
        each: 100 removals from 10,000 rows took 0.7 s); this does the same bookkeeping once. It relies on
        DataTable internals of textual 8.x (`_row_locations`, `_data`, `rows`, `_updated_cells`)."""
        if len(keys) <= BULK_REMOVE_MIN:
            for key in keys:
                self.remove_row(key)
                self._forget(key)
            return
        doomed = set(keys)
        order = sorted((self._row_locations.get(k), k) for k in self._row_locations if k.value not in doomed)
        self._row_locations = TwoWayDict({key: index for index, (_, key) in enumerate(order)})
        self._updated_cells = {c for c in self._updated_cells if c.row_key.value not in doomed}
        for key in keys:
            del self.rows[RowKey(key)]
            del self._data[RowKey(key)]
            self._forget(key)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)

    def _clear_rows(self) -> None:
        self.clear()
        self._shown.clear()
        self._rows.clear()
        self._gone.clear()

    def _forget(self, key: str) -> None:
        self._shown.pop(key, None)
        self._rows.pop(key, None)
        self._gone.discard(key)

    def _cells(self, row: Row, style: str) -> list[Cell]:
        return [Cell(text, row.sort[i], style, self.heads[i].numeric) for i, text in enumerate(row.cells)]

    def _set_row(self, row: Row, style: str) -> bool:
        """Add or update one row; True when the table's order may have changed."""
        old = self._shown.get(row.key)
        self._shown[row.key] = (row.cells, style)
        previous, self._rows[row.key] = self._rows.get(row.key), row
        if old is None:
            self.add_row(*self._cells(row, style), key=row.key)
            return True
        if old == (row.cells, style):
            return False
        old_cells, old_style = old
        for i, text in enumerate(row.cells):
            if text != old_cells[i] or style != old_style:
                # Only ask for a width update when the column must grow: a narrower value makes DataTable
                # re-measure the whole column (10,000 cells) once per updated cell.
                grow = cell_len(text) > self.columns[self.ordered_columns[i].key].content_width
                cell = Cell(text, row.sort[i], style, self.heads[i].numeric)
                self.update_cell(row.key, f"c{i}", cell, update_width=grow)
        col = self.sort_column
        return col is not None and previous is not None and previous.sort[col] != row.sort[col]

    def _restore(self, selected: str | None, scroll: bool = False) -> None:
        """Put the cursor back on the selected row; `scroll` brings it into view (after a refill)."""
        if selected is not None and selected in self._shown:
            index = self.get_row_index(selected)
            if index != self.cursor_row or scroll:
                self.move_cursor(row=index, scroll=scroll)
        elif self.row_count and self.cursor_row >= self.row_count:
            self.move_cursor(row=self.row_count - 1, scroll=False)

    # --- sorting ---------------------------------------------------------------------------------------------

    def _sort(self) -> None:
        if self.sort_column is not None and self.row_count:
            self.sort(f"c{self.sort_column}", key=lambda cell: cell.sort_key, reverse=self.sort_reverse)

    def sort_by(self, index: int, reverse: bool | None = None) -> None:
        """Sort by column `index`; the same column again flips the order."""
        if reverse is None:
            reverse = not self.sort_reverse if index == self.sort_column else False
        previous, self.sort_column, self.sort_reverse = self.sort_column, index, reverse
        selected = self.selected_key
        for i in {index, previous} - {None}:
            self.columns[self.ordered_columns[i].key].label = self._label(i)
        self._sort()
        self._restore(selected)
        self.refresh()

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        nxt = 0 if self.sort_column is None else (self.sort_column + 1) % len(self.heads)
        self.sort_by(nxt, reverse=False)

    def action_reverse_sort(self) -> None:
        self.sort_by(0 if self.sort_column is None else self.sort_column, reverse=not self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column_index)
