"""The native writer of `list --json` writes the same bytes as its twin (each object's `json_with` dicts through the
stdlib's encoder, and orjson where orjson takes them): recorded hosts of every kind, and generated objects whose
every string is hostile (controls, C1, bidi, surrogateescape bytes, backslashes, quotes, non-BMP, lone surrogates),
whose ints pass 64 bits and whose values are of types the plan does not know (floats, str subclasses)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipcwatch.commands import list as list_command
from ipcwatch.native import objjson
from ipcwatch.record import replace
from ipcwatch.scan import KINDS, Holder, IpcObject, Waiter
from ipcwatch.scan.info import SemValue, WaitingClient, json_plan
from ipcwatch.scan.model import namespace_json
from ipcwatch.text import escape
from tests.tui_fixtures import NAMESPACES, namespaced_snapshot, recorded_snapshot, synthetic_snapshot

pytestmark = pytest.mark.skipif(
    objjson.IMPLEMENTATION != "c" and os.environ.get("IPCWATCH_REQUIRE_C") != "1", reason="the writer is not built"
)
PLAN = objjson.compile_plan(*json_plan(), escape)
HOSTILE = ["\x1b]0;pwned\x07", "\x9b2J", "\u202eevil", "\udcff\udc80", "a\\x1b", 'q"uote', "\U0001f600", "\ud800"]
HOSTILE += ["tab\there\n", "\x00\x7f", "caf\u00e9", "日本語", "\u2028", "\ufeff", "\\", '"', ""]


def test_the_native_writer_is_in_use_and_list_uses_it() -> None:
    """Built (IPCWATCH_REQUIRE_C=1 makes a missing build an error), the writer writes every `list --json`."""
    assert objjson.IMPLEMENTATION == "c" and PLAN is not None
    assert list_command._native_plan() is not None


def twin(chunk: Sequence[IpcObject]) -> bytes:
    """Today's path: each object's dicts, encoded by the stdlib's encoder as `list --json` does."""
    return list_command.dumps([o.to_json() for o in chunk], few=True)[1:-1]


def native(chunk: Sequence[IpcObject]) -> bytes:
    return list_command._chunk_writer(PLAN, few=True)(chunk)


def strict(chunk: Sequence[IpcObject], fallbacks: list[IpcObject]) -> bytes:
    """The compiled writer alone; the objects it left to its fallback in `fallbacks`."""
    namespaces: dict[int, object] = {}

    def fallback(obj: IpcObject) -> bytes:
        fallbacks.append(obj)
        return list_command._strict_dumps(obj.json_with(namespaces))

    return objjson.encode(PLAN, chunk, lambda ns: list_command._strict_dumps(namespace_json(ns, namespaces)), fallback)


@pytest.mark.parametrize("snapshot", [recorded_snapshot(), namespaced_snapshot(), synthetic_snapshot(2_000, 50)])
def test_recorded_hosts_are_written_natively_byte_for_byte(snapshot) -> None:
    fallbacks: list[IpcObject] = []
    written = strict(snapshot.objects, fallbacks)
    assert not fallbacks  # every kind, namespace, holder, waiter and record is in the plan
    assert written == twin(snapshot.objects)
    assert written == orjson.dumps([o.to_json() for o in snapshot.objects])[1:-1]
    assert json.loads(b"[" + written + b"]") == [o.to_json() for o in snapshot.objects]


def test_the_plan_writes_every_key_of_the_writers_in_their_order() -> None:
    """A key the writers gain and the plan does not know fails here (and in the byte comparisons)."""
    objects, records, infos = json_plan()
    samples = [Holder(1, "c", "u", 3, "rw", 5), Waiter(1, 2, "op"), SemValue(0, 1, 0, 0, 1), WaitingClient(7, ())]
    assert [(cls, [key for key, _, _ in ops]) for cls, ops in records] == [
        (type(r), list(r.to_json())) for r in samples
    ]
    plain = replace(recorded_snapshot().objects[0], info=None, removed_at_logout=None)
    assert [key for key, _, how in objects[0][1] if how not in ("info", "escaped_if_set")] == list(plain.to_json())
    assert len(infos) == len(KINDS)


# ---- generated objects ----

texts = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(st.characters(exclude_categories=()), max_size=12),  # every code point, lone surrogates too
    st.lists(st.sampled_from(HOSTILE), max_size=4).map("".join),
    st.from_regex(r"[ -~]{0,16}", fullmatch=True),  # printable ASCII: the writer's fast path
)
ints = st.one_of(st.integers(-(2**70), 2**70), st.integers(0, 2**64), st.integers(-(2**63), 2**63 - 1))
plain = st.one_of(st.none(), st.booleans(), ints)


class Shown(str):
    """A str subclass: json.dumps writes its characters, escape takes it."""


holders = st.builds(Holder, ints, texts, texts, st.one_of(st.none(), ints), texts, ints)
records = st.one_of(
    holders,
    st.builds(SemValue, ints, plain, plain, plain, plain),
    st.builds(WaitingClient, ints, st.lists(holders, max_size=2).map(tuple)),
)
values = st.one_of(
    plain,
    texts,
    texts.map(Shown),
    st.floats(allow_nan=False, allow_infinity=False),  # no plan writes a float: the object's fallback does
    st.sampled_from(NAMESPACES),
    st.lists(st.one_of(texts, records, plain), max_size=3).map(tuple),
    records,
)


@st.composite
def infos(draw: st.DrawFn) -> object:
    cls = draw(st.sampled_from([cls for cls, _ in json_plan()[2]]))
    return cls(*(draw(values) for _ in cls._fields))


objects = st.builds(
    IpcObject,
    ref=texts,
    kind=st.one_of(st.sampled_from(KINDS), texts),
    name=st.one_of(st.none(), texts),
    id=st.one_of(st.none(), ints),
    key=st.one_of(st.none(), ints),
    owner=texts,
    uid=st.one_of(st.none(), ints),
    mode=st.one_of(st.none(), ints),
    size=st.one_of(st.none(), ints),
    holders=st.lists(holders, max_size=3).map(tuple),
    stale=st.booleans(),
    stale_reason=st.one_of(st.none(), texts),
    identity=texts,
    info=st.one_of(st.none(), infos()),
    waiters=st.lists(st.builds(Waiter, ints, ints, texts), max_size=2).map(tuple),
    namespace=st.one_of(st.none(), st.sampled_from(NAMESPACES)),
    removed_at_logout=st.one_of(st.none(), texts),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(objects, min_size=1, max_size=6))
def test_hostile_objects_are_written_as_the_twin_writes_them(chunk: list[IpcObject]) -> None:
    written = native(chunk)
    assert written == twin(chunk)
    fallbacks: list[IpcObject] = []
    try:
        assert strict(chunk, fallbacks) == written
    except list_command._Refused:  # a lone surrogate json.dumps writes only with ensure_ascii: the twin wrote it
        assert any(not _encodable(o) for o in chunk)
    else:  # only what the plan cannot express went to the fallback
        assert [id(o) for o in fallbacks] == [id(o) for o in chunk if not _expressible(o)]
    try:
        fast = orjson.dumps([o.to_json() for o in chunk])[1:-1]
    except orjson.JSONEncodeError:  # a lone surrogate, an int past 64 bits: the stdlib writes those
        return
    if not any(isinstance(v, float) for o in chunk for v in _leaves(o.to_json())):  # orjson: 1e-05 as 1e-5
        assert written == fast


def _raw_in(value: object) -> list[object]:
    """The strings inside an info value written as they are (a holder's mode)."""
    if type(value) is tuple:
        return [v for item in value for v in _raw_in(item)]
    if isinstance(value, Holder):
        return [value.mode]
    return _raw_in(value.holders) if isinstance(value, WaitingClient) else []


def _encodable(obj: IpcObject) -> bool:
    """No lone surrogate in a string written as it is (no escape): json.dumps needs ensure_ascii for one."""
    raw = [obj.kind, obj.stale_reason, obj.identity, *_raw_in(obj.holders), *(w.op for w in obj.waiters)]
    raw += [v for value in obj.info or () for v in _raw_in(value)]
    return all(not isinstance(v, str) or not any("\ud800" <= c <= "\udfff" for c in v) for v in raw)


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    return [leaf for v in value for leaf in _leaves(v)] if isinstance(value, list) else [value]


def _expressible(obj: IpcObject) -> bool:
    """No float, no int beyond 64 bits, no lone surrogate written as it is: the plan writes it all."""
    odd = [v for v in _leaves(obj.to_json()) if isinstance(v, float) or (type(v) is int and not -(2**63) <= v < 2**63)]
    return _encodable(obj) and not odd


def test_an_object_the_plan_cannot_express_is_written_by_its_fallback() -> None:
    snapshot = recorded_snapshot()
    first = next(o for o in snapshot.objects if o.info is not None)
    odd = replace(first, info=first.info._replace(**{first.info._fields[0]: 1.5}))  # type: ignore[union-attr]
    fallbacks: list[IpcObject] = []
    chunk = [snapshot.objects[0], odd, snapshot.objects[1]]
    assert strict(chunk, fallbacks) == twin(chunk)
    assert fallbacks == [odd]


def test_a_lone_surrogate_in_an_unescaped_value_writes_its_chunk_as_the_stdlib_does() -> None:
    """`stale_reason` is written as it is: a lone surrogate there makes json.dumps escape the whole chunk's non-ASCII
    (ensure_ascii); the native writer hands such a chunk to the twin."""
    snapshot = recorded_snapshot()
    first = snapshot.objects[0]
    odd = replace(first, stale_reason="x\ud800", name="é")
    chunk = [odd, *snapshot.objects[1:4]]
    assert native(chunk) == twin(chunk)
    assert b"\\ud800" in native(chunk) and b"\\u00e9" in native(chunk)
