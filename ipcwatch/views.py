"""Column definitions per kind, shared by the CLI tables and the dashboard: one place decides what is shown, and
which columns give way first when the terminal is narrow.

Every cell is produced as an already-escaped `str` plus a sort key; front ends never format objects themselves.
Each column says how it fits (`ipcwatch.tables` lays the columns out): `width` (the cells it is laid out at: longer
cells are elided), `priority` (lower is kept first when space runs out: `IDENTITY` always, `ESSENTIAL` at 80
columns, `DETAIL` from about 120, `EXTRA` on wide terminals), `flex` (it takes the remaining width: the name) and
`elide` (`middle` keeps the tail of a path, `/tmp/…/app.sock`; `end` cuts the end). Its `plan` says how the
compiled table builder of `ipcwatch list` makes the same cells (ipcwatch.native.tables; `call`: by `cell`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter

from ipcwatch.kinds import Kind, spec
from ipcwatch.record import record, replace
from ipcwatch.scan.info import PipeInfo, UnixInfo
from ipcwatch.scan.model import Holder, IpcObject
from ipcwatch.tables import DETAIL, ESSENTIAL, EXTRA, IDENTITY
from ipcwatch.text import cell_len, escape, human_size

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

    from ipcwatch.tables import Elide

    Source = str | Callable[[IpcObject], Any]  # a field (`size`, or `info.nattch`: its record's) or a getter


@record
class Column:
    title: str
    cell: Callable[[IpcObject], str]
    sort: Callable[[IpcObject], Any]
    numeric: bool = False  # right-aligned
    width: int = 0  # cells it is laid out at (0: its title's); the flex column gets at least this
    priority: int = DETAIL
    flex: bool = False  # takes the width left over (the name column)
    elide: Elide = "end"
    plan: tuple[str, Any] = ("call", None)  # (op, field) for ipcwatch.native.tables: how it builds `cell`'s text

    @property
    def min_width(self) -> int:
        return max(self.width, cell_len(self.title))


def _get(source: Source) -> Callable[[IpcObject], Any]:
    """The getter of a field: the object's own (`size`), or a kind-specific value of its record (`info.nattch`;
    `IpcObject.value` without its call: a cell per row)."""
    if not isinstance(source, str):
        return source
    if source.startswith("info."):
        name = source[5:]
        return lambda o: getattr(o.info, name, None)
    return attrgetter(source)


def _planned(op: str, source: Source, fit: dict[str, Any]) -> dict[str, Any]:
    """`fit` and the plan of a column of `source` (a getter: the column's own cell, `call`), unless `fit` has one."""
    return {"plan": (op, source) if isinstance(source, str) else ("call", None), **fit}


def _num(value: Any) -> str:
    return "?" if value is None else str(value)


def _sortable(value: Any) -> tuple[int, Any]:
    """None sorts first, numbers and strings never compared with each other."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def number(title: str, source: Source, **fit: Any) -> Column:
    get = _get(source)
    return Column(
        title, lambda o: _num(get(o)), lambda o: _sortable(get(o)), numeric=True, **_planned("number", source, fit)
    )


def size(title: str, source: Source, **fit: Any) -> Column:
    get = _get(source)
    return Column(
        title, lambda o: human_size(get(o)), lambda o: _sortable(get(o)), numeric=True, **_planned("size", source, fit)
    )


def text(title: str, source: Source, **fit: Any) -> Column:
    get = _get(source)
    return Column(
        title,
        lambda o: "" if (v := get(o)) is None else escape(str(v)),
        lambda o: _sortable(get(o)),
        **_planned("text", source, fit),
    )


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
    return escape(obj.ref.partition(":")[2])


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
REF = Column(
    "REF", lambda o: escape(o.ref), lambda o: o.ref, width=20, priority=EXTRA, elide="middle", plan=("text", "ref")
)
KEY = Column("KEY", key_text, lambda o: _sortable(o.key), width=10, priority=ESSENTIAL, plan=("key", None))
ID = number("ID", "id", width=5, priority=IDENTITY)
INODE = number("INODE", "id", width=8, priority=EXTRA)
NAME = Column(
    "NAME", object_name, lambda o: object_name(o), width=12, priority=IDENTITY, flex=True, elide="middle",
    plan=("name", (PipeInfo, UnixInfo)),  # the records of objects named by their ends
)  # fmt: skip
KIND = Column("KIND", lambda o: spec(o.kind).label, lambda o: o.kind, width=4, priority=ESSENTIAL)  # short
OWNER = text("OWNER", "owner", width=8, priority=ESSENTIAL)
PERMS = text("PERMS", "perms", width=5, priority=DETAIL, plan=("perms", None))  # from the mode, as `perms`
SIZE = size("SIZE", "size", width=5, priority=ESSENTIAL)
HOLDERS = Column(
    "HOLDERS", holders_summary, lambda o: len(o.holders), width=16, priority=ESSENTIAL, elide="middle",
    plan=("holders", None),
)  # fmt: skip
MARK = Column("!", mark, lambda o: (not o.stale, -len(o.waiters)), width=5, priority=ESSENTIAL, plan=("mark", None))
STALE = Column(
    "STALE", lambda o: escape(o.stale_reason) if o.stale else "", lambda o: (not o.stale, o.ref), width=24,
    plan=("stale", None),
)  # fmt: skip
STALE_FLEX = replace(STALE, flex=True)  # tables with no name: the reason takes the width left over
WIDE_NAME = replace(NAME, width=20)  # a kind's own view has room: the name before its EXTRA columns
NAMED_BY_REF = replace(REF, width=12, priority=IDENTITY, flex=True)  # kinds with no name

COLUMNS: dict[Kind, Sequence[Column]] = {
    Kind.SYSV_SHM: (
        KEY, ID, OWNER, PERMS, SIZE, number("NATTCH", "info.nattch", width=6, **_DETAIL),
        text("STATUS", "info.status", width=6, **_EXTRA), number("CPID", "info.cpid", width=7, **_EXTRA),
        number("LPID", "info.lpid", width=7, **_EXTRA), HOLDERS, MARK, STALE_FLEX,
    ),
    Kind.SYSV_MSG: (
        KEY, ID, OWNER, PERMS, size("USED-BYTES", "info.used_bytes", width=10, **_ESSENTIAL),
        number("MESSAGES", "info.messages", width=8, **_ESSENTIAL),
        size("MAX-BYTES", "info.max_bytes", width=9, **_EXTRA), number("LSPID", "info.lspid", width=7, **_DETAIL),
        number("LRPID", "info.lrpid", width=7, **_DETAIL), MARK, STALE_FLEX,
    ),
    Kind.SYSV_SEM: (
        KEY, ID, OWNER, PERMS, number("NSEMS", "info.nsems", width=5, **_ESSENTIAL),
        Column(
            "VALUES", sem_values, lambda o: sem_values(o), width=10, plan=("sem_values", "info.semaphores"),
            **_ESSENTIAL,
        ),
        number("NCNT", "info.ncnt", width=4, **_DETAIL), number("ZCNT", "info.zcnt", width=4, **_EXTRA),
        MARK, STALE_FLEX,
    ),
    Kind.POSIX_SHM: (
        WIDE_NAME, OWNER, PERMS, SIZE, size("ALLOC", "info.allocated", width=6, **_EXTRA), HOLDERS, MARK, STALE,
    ),
    Kind.POSIX_MQ: (
        WIDE_NAME, OWNER, PERMS, number("MSGS", "info.messages", width=4, **_ESSENTIAL),
        number("MAXMSG", "info.max_messages", width=6, **_EXTRA),
        size("MSGSIZE", "info.message_size", width=7, **_EXTRA), size("QSIZE", "info.qsize", width=6, **_ESSENTIAL),
        text("NOTIFY", "info.notify", width=6, **_EXTRA), HOLDERS, MARK, STALE,
    ),
    Kind.POSIX_SEM: (
        WIDE_NAME, OWNER, PERMS, number("VALUE", "info.value", width=5, **_ESSENTIAL), HOLDERS, MARK, STALE,
    ),
    Kind.FIFO: (
        WIDE_NAME, OWNER, PERMS, number("READERS", "info.readers", width=7, **_DETAIL),
        number("WRITERS", "info.writers", width=7, **_DETAIL), size("QUEUED", "info.queued", width=6, **_ESSENTIAL),
        size("CAP", "info.capacity", width=6, **_EXTRA), HOLDERS, MARK, STALE,
    ),
    Kind.PIPE: (
        INODE, Column(
            "WRITER → READER", pipe_ends, pipe_ends, width=30, priority=IDENTITY, flex=True, elide="middle",
            plan=("pipe_ends", None),
        ),
        OWNER, number("READERS", "info.readers", width=7, **_EXTRA),  # the ends say who
        number("WRITERS", "info.writers", width=7, **_EXTRA),
        size("QUEUED", "info.queued", width=6, **_ESSENTIAL), size("CAP", "info.capacity", width=6, **_EXTRA),
        replace(HOLDERS, priority=EXTRA), MARK, STALE,
    ),
    Kind.UNIX: (
        INODE, text("TYPE", "info.type", width=6, **_EXTRA), text("STATE", "info.state", width=9, **_EXTRA),
        replace(NAME, width=22), text("PATH", "name", width=16, elide="middle", **_EXTRA), OWNER,
        number("PEER", "info.peer", width=8, **_EXTRA),
        Column(
            "RECV-Q", recv_queue_cell, lambda o: _sortable(_received(o)), numeric=True, width=6,
            plan=("queue", "info.recv_queue"), **_ESSENTIAL,
        ),
        Column(
            "SEND-Q", send_queue_cell, lambda o: _sortable(o.value("send_queue")), numeric=True, width=6,
            plan=("queue", "info.send_queue"), **_EXTRA,
        ),
        HOLDERS, MARK, STALE,
    ),
    Kind.EVENTFD: (
        NAMED_BY_REF, OWNER, number("COUNT", "info.count", width=6, **_ESSENTIAL),
        Column("MODE", counter_mode, counter_mode, width=9),
        number("PROCS", lambda o: len(o.holder_pids), width=5, **_DETAIL), HOLDERS, MARK,
    ),
    Kind.SIGNALFD: (
        NAMED_BY_REF, OWNER, Column("SIGNALS", signal_list, signal_list, width=12, **_ESSENTIAL), HOLDERS, MARK,
    ),
}  # fmt: skip

# The "All" view: what every kind has in common; the KIND label and the name say what the ref says.
ALL_COLUMNS: Sequence[Column] = (KIND, NAME, OWNER, replace(PERMS, priority=EXTRA), SIZE, HOLDERS, MARK, REF, STALE)
