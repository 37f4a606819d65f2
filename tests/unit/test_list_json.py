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
from ipcwatch.record import replace
from ipcwatch.scan.model import ScanError, Snapshot
from ipcwatch.scan.namespaces import Namespace
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


PLAIN = [
    {"a": 1, "b": [1, 2.5, 1e-05, 1e16, -0.0, 0.1, 1.7976931348623157e308], "c": None, "d": True, "e": False},
    {"notes": HOSTILE[:-1], "raw": '\x00\x1f\x7f"\\\n\r\t\b\f', "big": 1 << 70, "nested": [[], {}, ("a", 2)]},
    "",
    -7,
]


@pytest.mark.parametrize("data", PLAIN)
def test_plain_data_is_written_as_the_stdlib_writes_it(data: object) -> None:
    def refused(_data: object) -> bytes:
        raise AssertionError("plain data needs no fallback")

    assert list_command._plain_dumps(data, refused) == list_command._strict_dumps(data)


@pytest.mark.parametrize("data", [float("nan"), {"inf": float("-inf")}, {1: "int key"}, [object()], {"lone": "\ud800"}])
def test_what_is_not_plain_data_goes_to_the_fallback(data: object) -> None:
    assert list_command._plain_dumps(data, lambda d: b"fallback") == b"fallback"


def _with_namespaces(objects: int) -> Snapshot:
    """A snapshot whose objects live in two namespaces, with hostile notes, errors and pins."""
    base = synthetic_snapshot(objects, 20)
    host = Namespace("ipc", 4, 4026531839, (1, 2, 3), 1, True, limits={"msgmni": 32000})
    other = Namespace("ipc", 4, 4026532251, (), None, False, pinned_by=tuple(HOSTILE[:-1]))
    placed = tuple(replace(o, namespace=(host, other)[i % 2]) for i, o in enumerate(base.objects))
    errors = tuple(ScanError(s, s) for s in HOSTILE)
    return replace(base, objects=placed, namespaces=(host, other), notes=tuple(HOSTILE), errors=errors)


def test_a_listing_in_namespaces_is_the_snapshots_json(writer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = _with_namespaces(FEW + 1)
    assert _written(snapshot, monkeypatch) == dumps(snapshot.to_json()) + b"\n"


def test_the_native_writer_never_imports_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its objects, their namespaces and the document's tail are written without the stdlib's encoder."""
    if objjson.IMPLEMENTATION != "c":
        pytest.skip("the native writer is not built")
    snapshot = _with_namespaces(50)
    snapshot = replace(snapshot, notes=snapshot.notes[:-1], errors=snapshot.errors[:-1])  # no lone surrogate
    expected = dumps(snapshot.to_json(), few=True) + b"\n"
    monkeypatch.setitem(sys.modules, "json", None)  # importing it fails from now on
    assert _written(snapshot, monkeypatch) == expected
