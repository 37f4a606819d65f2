"""The JSON writers of `list --json` (the native writer; without it orjson for big listings, the stdlib's encoder for
a few objects) write the same bytes for the documents ipcwatch writes."""

from __future__ import annotations

import io
import json
import sys
import time

import pytest

from ipcwatch.commands import list as list_command
from ipcwatch.commands.list import FEW, dumps, write_snapshot_json
from ipcwatch.native import objjson
from ipcwatch.scan.model import Snapshot
from ipcwatch.text import escape
from tests.tui_fixtures import synthetic_snapshot

HOSTILE = ["plain", "\x1b]0;pwned\x07", "a\\x1b", "tab\there", "\u202eevil", "日本語", "caf\u00e9", "\x9b2J", "é\udcff"]


def test_both_encoders_write_the_same_bytes_for_a_listing() -> None:
    snapshot = synthetic_snapshot(300, 40)
    doc = snapshot.to_json()
    doc["taken_at"], doc["duration"] = time.time(), 0.0123
    doc["notes"] = [escape(s) for s in HOSTILE]
    doc["objects"][0]["name"] = escape("".join(HOSTILE))
    assert dumps(doc) == dumps(doc, few=True)
    assert json.loads(dumps(doc, few=True)) == json.loads(dumps(doc))


def test_values_orjson_refuses_are_still_written() -> None:
    doc = {"big": 1 << 70, "name": "caf\u00e9", "lone": "\ud800"}
    for few in (False, True):
        assert json.loads(dumps(doc, few=few)) == doc


@pytest.fixture(params=["c", "python"])
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`list --json` with the native writer ("c"), or with the twin that encodes each object's dicts ("python")."""
    if request.param == "c" and objjson.IMPLEMENTATION != "c":
        pytest.skip("the native writer is not built")
    if request.param == "python":
        monkeypatch.setattr(list_command, "_native_plan", lambda: None)
    return str(request.param)


def _written(snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch) -> bytes:
    out = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", out)
    write_snapshot_json(snapshot, snapshot.objects)
    out.flush()
    return out.buffer.getvalue()  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("objects", [3, FEW, FEW + 1, 2_500])
def test_a_streamed_listing_is_the_snapshots_json(objects: int, writer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot: Snapshot = synthetic_snapshot(objects, 20)
    written = _written(snapshot, monkeypatch)
    assert written.endswith(b"\n") and json.loads(written) == json.loads(dumps(snapshot.to_json()))
    assert written == dumps(snapshot.to_json()) + b"\n"


def test_a_few_objects_are_written_without_orjson(writer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin imports orjson past FEW objects; the native writer never does."""
    monkeypatch.setitem(sys.modules, "orjson", None)  # importing it fails from now on
    few = synthetic_snapshot(FEW, 20)
    assert json.loads(_written(few, monkeypatch))["objects"] == json.loads(dumps(few.to_json(), few=True))["objects"]
    many = synthetic_snapshot(FEW + 1, 20)
    if writer == "c":
        assert len(json.loads(_written(many, monkeypatch))["objects"]) == FEW + 1
    else:
        with pytest.raises(ImportError):
            _written(many, monkeypatch)
