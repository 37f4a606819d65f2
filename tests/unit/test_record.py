"""ipcwatch.record: records that behave as frozen slotted dataclasses, and `list --json` without typing/dataclasses."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import subprocess
import sys

import pytest

from ipcwatch.record import MISSING, FrozenInstanceError, NamedTuple, field, fields, record, replace


@record
class Point:
    """A point."""

    x: int
    label: str = "p"
    tags: list[str] = field(default_factory=list, compare=False)

    def moved(self) -> Point:
        return replace(self, x=self.x + 1)


@dataclasses.dataclass(frozen=True, slots=True)
class DcPoint:  # the frozen slotted dataclass a record stands for
    x: int
    label: str = "p"
    tags: list[str] = dataclasses.field(default_factory=list, compare=False)


@record(frozen=False)
class Builder:
    count: int = 0
    seen: dict[str, int] = field(default_factory=dict)


@record(init=False)
class OwnInit:
    a: int
    b: int = 2

    def __init__(self, a: int, b: int = 2) -> None:
        _set_a(self, a * 10)
        _set_b(self, b)


_set_a, _set_b = (getattr(OwnInit, f.name).__set__ for f in fields(OwnInit))


def test_eq_hash_repr_match_args_as_the_frozen_dataclass() -> None:
    p, d = Point(1, "a", ["t"]), DcPoint(1, "a", ["t"])
    assert repr(p) == repr(d).replace("DcPoint", "Point") == "Point(x=1, label='a', tags=['t'])"
    assert p == Point(1, "a", ["other"])  # compare=False: left out of eq and hash
    assert p != Point(2, "a") and p != (1, "a") and p != DcPoint(1, "a")
    assert hash(p) == hash(d) == hash((1, "a"))
    assert Point.__match_args__ == DcPoint.__match_args__ == ("x", "label", "tags")
    match p:
        case Point(1, label):
            assert label == "a"
        case _:
            pytest.fail("no match")
    assert Point.__doc__ == "A point." and p.moved() == Point(2, "a")


def test_frozen_and_slotted() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.label  # type: ignore[misc]
    with pytest.raises(AttributeError):  # FrozenInstanceError is one, as dataclasses'
        p.other = 1  # type: ignore[attr-defined]
    assert Point.__slots__ == ("x", "label", "tags") and not hasattr(p, "__dict__")
    assert type(Point.__dict__["x"]).__name__ == "member_descriptor"  # a slot, not a class attribute


def test_defaults_and_default_factory() -> None:
    a, b = Point(1), Point(2)
    assert a.label == "p" and a.tags == [] and a.tags is not b.tags
    assert Point(1, tags=["x"]).tags == ["x"]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, nope=2)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="default_factory"):

        @record
        class Bad:
            items: list[int] = []  # the mistake refused


def test_mutable_builder_is_not_hashable() -> None:
    b = Builder()
    b.count += 1
    b.seen["a"] = 1
    assert b == Builder(1, {"a": 1}) and b != Builder()
    assert Builder.__hash__ is None and repr(b) == "Builder(count=1, seen={'a': 1})"
    assert Builder().seen is not Builder().seen


def test_fields_and_replace() -> None:
    names = [(f.name, f.default, f.default_factory, f.compare) for f in fields(Point)]
    assert names == [("x", MISSING, MISSING, True), ("label", "p", MISSING, True), ("tags", MISSING, list, False)]
    assert fields(Point(1)) == fields(Point)
    p = Point(1, "a", ["t"])
    q = replace(p, label="b")
    assert q == Point(1, "b") and q.tags is p.tags and p.label == "a"
    with pytest.raises(TypeError):
        replace(p, nope=1)
    with pytest.raises(TypeError):
        fields(object())


def test_init_false_keeps_the_class_init() -> None:
    o = OwnInit(1)
    assert (o.a, o.b) == (10, 2) and repr(o) == "OwnInit(a=10, b=2)" and hash(o) == hash((10, 2))
    assert replace(o, b=3) == OwnInit(10, 3)  # through the class's __init__, as dataclasses.replace
    with pytest.raises(FrozenInstanceError):
        o.a = 1  # type: ignore[misc]


def test_init_false_field_gets_its_factory() -> None:
    @record
    class Indexed:
        items: tuple[int, ...]
        index: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    i = Indexed((1,))
    assert i.index == {} and repr(i).endswith(".Indexed(items=(1,))") and i == Indexed((1,))  # the qualname
    with pytest.raises(ValueError, match="init=False"):
        replace(i, index={})


def test_copy_and_pickle() -> None:
    p = Point(1, "a", ["t"])
    assert copy.copy(p) == p and copy.deepcopy(p).tags == ["t"]
    assert pickle.loads(pickle.dumps(p)) == p


def test_slotted_methods_keep_zero_argument_super() -> None:
    class Base:
        def name(self) -> str:
            return "base"

    @record
    class Child(Base):
        x: int

        def name(self) -> str:
            return "child of " + super().name()

    assert Child(1).name() == "child of base"


def test_named_tuple_is_a_tuple_with_the_class_methods() -> None:
    class Hold(NamedTuple):
        """A hold."""

        pid: int
        fd: int | None = None

        @property
        def via(self) -> str:
            return "mapped" if self.fd is None else str(self.fd)

    h = Hold(1)
    assert h == (1, None) and h.via == "mapped" and Hold._fields == ("pid", "fd") and Hold.__doc__ == "A hold."
    assert tuple.__new__(Hold, (2, 3)).via == "3" and Hold(1, 4)._replace(fd=None) == h
    pid, fd = Hold(5, 6)
    assert (pid, fd) == (5, 6) and repr(h) == "Hold(pid=1, fd=None)" and Hold.__mro__[1:] == (tuple, object)


def _imported_by_list_json(modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a real `ipcwatch list --json` (this host's objects) has imported by its end."""
    probe = (
        "import sys, ipcwatch.cli\n"
        "try:\n"
        "    ipcwatch.cli.main(['list', '--json'])\n"
        "finally:\n"
        f"    sys.stderr.write(' '.join(m for m in {modules!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"}
    )
    assert out.returncode == 0 and out.stdout.startswith('{"objects":['), out.stderr
    return out.stderr.split()


def test_list_json_imports_no_dataclasses_or_inspect() -> None:
    assert _imported_by_list_json(("dataclasses", "inspect", "ast", "dis", "tokenize")) == []


def test_list_json_imports_no_typing() -> None:
    assert _imported_by_list_json(("typing",)) == []


def test_post_init_runs_after_the_fields_are_set() -> None:
    @record
    class Indexed:
        items: tuple[int, ...]
        index: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)

        def __post_init__(self) -> None:
            self.index.update((v, i) for i, v in enumerate(self.items))

    assert Indexed((5, 7)).index == {5: 0, 7: 1}
