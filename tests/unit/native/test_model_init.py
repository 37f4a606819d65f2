"""IpcObject's compiled __init__ (ipcwatch.native._model) builds what its twin, the hand-written __init__, builds:
every call (positional, keyword, defaults), every wrong call (the same TypeError, word for word), the same objects
(equal, hashed, replaced, pickled, copied, frozen), and holds each value exactly once (no leak, a re-init releases
the previous values)."""

from __future__ import annotations

import copy
import os
import pickle
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipcwatch import record
from ipcwatch.kinds import Kind
from ipcwatch.native import model_init
from ipcwatch.scan import model
from ipcwatch.scan.model import Holder, IpcObject
from tests.native_loader import without_helper

pytestmark = pytest.mark.skipif(
    model_init.IMPLEMENTATION != "c" and os.environ.get("IPCWATCH_REQUIRE_C") != "1", reason="the helper is not built"
)
NAMES = [f.name for f in record.fields(IpcObject)]
REQUIRED = 13  # the fields without a default
ARGS = ("sysv-shm:7", Kind.SYSV_SHM, None, 7, 0x1234, "root", 0, 0o600, 4096)
ARGS += ((Holder(1, "init", "root", None, "rw", 5),), False, None, "sysv-shm:7")


def twin(*args: Any, **kwargs: Any) -> IpcObject:
    """An IpcObject built by the hand-written __init__."""
    obj = IpcObject.__new__(IpcObject)
    model._init_twin(obj, *args, **kwargs)
    return obj


def outcome(build: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """("ok", the slots' values) or ("error", the exception's type and message)."""
    try:
        obj = build(*args, **kwargs)
    except Exception as e:  # compared, whatever it is
        return "error", (type(e), str(e))
    return "ok", [getattr(obj, name) for name in NAMES]


def test_the_compiled_init_is_in_use() -> None:
    """Built (IPCWATCH_REQUIRE_C=1 makes a missing build an error), `IpcObject(...)` calls the compiled one."""
    assert model_init.IMPLEMENTATION == "c"
    assert type(IpcObject.__dict__["__init__"]).__name__ == "wrapper_descriptor"
    assert IpcObject.__init__ is not model._init_twin


def test_the_same_objects_positional_keyword_and_defaults() -> None:
    values = dict(zip(NAMES, ARGS, strict=False))
    extra = {"info": None, "waiters": (model.Waiter(1, 2, "semop"),), "namespace": None, "removed_at_logout": "u"}
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (ARGS, {}),
        ((), values),
        (ARGS[:5], {k: values[k] for k in NAMES[5:REQUIRED]}),
        ((*ARGS, *extra.values()), {}),
        (ARGS, extra),
        (ARGS, {"removed_at_logout": "u"}),
    ]
    for args, kwargs in calls:
        built, twins = IpcObject(*args, **kwargs), twin(*args, **kwargs)
        assert [getattr(built, n) for n in NAMES] == [getattr(twins, n) for n in NAMES]
        assert all(getattr(built, n) is getattr(twins, n) for n in NAMES)  # the very values, defaults too
        assert built == twins and hash(built) == hash(twins) and repr(built) == repr(twins)
        assert pickle.loads(pickle.dumps(built)) == built and copy.copy(built) == copy.deepcopy(built) == built
        changed = record.replace(built, size=1, waiters=())
        assert changed == record.replace(twins, size=1, waiters=()) and changed.size == 1 and changed != built
        with pytest.raises(record.FrozenInstanceError):
            built.size = 1  # type: ignore[misc]
        assert built.to_json() == twins.to_json()


WRONG_CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    (ARGS[:12], {}),
    (ARGS[:11], {"identity": "x"}),
    (ARGS[:1], {}),
    ((*ARGS, None, (), None, None, "one too many"), {}),
    ((*ARGS, None, (), None, None, 1, 2), {"size": 1}),
    (ARGS, {"sise": 1}),
    (ARGS, {"self": 1}),
    (ARGS, {"ref": "again"}),
    ((*ARGS, None), {"info": None}),
    ((), {"removed_at_logout": None}),
]


@pytest.mark.parametrize(("args", "kwargs"), WRONG_CALLS)
def test_wrong_calls_raise_the_same_type_error(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    built, twins = outcome(IpcObject, *args, **kwargs), outcome(twin, *args, **kwargs)
    assert built == twins and built[0] == "error" and built[1][0] is TypeError


VALUES = st.one_of(st.none(), st.integers(), st.text(), st.booleans(), st.tuples(st.integers()), st.builds(object))


@st.composite
def calls(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any]]:
    """Some arguments positionally, some of the rest by keyword, now and then a wrong one (too many, a name given
    twice, self, an unknown name)."""
    values = draw(st.lists(VALUES, min_size=len(NAMES) + 3, max_size=len(NAMES) + 3))
    given = draw(st.integers(0, len(NAMES) + 3))
    keys = [n for n in NAMES[given:] if draw(st.integers(0, 4))]  # most of the rest
    keys += draw(st.lists(st.sampled_from([*NAMES, "self", "bogus", "Ref"]), max_size=draw(st.integers(0, 1))))
    return values[:given], {key: values[i % len(values)] for i, key in enumerate(keys)}


@given(calls())
def test_any_call_is_bound_as_the_twin_binds_it(call: tuple[list[Any], dict[str, Any]]) -> None:
    args, kwargs = call
    assert outcome(IpcObject, *args, **kwargs) == outcome(twin, *args, **kwargs)


def test_each_value_is_held_once_per_object_and_released_with_it() -> None:
    values = [object() for _ in NAMES]
    before = [sys.getrefcount(v) for v in values]
    objects = [IpcObject(*values) for _ in range(1000)]
    objects += [IpcObject(**dict(zip(NAMES, values, strict=True))) for _ in range(1000)]
    assert [sys.getrefcount(v) for v in values] == [b + 2000 for b in before]
    del objects
    assert [sys.getrefcount(v) for v in values] == before
    for _ in range(1000):  # a wrong call holds nothing
        with pytest.raises(TypeError):
            IpcObject(*values, unknown=1)
    assert [sys.getrefcount(v) for v in values] == before


def test_a_re_init_replaces_every_value_and_releases_the_previous_ones() -> None:
    first, second = [object() for _ in NAMES], [object() for _ in NAMES]
    obj = IpcObject(*first)
    held = [sys.getrefcount(v) for v in first]
    IpcObject.__init__(obj, *second[:REQUIRED])
    assert [getattr(obj, n) for n in NAMES[:REQUIRED]] == second[:REQUIRED]
    assert [getattr(obj, n) for n in NAMES[REQUIRED:]] == list(model._init_twin.__defaults__ or ())
    assert [sys.getrefcount(v) for v in first] == [h - 1 for h in held]
    with pytest.raises(TypeError):  # a wrong re-init changes nothing
        IpcObject.__init__(obj, *first, bogus=1)
    assert [getattr(obj, n) for n in NAMES[:REQUIRED]] == second[:REQUIRED]


def test_the_twin_must_name_slots_with_plain_parameters() -> None:
    @record.record(frozen=False)
    class Plain:
        a: int
        b: int

    def kw_only(self: Plain, a: int, *, b: int) -> None: ...

    def not_a_slot(self: Plain, a: int, c: int) -> None: ...

    with pytest.raises(ValueError, match="positional-or-keyword"):
        model_init.compiled_init(Plain, kw_only)
    with pytest.raises(TypeError, match="'c' is not a slot"):
        model_init.compiled_init(Plain, not_a_slot)


@pytest.mark.parametrize(("require", "expected"), [("0", "twin"), ("1", "ImportError")])
def test_without_the_helper_the_twin_is_used_unless_required(require: str, expected: str) -> None:
    """The helper missing: IpcObject keeps its hand-written __init__, or (IPCWATCH_REQUIRE_C=1) the import fails."""
    code = "from ipcwatch.scan import model\nprint('twin' if model.IpcObject.__init__ is model._init_twin else 'c')"
    assert without_helper("_model", code, require) == expected
