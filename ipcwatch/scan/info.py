"""What each kind of object says beyond the common fields: one NamedTuple per kind (`IpcObject.info`).

A scan builds one per object, and a NamedTuple is built in less than half the time of a slotted frozen record.
The records inside them (a semaphore's values, a waiting client) are frozen records (ipcwatch.record) with their
own `to_json`, which `json_value` prefers to a tuple's list. Numbers stay numbers and strings are raw (escape them
to show). `info_items` walks any record's values in field order (the detail pane's field list); `IpcObject.to_json`
writes them under the same keys, and `json_plan` tells the native writer of `list --json` the same.
"""

from __future__ import annotations

from ipcwatch.record import NamedTuple, fields, record
from ipcwatch.scan.model import Holder, IpcObject, Waiter, info_keys

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

    from ipcwatch.native.objjson import Table
    from ipcwatch.scan.namespaces import Namespace


@record(init=False)  # its own __init__: record need not write one
class SemValue:
    """One semaphore of a SysV set: its value, how many wait for an increase (ncnt) or for zero (zcnt), and the
    pid of the last operation."""

    num: int
    value: int | None
    ncnt: int | None
    zcnt: int | None
    pid: int | None

    # Written by hand (init=False above): each field set through its slot's descriptor, 2x
    # faster than the generated one's object.__setattr__; a scan builds one per semaphore.
    def __init__(self, num: int, value: int | None, ncnt: int | None, zcnt: int | None, pid: int | None) -> None:
        _set_num(self, num)
        _set_value(self, value)
        _set_ncnt(self, ncnt)
        _set_zcnt(self, zcnt)
        _set_pid(self, pid)

    def to_json(self) -> dict[str, int | None]:
        return {"num": self.num, "value": self.value, "ncnt": self.ncnt, "zcnt": self.zcnt, "pid": self.pid}


_set_num, _set_value, _set_ncnt, _set_zcnt, _set_pid = (getattr(SemValue, f.name).__set__ for f in fields(SemValue))


class SysvShmInfo(NamedTuple):
    nattch: int
    cpid: int
    lpid: int
    status: str  # "dest", "locked", "dest,locked" or ""
    rss: int | None
    swap: int | None
    atime: int  # last attach
    dtime: int  # last detach
    cuid: int
    gid: int | None
    ctime: int


class SysvMsgInfo(NamedTuple):
    messages: int
    used_bytes: int | None
    max_bytes: int | None
    lspid: int
    lrpid: int
    stime: int
    rtime: int
    cuid: int
    gid: int | None
    ctime: int


class SysvSemInfo(NamedTuple):
    nsems: int
    semaphores: tuple[SemValue, ...] | None  # None when the values cannot be read (not permitted)
    ncnt: int | None
    zcnt: int | None
    otime: int
    cuid: int
    gid: int | None
    ctime: int


class PosixShmInfo(NamedTuple):
    gid: int
    mtime: int
    ctime: int
    allocated: int  # bytes of memory the file uses (it may be sparse)


class PosixSemInfo(NamedTuple):
    gid: int
    mtime: int
    ctime: int
    value: int | None
    waiters_count: int | None
    problem: str | None  # why the value could not be read


class PosixMqInfo(NamedTuple):
    gid: int
    mtime: int  # set by mq_send and mq_receive: the last message activity (our reads set atime and ctime)
    qsize: int | None
    messages: int | None
    max_messages: int | None
    message_size: int | None
    notify: str | None  # "signal", "thread" or "none"
    notify_signal: int | None
    notify_pid: int | None
    problem: str | None = None  # why the queue's attributes could not be read


class PipeInfo(NamedTuple):
    readers: int
    writers: int
    queued: int | None
    capacity: int | None


class FifoInfo(NamedTuple):
    readers: int
    writers: int
    queued: int | None
    capacity: int | None
    deleted: bool
    inode: int


@record
class WaitingClient:
    """A client connected to a listener but not accepted yet, with the processes that hold its socket."""

    inode: int
    holders: tuple[Holder, ...]

    def to_json(self) -> dict[str, Any]:
        return {"inode": self.inode, "holders": [h.to_json() for h in self.holders]}


class UnixInfo(NamedTuple):
    type: str | None  # "stream", "dgram", "seqpacket"; None for a socket file no live socket is bound to
    state: str  # "listen", "connected", ..., "file only"
    path: str | None  # the bound address (raw), `@name` for an abstract one
    abstract: bool = False
    peer: int | None = None
    peer_holders: tuple[Holder, ...] = ()
    recv_queue: int | None = None
    send_queue: int | None = None
    pending_connections: int | None = None  # listeners: connections not accepted yet, of `backlog`
    backlog: int | None = None
    waiting_clients: tuple[WaitingClient, ...] | None = None
    net_namespace: Namespace | None = None


class EventfdInfo(NamedTuple):
    count: int | None
    eventfd_id: int | None
    semaphore: bool | None


class SignalfdInfo(NamedTuple):
    sigmask: str | None  # 16 hex digits
    signals: tuple[str, ...]


KindInfo = (
    SysvShmInfo
    | SysvMsgInfo
    | SysvSemInfo
    | PosixShmInfo
    | PosixSemInfo
    | PosixMqInfo
    | PipeInfo
    | FifoInfo
    | UnixInfo
    | EventfdInfo
    | SignalfdInfo
)


def _as(how: str, *names: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((name, name, how) for name in names)


def json_plan() -> tuple[Table, Table, Table]:
    """How `IpcObject.json_with` and the records' `to_json` write an object, key by key in their order, for the
    native writer (ipcwatch.native.objjson: `compile_plan(*json_plan(), escape)`); the kinds' records write the
    values `info_keys` names, through `json_value`. tests/unit/native/test_objjson.py proves both write the same."""
    obj = (
        _as("escaped", "ref") + _as("as_is", "kind") + _as("escaped_or_null", "name") + _as("as_is", "id", "key")
        + _as("escaped", "owner") + _as("as_is", "uid") + (("perms", "mode", "perms"),) + _as("as_is", "mode", "size")
        + _as("records", "holders", "waiters") + _as("as_is", "stale", "stale_reason", "identity")
        + _as("namespace", "namespace") + _as("info", "info") + _as("escaped_if_set", "removed_at_logout")
    )  # fmt: skip
    records: Table = (
        (Holder, _as("as_is", "pid") + _as("escaped", "comm", "user") + _as("as_is", "fd", "mode", "start")),
        (Waiter, _as("as_is", "pid", "tid", "op")),
        (SemValue, _as("as_is", "num", "value", "ncnt", "zcnt", "pid")),
        (WaitingClient, _as("as_is", "inode") + _as("records", "holders")),
    )
    infos: Table = tuple((cls, _as("value", *info_keys(cls))) for cls in KindInfo.__args__)
    return ((IpcObject, obj),), records, infos
