"""Column definitions per kind, shared by the CLI tables and the dashboard: one place decides what is shown.

Every cell is produced as an already-escaped `str` plus a sort key; front ends never format objects themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ipcwatch.scan.model import IpcObject
from ipcwatch.text import escape, human_size


@dataclass(frozen=True)
class Column:
    title: str
    cell: Callable[[IpcObject], str]
    sort: Callable[[IpcObject], Any]
    numeric: bool = False  # right-aligned


def _f(name: str) -> Callable[[IpcObject], Any]:
    return lambda o: o.fields.get(name)


def _num(value: Any) -> str:
    return "?" if value is None else str(value)


def _sortable(value: Any) -> tuple[int, Any]:
    """None sorts first, numbers and strings never compared with each other."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def number(title: str, get: Callable[[IpcObject], Any]) -> Column:
    return Column(title, lambda o: _num(get(o)), lambda o: _sortable(get(o)), numeric=True)


def size(title: str, get: Callable[[IpcObject], Any]) -> Column:
    return Column(title, lambda o: human_size(get(o)), lambda o: _sortable(get(o)), numeric=True)


def text(title: str, get: Callable[[IpcObject], Any]) -> Column:
    return Column(title, lambda o: escape(None if get(o) is None else str(get(o))), lambda o: _sortable(get(o)))


def holders_summary(obj: IpcObject) -> str:
    """`1234 postgres (+3)`: the first holder and how many other processes hold it."""
    if not obj.holders:
        return "-"
    first = obj.holders[0]
    others = len(obj.holder_pids) - 1
    return f"{first.pid} {escape(first.comm)}" + (f" (+{others})" if others else "")


def key_text(obj: IpcObject) -> str:
    return "?" if obj.key is None else f"0x{obj.key & 0xFFFFFFFF:08x}"


def sem_values(obj: IpcObject) -> str:
    sems = obj.fields.get("semaphores")
    if sems is None:
        return "?"
    shown = ",".join(_num(s["value"]) for s in sems[:8])
    return shown + (",…" if len(sems) > 8 else "")


def _listening(obj: IpcObject) -> bool:
    return obj.fields.get("backlog") is not None


def _received(obj: IpcObject) -> Any:
    """Bytes waiting to be read, or for a listener the connections waiting for accept()."""
    return obj.fields.get("pending_connections" if _listening(obj) else "recv_queue")


def recv_queue_cell(obj: IpcObject) -> str:
    """`12K` for a data socket; `0 of 244 pending` for a listener (its queue holds connections, not bytes)."""
    if _listening(obj):
        return f"{_num(_received(obj))} of {obj.fields['backlog']} pending"
    return human_size(_received(obj))


def send_queue_cell(obj: IpcObject) -> str:
    """Bytes sent and not yet read by the peer; nothing for a listener (its backlog is in RECV-Q)."""
    return "-" if _listening(obj) else human_size(obj.fields.get("send_queue"))


def _processes(obj: IpcObject) -> int:
    return len(obj.holder_pids)


def counter_mode(obj: IpcObject) -> str:
    """An eventfd is a counter, or a semaphore (EFD_SEMAPHORE: each read takes 1); `?` on kernels that do not say."""
    semaphore = obj.fields.get("semaphore")
    return "?" if semaphore is None else "semaphore" if semaphore else "counter"


def signal_list(obj: IpcObject) -> str:
    return ",".join(obj.fields.get("signals") or ()) or "-"


REF = Column("REF", lambda o: o.ref, lambda o: o.ref)  # refs are built from escaped names already
KEY = Column("KEY", key_text, lambda o: _sortable(o.key))
ID = number("ID", lambda o: o.id)
NAME = text("NAME", lambda o: o.name)
OWNER = text("OWNER", lambda o: o.owner)
PERMS = text("PERMS", lambda o: o.perms)
HOLDERS = Column("HOLDERS", holders_summary, lambda o: len(o.holders), numeric=False)
STALE = Column("STALE", lambda o: escape(o.stale_reason) if o.stale else "", lambda o: (not o.stale, o.ref))

COLUMNS: dict[str, Sequence[Column]] = {
    "sysv-shm": (
        KEY, ID, OWNER, PERMS, size("SIZE", lambda o: o.size), number("NATTCH", _f("nattch")),
        text("STATUS", _f("status")), number("CPID", _f("cpid")), number("LPID", _f("lpid")), HOLDERS, STALE,
    ),
    "sysv-msg": (
        KEY, ID, OWNER, PERMS, size("USED-BYTES", _f("used_bytes")), number("MESSAGES", _f("messages")),
        size("MAX-BYTES", _f("max_bytes")), number("LSPID", _f("lspid")), number("LRPID", _f("lrpid")), STALE,
    ),
    "sysv-sem": (
        KEY, ID, OWNER, PERMS, number("NSEMS", _f("nsems")), Column("VALUES", sem_values, lambda o: sem_values(o)),
        number("NCNT", _f("ncnt")), number("ZCNT", _f("zcnt")), STALE,
    ),
    "posix-shm": (
        NAME, OWNER, PERMS, size("SIZE", lambda o: o.size), size("ALLOC", _f("allocated")), HOLDERS, STALE,
    ),
    "posix-mq": (
        NAME, OWNER, PERMS, number("MSGS", _f("messages")), number("MAXMSG", _f("max_messages")),
        size("MSGSIZE", _f("message_size")), size("QSIZE", _f("qsize")), text("NOTIFY", _f("notify")),
        HOLDERS, STALE,
    ),
    "posix-sem": (NAME, OWNER, PERMS, number("VALUE", _f("value")), HOLDERS, STALE),
    "fifo": (
        NAME, OWNER, PERMS, number("READERS", _f("readers")), number("WRITERS", _f("writers")),
        size("QUEUED", _f("queued")), size("CAP", _f("capacity")), HOLDERS, STALE,
    ),
    "pipe": (
        number("INODE", lambda o: o.id), number("READERS", _f("readers")), number("WRITERS", _f("writers")),
        size("QUEUED", _f("queued")), size("CAP", _f("capacity")), HOLDERS, STALE,
    ),
    "unix": (
        number("INODE", lambda o: o.id), text("TYPE", _f("type")), text("STATE", _f("state")), NAME,
        number("PEER", _f("peer")), Column("RECV-Q", recv_queue_cell, lambda o: _sortable(_received(o)), numeric=True),
        Column("SEND-Q", send_queue_cell, lambda o: _sortable(o.fields.get("send_queue")), numeric=True),
        HOLDERS, STALE,
    ),
    "eventfd": (
        REF, OWNER, number("COUNT", _f("count")), Column("MODE", counter_mode, counter_mode),
        number("PROCS", _processes), HOLDERS,
    ),
    "signalfd": (REF, OWNER, Column("SIGNALS", signal_list, signal_list), HOLDERS),
}

# The "All" view: what every kind has in common.
ALL_COLUMNS: Sequence[Column] = (
    text("KIND", lambda o: o.kind), REF, OWNER, PERMS, size("SIZE", lambda o: o.size), HOLDERS, STALE,
)


def render_table(columns: Sequence[Column], objects: Sequence[IpcObject]) -> list[str]:
    """Aligned plain-text rows (header first) for a terminal or a pipe."""
    rows = [[c.title for c in columns]] + [[c.cell(o) for c in columns] for o in objects]
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if columns[i].numeric and row is not rows[0] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines
