"""The scan's records: IpcObject's own __init__ and its JSON, with shared pieces (no root, no kernel objects)."""

from __future__ import annotations

import inspect

import orjson
import pytest

from ipcwatch import record
from ipcwatch.kinds import Kind
from ipcwatch.scan import IpcObject, Snapshot, model
from ipcwatch.scan.info import SemValue, SysvSemInfo, UnixInfo
from ipcwatch.scan.model import Holder, Waiter, objects_json
from ipcwatch.scan.namespaces import Namespace

NS = Namespace("mnt", 4, 4026531841, (1, 2), 1, host=True, pinned_by=("/run/ns\x1b",))
NET = Namespace("net", 4, 4026531840, (1,), 1, host=True)


def _unix(ref: str = "unix:5") -> IpcObject:
    holder = Holder(7, "evil\x1b[2J", "r\u202eoot", 3, "rw", 100)
    info = UnixInfo("stream", "connected", "/tmp/a\\b", peer=6, peer_holders=(holder,), net_namespace=NET)
    return IpcObject(
        ref, Kind.UNIX, "/tmp/a\\b", 5, None, "root", 0, 0o140755, None, (holder,), True, "no reader", "file:1:5",
        info=info, waiters=(Waiter(7, 8, "accept"),), namespace=NS, removed_at_logout="us\x9ber",
    )  # fmt: skip


def test_init_takes_the_fields_in_order_with_their_defaults() -> None:
    params = list(inspect.signature(model._init_twin).parameters.values())[1:]  # the compiled one binds the same
    fields = record.fields(IpcObject)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        assert p.default == (inspect.Parameter.empty if f.default is record.MISSING else f.default), f.name
    values = [object() for _ in fields]  # each slot gets its own argument
    obj = IpcObject(*values)  # type: ignore[arg-type]
    assert [getattr(obj, f.name) for f in fields] == values
    assert record.replace(obj, size=9) == IpcObject(*values[:8], 9, *values[9:])  # type: ignore[arg-type]
    with pytest.raises(record.FrozenInstanceError):
        obj.size = 1  # type: ignore[misc]
    assert IpcObject("pipe:1", Kind.PIPE, None, 1, None, "root", 0, None, None, (), False, None, "pipe:1").waiters == ()


def test_to_json_escapes_every_raw_string_once_and_keeps_numbers() -> None:
    data = _unix().to_json()
    holder = {"pid": 7, "comm": "evil\\x1b[2J", "user": "r\\u202eoot", "fd": 3, "mode": "rw", "start": 100}
    assert data == {
        "ref": "unix:5", "kind": "unix", "name": "/tmp/a\\\\b", "id": 5, "key": None, "owner": "root", "uid": 0,
        "perms": "0755", "mode": 0o140755, "size": None, "holders": [holder],
        "waiters": [{"pid": 7, "tid": 8, "op": "accept"}], "stale": True, "stale_reason": "no reader",
        "identity": "file:1:5", "namespace": NS.brief_json(),
        "type": "stream", "state": "connected", "path": "/tmp/a\\\\b", "abstract": False, "peer": 6,
        "peer_holders": [holder], "recv_queue": None, "send_queue": None, "pending_connections": None,
        "backlog": None, "waiting_clients": None, "net_namespace": NET.brief_json(), "removed_at_logout": "us\\x9ber",
    }  # fmt: skip
    assert list(data)[:16] == [*("ref", "kind", "name", "id", "key", "owner", "uid", "perms", "mode", "size")] + [
        *("holders", "waiters", "stale", "stale_reason", "identity", "namespace")
    ]
    sems = SysvSemInfo(2, (SemValue(0, 1, 0, 0, 9), SemValue(1, None, None, None, None)), 0, 0, 5, 0, None, 6)
    sem = IpcObject("sysv-sem:3", Kind.SYSV_SEM, None, 3, 0, "root", 0, 0o600, 2, (), False, None, "s", info=sems)
    assert sem.to_json()["semaphores"] == [s.to_json() for s in sems.semaphores]  # type: ignore[union-attr]


def test_objects_json_shares_each_namespace_and_writes_what_to_json_writes() -> None:
    objects = [_unix("unix:5"), _unix("unix:6")]
    shared = objects_json(objects)
    assert shared == [o.to_json() for o in objects]
    assert shared[0]["namespace"] is shared[1]["namespace"] and shared[0]["net_namespace"] is shared[1]["net_namespace"]
    snap = Snapshot(tuple(objects), {})
    assert orjson.loads(orjson.dumps(snap.to_json()))["objects"] == shared
