"""A virtual table on Textual's Line API: rows live in a keyed model; only the lines on screen are rendered.

`apply(rows, alive, fresh)` replaces the model by the scan's rows (a vanished object stays one refresh, struck out)
and sorts once when something that affects the order changed; the cost is a few dict and list passes, never a
widget per row or cell. The selection is remembered by key across sort, refresh and filter. Columns are laid out
from the width (`layout.fit_columns`): resize re-lays out. Cells are escaped strings drawn as plain segments,
never markup, so a hostile name can neither run an action nor reach the terminal raw. Colours come from the theme
(component classes), so every built-in theme is readable.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import ClassVar, Self

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ipcwatch.tui.widgets.layout import GAP, Placed, fit_cell, fit_columns
from ipcwatch.tui.widgets.rows import ColumnHead, Row
from ipcwatch.tui.widgets.sizing import set_virtual_size

NEW, STALE, ALERT, GONE = "keyed-table--new", "keyed-table--stale", "keyed-table--alert", "keyed-table--gone"
HEADER, CURSOR = "keyed-table--header", "keyed-table--cursor"
LINE_CACHE = 256  # rendered lines kept (a screen needs a few dozen)
GONE_INSERT_MAX = 200  # more vanished rows than this go to the end instead of their old places


def row_class(row: Row, fresh: Collection[str]) -> str:
    """The component class a row is drawn with ("" for none)."""
    if row.key in fresh:
        return NEW
    return ALERT if row.alert else STALE if row.stale else ""


class _Moving(ScrollView, can_focus=True):
    """The keys that move the cursor (kept out of `KeyedTable.BINDINGS`, which the help screen lists)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
        Binding("enter", "select", "Select", show=False),
    ]


class KeyedTable(_Moving):
    """Rows keyed by ref (or pid); arrows, PageUp/Down, Home/End, click and wheel move; click a header or press
    `s`/`S` to sort; Enter (or a click on the highlighted row) selects."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "cycle_sort", "Sort", id="table.sort"),
        Binding("S", "reverse_sort", "Reverse", show=False, id="table.reverse"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {HEADER, CURSOR, NEW, STALE, ALERT, GONE}
    DEFAULT_CSS = """
    KeyedTable { background: $surface; color: $foreground; scrollbar-gutter: stable; scrollbar-size-vertical: 1; }
    KeyedTable > .keyed-table--header { text-style: bold; background: $panel; color: $foreground; }
    KeyedTable > .keyed-table--cursor {
        background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
    }
    KeyedTable:focus > .keyed-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold;
    }
    KeyedTable > .keyed-table--new { background: $success-muted; color: $text-success; text-style: bold; }
    KeyedTable > .keyed-table--stale { color: $text-warning; }
    KeyedTable > .keyed-table--alert { color: $text-error; text-style: bold; }
    KeyedTable > .keyed-table--gone { color: $text-muted; text-style: strike; }
    """

    class RowMessage(Message):
        """Something happened to a row of this table: `table` and the row's `key`."""

        def __init__(self, table: KeyedTable, key: str) -> None:
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> KeyedTable:
            return self.table

    class RowHighlighted(RowMessage):
        """The cursor moved to a row (by a key, a click or `select_key`)."""

    class RowSelected(RowMessage):
        """Enter, or a click on the highlighted row."""

    def __init__(self, columns: Sequence[ColumnHead], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.heads = tuple(columns)
        self.sort_column: int | None = None
        self.sort_reverse = False
        self._model: dict[str, Row] = {}
        self._keys: list[str] = []
        self._row_classes: dict[str, str] = {}  # key -> component class of the rows that have one
        self._vanished: set[str] = set()
        self._cursor_row = 0
        self._columns_placed: tuple[Placed, ...] = ()
        self._laid_out_for = -1  # the width `_columns_placed` was laid out for
        self._strips: LRUCache[str, tuple[Row, str, Strip]] = LRUCache(LINE_CACHE)  # key -> what it was drawn from
        self._styles: dict[str, Style] = {}  # component class ("" for none) -> the rich style a line is drawn with
        self._restyle = False  # styles changed: check whether the lines drawn still have the right colours

    # --- the model -------------------------------------------------------------------------------------------

    @property
    def rows(self) -> dict[str, Row]:
        """Every row shown (a vanished one too, for one refresh), by key."""
        return self._model

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def selected_key(self) -> str | None:
        return self._keys[self._cursor_row] if self._keys else None

    def row_class(self, key: str) -> str:
        """How the row is drawn: NEW, STALE, ALERT, GONE or ""."""
        return self._row_classes.get(key, "")

    def is_gone(self, key: str) -> bool:
        return key in self._vanished

    def index_of(self, key: str) -> int | None:
        """Where the row with this key is shown (0 is the first row under the header), None if it is not."""
        return self._keys.index(key) if key in self._model else None

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row with this key; False when there is no such row."""
        index = self.index_of(key)
        if index is None:
            return False
        self._move(index)
        return True

    def set_heads(self, columns: Sequence[ColumnHead]) -> None:
        """Show other columns (a CONTAINER column comes and goes with namespaced objects): the rows are dropped,
        the next `apply` fills them again."""
        heads = tuple(columns)
        if heads == self.heads:
            return
        self.heads, self.sort_column, self.sort_reverse = heads, None, False
        self._model, self._keys, self._row_classes, self._vanished, self._cursor_row = {}, [], {}, set(), 0
        self._relayout()

    def apply(self, rows: Sequence[Row], alive: Collection[str], fresh: Collection[str] = ()) -> None:
        """Show exactly `rows` (plus vanished ones, once, struck out). `alive`: keys still in the snapshot
        (a row filtered out is removed, not shown as vanished); `fresh`: keys to highlight as new."""
        selected, old, old_order = self.selected_key, self._model, self._keys
        new = {row.key: row for row in rows}
        gone = [k for k in old_order if k not in new and k not in self._vanished and k not in alive]
        same_rows = len(new) == len(old) and not gone and all(old.get(k) is r for k, r in new.items())
        classes = {r.key: c for r in rows if (c := row_class(r, fresh))}
        if same_rows and classes == self._row_classes and not self._vanished:
            return  # nothing to draw differently
        order = old_order if same_rows else [row.key for row in rows]
        for key in gone:
            new[key] = old[key]
            classes[key] = GONE
        if gone:
            self._place_gone(order, gone, old_order)
        self._model, self._row_classes, self._vanished = new, classes, set(gone)
        self._keys = order
        if not same_rows and self.sort_column is not None:
            self._sort_rows()
        self._after_change(selected)

    @staticmethod
    def _place_gone(order: list[str], gone: list[str], old_order: list[str]) -> None:
        """Put vanished rows back where they were (at the end when there are many)."""
        if len(gone) > GONE_INSERT_MAX:
            order.extend(gone)
            return
        doomed = set(gone)
        for index, key in enumerate(old_order):
            if key in doomed:
                order.insert(min(index, len(order)), key)

    def _after_change(self, selected: str | None) -> None:
        """The rows changed: keep the cursor on the selected key (else at its place), resize, redraw."""
        if selected is not None and selected in self._model:
            self._cursor_row = self._keys.index(selected)
        self._cursor_row = max(0, min(self._cursor_row, len(self._keys) - 1))
        self._resize()
        self._scroll_to_cursor()
        self.refresh()

    # --- sorting ---------------------------------------------------------------------------------------------

    def _sort_rows(self) -> None:
        column, rows = self.sort_column, self._model
        if column is not None:
            self._keys.sort(key=lambda k: rows[k].sort_key(column), reverse=self.sort_reverse)

    def sort_by(self, index: int, reverse: bool | None = None) -> None:
        """Sort by column `index`; the same column again flips the order."""
        if reverse is None:
            reverse = not self.sort_reverse if index == self.sort_column else False
        selected = self.selected_key
        self.sort_column, self.sort_reverse, self._laid_out_for = index, reverse, -1  # room for the arrow
        self._sort_rows()
        self._after_change(selected)

    def action_cycle_sort(self) -> None:
        """Sort by the next column shown (a column the width leaves out is skipped)."""
        shown = [p.index for p in self._layout()] or list(range(len(self.heads)))
        after = [i for i in shown if self.sort_column is None or i > self.sort_column]
        self.sort_by(after[0] if after else shown[0], reverse=False)

    def action_reverse_sort(self) -> None:
        self.sort_by(0 if self.sort_column is None else self.sort_column, reverse=not self.sort_reverse)

    def focus(self, scroll_visible: bool = True) -> Self:
        """Take the focus now, where `Widget.focus` defers it behind the messages already queued: keys sent in one
        burst with the one that showed this table (`0 Down Down`) reach it, not the table it replaced. A table fills
        its view: nothing to scroll into sight (`scroll_visible` is ignored)."""
        if not self.is_attached or not self.focusable:
            return super().focus(scroll_visible)  # not yet: once it can
        self.screen.set_focus(self, scroll_visible=False)
        return self

    # --- moving ----------------------------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _move(self, index: int) -> None:
        """Put the cursor on row `index` (clamped), bring it into view, tell the screen when the row changed."""
        if not self._keys:
            return
        index = max(0, min(index, len(self._keys) - 1))
        before, self._cursor_row = self._cursor_row, index
        self._scroll_to_cursor()
        if index != before:
            self.refresh()
        self.post_message(self.RowHighlighted(self, self._keys[index]))

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_offset.y)
        if self._cursor_row < top:
            self.scroll_to(y=self._cursor_row, animate=False, immediate=True)
        elif self._cursor_row >= top + self._page:
            self.scroll_to(y=self._cursor_row - self._page + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self._move(self._cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._move(self._cursor_row + 1)

    def action_page_up(self) -> None:
        self._move(self._cursor_row - self._page)

    def action_page_down(self) -> None:
        self._move(self._cursor_row + self._page)

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self._keys) - 1)

    def action_select(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:
            index = next((p.index for p in self._columns_placed if p.x - 1 <= offset.x < p.x + p.width), None)
            if index is not None:
                self.sort_by(index)
            return
        index = round(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self._keys):
            if index == self._cursor_row:
                self.action_select()
            else:
                self._move(index)

    # --- drawing ---------------------------------------------------------------------------------------------

    def on_resize(self) -> None:
        """A new size (also when the table is shown, after a jump moved its cursor while it was hidden): the cursor
        is brought into view; the lines drawn stay valid while the width does (`_layout` checks it). No repaint
        here: the layout that resized or showed the table has drawn it at its new size."""
        self._resize()
        self._scroll_to_cursor()

    def _relayout(self) -> None:
        self._laid_out_for = -1
        self._strips.clear()
        self._resize()
        self.refresh()

    def _resize(self) -> None:
        set_virtual_size(self, Size(self.scrollable_content_region.width, len(self._keys) + 1))

    def _layout(self) -> tuple[Placed, ...]:
        width = self.scrollable_content_region.width
        if width != self._laid_out_for:
            self._columns_placed, self._laid_out_for = fit_columns(self.heads, width, self.sort_column), width
            self._strips.clear()
        return self._columns_placed

    def _text(self, cells: Sequence[str]) -> str:
        parts = []
        for p in self._layout():
            head = self.heads[p.index]
            parts.append(" " * GAP + fit_cell(cells[p.index], p.width, head.elide, head.numeric))
        return "".join(parts)

    def _header(self) -> str:
        parts = []
        for p in self._layout():
            head = self.heads[p.index]
            mark = (" ▼" if self.sort_reverse else " ▲") if p.index == self.sort_column else ""
            title = fit_cell(head.title + mark, p.width, "end", head.numeric)
            parts.append(" " * GAP + title)
        return "".join(parts)

    def render_line(self, y: int) -> Strip:
        if self._restyle:
            self._restyled()
        width = self.scrollable_content_region.width
        if y == 0:
            style = self._style(HEADER)
            return Strip([Segment(self._header(), style)]).crop_extend(0, width, style)
        index = round(self.scroll_offset.y) + y - 1
        if index >= len(self._keys):
            return Strip.blank(width, self._style(""))
        key = self._keys[index]
        row, kind = self._model[key], self._row_classes.get(key, "")
        if index == self._cursor_row:
            return self._line(row, kind, width, cursor=True)
        cached = self._strips.get(key)
        if cached is not None and cached[0] is row and cached[1] == kind:  # drawn from this very row, as this
            return cached[2]
        strip = self._line(row, kind, width)
        self._strips.set(key, (row, kind, strip))
        return strip

    def _style(self, component: str) -> Style:
        """The widget's rich style plus a component class's ("" for none), worked out once per style change."""
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self._fresh_style(component)
        return style

    def _fresh_style(self, component: str) -> Style:
        return self.rich_style + (self.get_component_rich_style(component) if component else Style())

    def _line(self, row: Row, kind: str, width: int, cursor: bool = False) -> Strip:
        style = self._style(kind)
        if cursor:
            style += self.get_component_rich_style(CURSOR)
        return Strip([Segment(self._text(row.cells), style)]).crop_extend(0, width, style)

    def notify_style_update(self) -> None:
        """The theme or focus changed: the next line drawn checks the colours (`_restyled`)."""
        super().notify_style_update()
        self._restyle = True

    def _restyled(self) -> None:
        """If a line's colours changed (the theme), the lines drawn go. Focus changes only the cursor's line, which
        is never kept: the lines stay (a view switch moves the focus). Checked when drawing, once styles settled."""
        self._restyle = False
        styles = {component: self._fresh_style(component) for component in self._styles}
        if styles != self._styles:
            self._strips.clear()
            self._styles = styles
