"""Column definitions per kind, shared by the CLI tables and the dashboard: one place decides what is shown, and
which columns give way first when the terminal is narrow.

Every cell is produced as an already-escaped `str` plus a sort key; front ends never format objects themselves.
Each column says how it fits: `width` (the cells it is laid out at: longer cells are elided), `priority` (lower is
kept first when space runs out: `IDENTITY` always, `ESSENTIAL` at 80 columns, `DETAIL` from about 120, `EXTRA` on
wide terminals), `flex` (it takes the remaining width: the name) and `elide` (`middle` keeps the tail of a path,
`/tmp/…/app.sock`; `end` cuts the end).
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from ipcwatch.kinds import Kind, spec
from ipcwatch.scan.info import PipeInfo, UnixInfo
from ipcwatch.scan.model import Holder, IpcObject
from ipcwatch.text import escape, human_size

Elide = Literal["middle", "end"]
IDENTITY, ESSENTIAL, DETAIL, EXTRA = 0, 1, 2, 3  # priorities: lower is kept first
ELLIPSIS = "…"


@functools.lru_cache(maxsize=4096)
def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cell_len(value: str) -> int:
    """Terminal cells an escaped string takes (wide CJK characters take two; rich is not loaded by the CLI)."""
    return len(value) if value.isascii() else sum(_char_cells(ch) for ch in value)


@dataclass(frozen=True)
class Column:
    title: str
    cell: Callable[[IpcObject], str]
    sort: Callable[[IpcObject], Any]
    numeric: bool = False  # right-aligned
    width: int = 0  # cells it is laid out at (0: its title's); the flex column gets at least this
    priority: int = DETAIL
    flex: bool = False  # takes the width left over (the name column)
    elide: Elide = "end"

    @property
    def min_width(self) -> int:
        return max(self.width, cell_len(self.title))


def _f(name: str) -> Callable[[IpcObject], Any]:
    """A kind-specific value of the object's record (`IpcObject.value`)."""
    return lambda o: o.value(name)


def _num(value: Any) -> str:
    return "?" if value is None else str(value)


def _sortable(value: Any) -> tuple[int, Any]:
    """None sorts first, numbers and strings never compared with each other."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def number(title: str, get: Callable[[IpcObject], Any], **fit: Any) -> Column:
    return Column(title, lambda o: _num(get(o)), lambda o: _sortable(get(o)), numeric=True, **fit)


def size(title: str, get: Callable[[IpcObject], Any], **fit: Any) -> Column:
    return Column(title, lambda o: human_size(get(o)), lambda o: _sortable(get(o)), numeric=True, **fit)


def text(title: str, get: Callable[[IpcObject], Any], **fit: Any) -> Column:
    return Column(title, lambda o: escape(None if get(o) is None else str(get(o))), lambda o: _sortable(get(o)), **fit)


def end_text(holders: Sequence[Holder]) -> str:
    """`1234 postgres (+3)`: the first holder (comm escaped) and how many other processes hold it; `` for none."""
    if not holders:
        return ""
    first = holders[0]
    others = len({h.pid for h in holders}) - 1
    return f"{first.pid} {escape(first.comm)}" + (f" (+{others})" if others else "")


def holders_summary(obj: IpcObject) -> str:
    return end_text(obj.holders) or "-"


def pipe_ends(obj: IpcObject) -> str:
    """`1234 bash → 1240 grep`: who holds the write end, then who holds the read end (from the fds' modes)."""
    writers = [h for h in obj.holders if "w" in h.mode]
    readers = [h for h in obj.holders if "r" in h.mode]
    return f"{end_text(writers) or 'nobody'} → {end_text(readers) or 'nobody'}"


def socket_ends(obj: IpcObject) -> str | None:
    """`1234 nginx ⇄ 5678 php-fpm` for a connected socket (its holders, then its peer's); None when unconnected."""
    info = obj.info
    if not isinstance(info, UnixInfo) or info.peer is None:
        return None
    return f"{end_text(obj.holders) or 'nobody'} ⇄ {end_text(info.peer_holders) or 'nobody'}"


def key_text(obj: IpcObject) -> str:
    return "?" if obj.key is None else f"0x{obj.key & 0xFFFFFFFF:08x}"


def object_name(obj: IpcObject) -> str:
    """What a person calls it, escaped: a pipe or a connected socket by its ends, a file or POSIX object by its
    name, a SysV object by id and key (`7 0x1dc0beef`), anything else by its ref without the kind."""
    if isinstance(obj.info, PipeInfo):
        return pipe_ends(obj)
    ends = socket_ends(obj)
    if ends is not None:
        return ends
    if obj.name:
        return escape(obj.name)
    if obj.key is not None and obj.id is not None:
        return f"{obj.id} " + ("private" if obj.key == 0 else key_text(obj))  # as ipcs: id and key
    return obj.ref.partition(":")[2]  # refs are built from escaped names already


def mark(obj: IpcObject) -> str:
    """`stale`, or `wait` when threads are blocked on it (how many: the detail pane), else nothing."""
    return "stale" if obj.stale else "wait" if obj.waiters else ""


def sem_values(obj: IpcObject) -> str:
    sems = obj.value("semaphores")
    if sems is None:
        return "?"
    shown = ",".join(_num(s.value) for s in sems[:8])
    return shown + (",…" if len(sems) > 8 else "")


def _listening(obj: IpcObject) -> bool:
    return obj.value("backlog") is not None


def _received(obj: IpcObject) -> Any:
    """Bytes waiting to be read, or for a listener the connections waiting for accept()."""
    return obj.value("pending_connections" if _listening(obj) else "recv_queue")


def recv_queue_cell(obj: IpcObject) -> str:
    """`12K` for a data socket; `0 of 244 pending` for a listener (its queue holds connections, not bytes)."""
    if _listening(obj):
        return f"{_num(_received(obj))} of {obj.value('backlog')} pending"
    return human_size(_received(obj))


def send_queue_cell(obj: IpcObject) -> str:
    """Bytes sent and not yet read by the peer; nothing for a listener (its backlog is in RECV-Q)."""
    return "-" if _listening(obj) else human_size(obj.value("send_queue"))


def counter_mode(obj: IpcObject) -> str:
    """An eventfd is a counter, or a semaphore (EFD_SEMAPHORE: each read takes 1); `?` on kernels that do not say."""
    semaphore = obj.value("semaphore")
    return "?" if semaphore is None else "semaphore" if semaphore else "counter"


def signal_list(obj: IpcObject) -> str:
    return ",".join(obj.value("signals") or ()) or "-"


_ESSENTIAL, _DETAIL, _EXTRA = {"priority": ESSENTIAL}, {"priority": DETAIL}, {"priority": EXTRA}
REF = Column("REF", lambda o: o.ref, lambda o: o.ref, width=20, priority=EXTRA, elide="middle")  # escaped already
KEY = Column("KEY", key_text, lambda o: _sortable(o.key), width=10, priority=ESSENTIAL)
ID = number("ID", lambda o: o.id, width=5, priority=IDENTITY)
INODE = number("INODE", lambda o: o.id, width=8, priority=EXTRA)
NAME = Column("NAME", object_name, lambda o: object_name(o), width=12, priority=IDENTITY, flex=True, elide="middle")
KIND = Column("KIND", lambda o: spec(o.kind).label, lambda o: o.kind, width=4, priority=ESSENTIAL)  # short
OWNER = text("OWNER", lambda o: o.owner, width=8, priority=ESSENTIAL)
PERMS = text("PERMS", lambda o: o.perms, width=5, priority=DETAIL)
SIZE = size("SIZE", lambda o: o.size, width=5, priority=ESSENTIAL)
HOLDERS = Column("HOLDERS", holders_summary, lambda o: len(o.holders), width=16, priority=ESSENTIAL, elide="middle")
MARK = Column("!", mark, lambda o: (not o.stale, -len(o.waiters)), width=5, priority=ESSENTIAL)
STALE = Column("STALE", lambda o: escape(o.stale_reason) if o.stale else "", lambda o: (not o.stale, o.ref), width=24)
STALE_FLEX = replace(STALE, flex=True)  # tables with no name: the reason takes the width left over
WIDE_NAME = replace(NAME, width=20)  # a kind's own view has room: the name before its EXTRA columns
NAMED_BY_REF = replace(REF, width=12, priority=IDENTITY, flex=True)  # kinds with no name

COLUMNS: dict[Kind, Sequence[Column]] = {
    Kind.SYSV_SHM: (
        KEY, ID, OWNER, PERMS, SIZE, number("NATTCH", _f("nattch"), width=6, **_DETAIL),
        text("STATUS", _f("status"), width=6, **_EXTRA), number("CPID", _f("cpid"), width=7, **_EXTRA),
        number("LPID", _f("lpid"), width=7, **_EXTRA), HOLDERS, MARK, STALE_FLEX,
    ),
    Kind.SYSV_MSG: (
        KEY, ID, OWNER, PERMS, size("USED-BYTES", _f("used_bytes"), width=10, **_ESSENTIAL),
        number("MESSAGES", _f("messages"), width=8, **_ESSENTIAL),
        size("MAX-BYTES", _f("max_bytes"), width=9, **_EXTRA), number("LSPID", _f("lspid"), width=7, **_DETAIL),
        number("LRPID", _f("lrpid"), width=7, **_DETAIL), MARK, STALE_FLEX,
    ),
    Kind.SYSV_SEM: (
        KEY, ID, OWNER, PERMS, number("NSEMS", _f("nsems"), width=5, **_ESSENTIAL),
        Column("VALUES", sem_values, lambda o: sem_values(o), width=10, **_ESSENTIAL),
        number("NCNT", _f("ncnt"), width=4, **_DETAIL), number("ZCNT", _f("zcnt"), width=4, **_EXTRA),
        MARK, STALE_FLEX,
    ),
    Kind.POSIX_SHM: (
        WIDE_NAME, OWNER, PERMS, SIZE, size("ALLOC", _f("allocated"), width=6, **_EXTRA), HOLDERS, MARK, STALE,
    ),
    Kind.POSIX_MQ: (
        WIDE_NAME, OWNER, PERMS, number("MSGS", _f("messages"), width=4, **_ESSENTIAL),
        number("MAXMSG", _f("max_messages"), width=6, **_EXTRA),
        size("MSGSIZE", _f("message_size"), width=7, **_EXTRA), size("QSIZE", _f("qsize"), width=6, **_ESSENTIAL),
        text("NOTIFY", _f("notify"), width=6, **_EXTRA), HOLDERS, MARK, STALE,
    ),
    Kind.POSIX_SEM: (
        WIDE_NAME, OWNER, PERMS, number("VALUE", _f("value"), width=5, **_ESSENTIAL), HOLDERS, MARK, STALE,
    ),
    Kind.FIFO: (
        WIDE_NAME, OWNER, PERMS, number("READERS", _f("readers"), width=7, **_DETAIL),
        number("WRITERS", _f("writers"), width=7, **_DETAIL), size("QUEUED", _f("queued"), width=6, **_ESSENTIAL),
        size("CAP", _f("capacity"), width=6, **_EXTRA), HOLDERS, MARK, STALE,
    ),
    Kind.PIPE: (
        INODE, Column("WRITER → READER", pipe_ends, pipe_ends, width=30, priority=IDENTITY, flex=True, elide="middle"),
        OWNER, number("READERS", _f("readers"), width=7, **_EXTRA),  # the ends say who
        number("WRITERS", _f("writers"), width=7, **_EXTRA),
        size("QUEUED", _f("queued"), width=6, **_ESSENTIAL), size("CAP", _f("capacity"), width=6, **_EXTRA),
        replace(HOLDERS, priority=EXTRA), MARK, STALE,
    ),
    Kind.UNIX: (
        INODE, text("TYPE", _f("type"), width=6, **_EXTRA), text("STATE", _f("state"), width=9, **_EXTRA),
        replace(NAME, width=22), text("PATH", lambda o: o.name, width=16, elide="middle", **_EXTRA), OWNER,
        number("PEER", _f("peer"), width=8, **_EXTRA),
        Column("RECV-Q", recv_queue_cell, lambda o: _sortable(_received(o)), numeric=True, width=6, **_ESSENTIAL),
        Column("SEND-Q", send_queue_cell, lambda o: _sortable(o.value("send_queue")), numeric=True, width=6, **_EXTRA),
        HOLDERS, MARK, STALE,
    ),
    Kind.EVENTFD: (
        NAMED_BY_REF, OWNER, number("COUNT", _f("count"), width=6, **_ESSENTIAL),
        Column("MODE", counter_mode, counter_mode, width=9),
        number("PROCS", lambda o: len(o.holder_pids), width=5, **_DETAIL), HOLDERS, MARK,
    ),
    Kind.SIGNALFD: (
        NAMED_BY_REF, OWNER, Column("SIGNALS", signal_list, signal_list, width=12, **_ESSENTIAL), HOLDERS, MARK,
    ),
}  # fmt: skip

# The "All" view: what every kind has in common; the KIND label and the name say what the ref says.
ALL_COLUMNS: Sequence[Column] = (KIND, NAME, OWNER, replace(PERMS, priority=EXTRA), SIZE, HOLDERS, MARK, REF, STALE)


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


class Fits(Protocol):
    """What `fit` reads of a column (a `Column` or the dashboard's `ColumnHead`)."""

    @property
    def priority(self) -> int: ...
    @property
    def flex(self) -> bool: ...
    @property
    def min_width(self) -> int: ...


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
    columns: Sequence[Column], objects: Sequence[IpcObject], width: int | None = AUTO, indent: int = 2
) -> list[str]:
    """Aligned plain-text rows (header first) for a terminal or a pipe. `width`: cells available (None: no limit;
    AUTO: the terminal's less the caller's `indent` when stdout is a terminal): the least important columns go,
    long cells are elided."""
    if width == AUTO:  # a script (stdout not a terminal) gets every column whole
        width = shutil.get_terminal_size().columns - indent if sys.stdout.isatty() else None
    rows = [[c.title for c in columns]] + [[c.cell(o) for c in columns] for o in objects]
    natural = [max(cell_len(r[i]) for r in rows) for i in range(len(columns))]
    widths = natural if width is None else fit(columns, natural, width)
    lines = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            w = widths[i]
            if w is None:
                continue
            cell = elide(cell, w, columns[i].elide)
            pad = " " * (w - cell_len(cell))
            cells.append(pad + cell if columns[i].numeric and row is not rows[0] else cell + pad)
        lines.append((" " * GAP).join(cells).rstrip())
    return lines
