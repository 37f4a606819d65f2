"""The native writer of `list --json` and its twin write the same bytes for a real host: `ipcwatch demo`'s objects of
every kind (holders, stale leftovers), an eventfd and a signalfd held here, a POSIX shm and a FIFO whose names hold
terminal escapes, and whatever else the host holds (the session's standing load)."""

from __future__ import annotations

import io
import json
import os
import signal
import sys

import pytest

from ipcwatch.commands import list as list_command
from ipcwatch.demo import Demo
from ipcwatch.native import objjson
from ipcwatch.scan import KINDS, IpcObject, ScanConfig, Snapshot, scan
from ipcwatch.scan.info import json_plan
from ipcwatch.scan.model import namespace_json
from ipcwatch.text import escape
from ipcwatch.workload import objects
from ipcwatch.workload.ledger import Ledger
from tests.conftest import Cleanup, needs_root, unique_name
from tests.live.native.test_procfd import signalfd

pytestmark = [needs_root, pytest.mark.skipif(objjson.IMPLEMENTATION != "c", reason="the native writer is not built")]
BAD = "e\x1b]2;PWNED\x07n\nc\x9b2J\u202e\udcff"


@pytest.fixture
def host(made: Ledger, cleanup: Cleanup) -> Snapshot:
    """A scan of the host with every kind on it, some named with terminal escapes; all of it removed at teardown."""
    tag = unique_name()
    objects.posix_shm(f"{tag}shm{BAD}", 64, b"").close_fd()
    made.add(f"posix-shm:{tag}shm{BAD}")
    made.add(f"fifo:{objects.fifo(f'/tmp/{tag}fifo{BAD}')}")  # /tmp: a directory `list` walks
    efd = os.eventfd(3)
    cleanup.add(lambda: os.close(efd))
    sfd = signalfd(1 << (signal.SIGUSR1 - 1))
    cleanup.add(lambda: os.close(sfd))
    demo = Demo()
    cleanup.add(demo.stop)
    demo.start()
    return scan(ScanConfig(file_dirs=(demo.directory, "/tmp")))


def _written(snapshot: Snapshot, chosen: list[IpcObject], monkeypatch: pytest.MonkeyPatch) -> bytes:
    out = io.TextIOWrapper(io.BytesIO())
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", out)
        list_command.write_snapshot_json(snapshot, chosen)
        out.flush()
    return out.buffer.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_a_real_host_is_written_natively_byte_for_byte(host: Snapshot, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {o.kind for o in host.objects} == set(KINDS)
    assert any(o.waiters for o in host.objects) or any(o.holders for o in host.objects)
    hostile = [o for o in host.objects if BAD in o.ref]
    assert len(hostile) == 2
    plan = objjson.compile_plan(*json_plan(), escape)
    namespaces: dict[int, object] = {}
    fallbacks: list[IpcObject] = []

    def fallback(obj: IpcObject) -> bytes:
        fallbacks.append(obj)
        return list_command._strict_dumps(obj.json_with(namespaces))

    native = objjson.encode(
        plan, host.objects, lambda ns: list_command._strict_dumps(namespace_json(ns, namespaces)), fallback
    )
    assert not fallbacks  # every real kind, record and namespace is in the plan
    assert native == list_command.dumps([o.to_json() for o in host.objects], few=True)[1:-1]
    shown = {o["ref"] for o in json.loads(b"[" + native + b"]")}
    assert {escape(o.ref) for o in hostile} <= shown and not any("\x1b" in ref for ref in shown)

    listing = _written(host, list(host.objects), monkeypatch)
    monkeypatch.setattr(list_command, "_native_plan", lambda: None)  # the twin: dicts, then orjson
    assert listing == _written(host, list(host.objects), monkeypatch)
    assert json.loads(listing)["objects"] == [o.to_json() for o in host.objects]
