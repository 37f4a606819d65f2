"""Frozen slotted records like dataclasses': importing dataclasses and typing cost ~45 ms of a 190 ms `list`; this
defines each record in ~0.3 ms (dataclasses: ~1 ms) and builds its instances faster.

    @record                       # frozen and slotted: eq, hash, repr, __match_args__ as a frozen dataclass's
    class Point:
        x: int
        y: int = 0
        tags: list[str] = field(default_factory=list)

`@record(frozen=False)` for a mutable builder (not hashable, as a dataclass with eq); `init=False` keeps the class's
own __init__; a `__post_init__` is called at the end of the generated one; `slots=False` for a class that needs an
instance __dict__ (a cached_property). `fields`, `replace` and `FrozenInstanceError` (an AttributeError) as in
dataclasses. Only what the project uses: no order, no kw_only, no InitVar. `NamedTuple` is typing's, built without
typing: `class Hold(NamedTuple):` makes a collections.namedtuple with the class's methods (typing's evaluates every
annotation, ~3x the cost).
"""

from __future__ import annotations

import collections
import reprlib
from collections.abc import Callable
from operator import attrgetter

TYPE_CHECKING = False  # typing is not imported at run time: what type checkers see, and no more
if TYPE_CHECKING:
    from typing import Any, TypeVar
    from typing import NamedTuple as NamedTuple

    T = TypeVar("T")

__all__ = ["MISSING", "Field", "FrozenInstanceError", "NamedTuple", "field", "fields", "record", "replace"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a field's default or default_factory when it has none


class FrozenInstanceError(AttributeError):
    """An attempt to set or delete a field of a frozen record."""


class Field:
    """One field of a record, as `fields` gives it (and `field` declares it)."""

    __slots__ = ("compare", "default", "default_factory", "init", "name", "repr", "type")

    def __init__(self, default: Any, default_factory: Any, init: bool, repr: bool, compare: bool) -> None:  # noqa: A002
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r}, default_factory={self.default_factory!r})"


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] = MISSING,
    init: bool = True,
    repr: bool = True,  # noqa: A002 - dataclasses' name
    compare: bool = True,
) -> Any:
    """A field with a mutable default (`default_factory`), or left out of __init__, repr or eq/hash."""
    return Field(default, default_factory, init, repr, compare)


def fields(record_or_class: Any) -> tuple[Field, ...]:
    """The fields of a record class or instance, in order (base classes' first)."""
    try:
        found: tuple[Field, ...] = record_or_class.__record_fields__
    except AttributeError:
        raise TypeError("must be called with a record class or instance") from None
    return found


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the record `obj` with `changes` (built by its class's __init__, as dataclasses.replace)."""
    cls = obj.__class__
    for f in cls.__record_fields__:  # type: ignore[attr-defined]
        if not f.init:
            if f.name in changes:
                raise ValueError(f"field {f.name} is declared with init=False, it cannot be specified with replace()")
        elif f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return cls(**changes)  # type: ignore[no-any-return]


def record(
    cls: type[T] | None = None, /, *, frozen: bool = True, init: bool = True, slots: bool = True
) -> Any:
    """The class as a record: __init__ (unless `init` is False or the class has one), __repr__, __eq__, __hash__
    (frozen) or none (mutable), __match_args__, and for a frozen one a __setattr__/__delattr__ that refuse. Methods
    the class defines are kept, as dataclasses keeps them."""

    def wrap(cls: type[T]) -> type[T]:
        return _build(cls, frozen, init, slots)

    return wrap if cls is None else wrap(cls)


def _own_fields(cls: type) -> list[Field]:
    """The fields the class body declares: its annotations but ClassVars, each with its default."""
    own = []
    for name, kind in cls.__dict__.get("__annotations__", {}).items():
        text = kind if isinstance(kind, str) else getattr(kind, "__name__", "")
        if text.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(value, MISSING, True, True, True)
        if f.default.__class__.__hash__ is None:  # list, dict, set: shared by every instance
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: use default_factory")
        f.name, f.type = name, kind
        own.append(f)
    return own


def _build(cls: type[T], frozen: bool, init: bool, slots: bool) -> type[T]:
    inherited: dict[str, Field] = {}
    for base in cls.__mro__[-1:0:-1]:
        inherited.update((f.name, f) for f in base.__dict__.get("__record_fields__", ()))
    own = _own_fields(cls)
    all_fields = tuple({**inherited, **{f.name: f for f in own}}.values())
    if slots:
        cls = _slotted(cls, own)
    else:
        for f in own:  # as a dataclass: the default stays a class attribute, a field() goes
            if isinstance(cls.__dict__.get(f.name), Field):
                delattr(cls, f.name) if f.default is MISSING else setattr(cls, f.name, f.default)
    cls.__record_fields__ = all_fields  # type: ignore[attr-defined]
    body = cls.__dict__
    if init and "__init__" not in body:
        cls.__init__ = _init(cls, all_fields, frozen, slots)  # type: ignore[misc]
    compared = tuple(f.name for f in all_fields if f.compare)
    key = _getter(compared)
    shown = tuple(f.name for f in all_fields if f.repr)
    methods: dict[str, Any] = {"__repr__": _repr(_getter(shown), shown), "__eq__": _eq(key)}
    if "__hash__" not in body or body["__hash__"] is None and "__eq__" in body:  # no hash of its own
        methods["__hash__"] = _hash(key) if frozen else None
    if "__match_args__" not in body:
        methods["__match_args__"] = tuple(f.name for f in all_fields if f.init)
    for name, method in methods.items():
        if name == "__hash__" or name not in body:
            setattr(cls, name, method)
    if frozen:
        names = frozenset(f.name for f in all_fields)
        cls.__setattr__, cls.__delattr__ = _frozen(cls, names)  # type: ignore[assignment,method-assign]
        if slots and "__getstate__" not in body:
            cls.__getstate__, cls.__setstate__ = _state(tuple(f.name for f in all_fields))  # type: ignore[attr-defined]
    return cls


def _slotted(cls: type[T], own: list[Field]) -> type[T]:
    """The class made again with a slot per field (as dataclasses does: __slots__ works only at class creation)."""
    body = dict(cls.__dict__)
    inherited = {s for base in cls.__mro__[1:] for s in base.__dict__.get("__slots__", ())}
    body["__slots__"] = tuple(f.name for f in own if f.name not in inherited)
    for name in (*(f.name for f in own), "__dict__", "__weakref__"):
        body.pop(name, None)
    new: type[T] = type(cls)(cls.__name__, cls.__bases__, body)
    new.__qualname__ = cls.__qualname__
    for value in body.values():  # zero-argument super() and __class__ in methods: the new class
        closure = getattr(value, "__closure__", None)
        if closure and "__class__" in value.__code__.co_freevars:
            cell = closure[value.__code__.co_freevars.index("__class__")]
            if cell.cell_contents is cls:
                cell.cell_contents = new
    return new


class _HasFactory:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _HasFactory()


def _init(cls: type, all_fields: tuple[Field, ...], frozen: bool, slots: bool) -> Callable[..., None]:
    """The __init__ of a record: one exec per class. A frozen slotted record stores each field through its slot's
    descriptor (2x faster than dataclasses' object.__setattr__), a mutable one by assignment."""
    scope: dict[str, Any] = {"_HAS_FACTORY": _HAS_FACTORY, "_set": object.__setattr__}
    params, lines, defaulted = ["self"], [], False
    for i, f in enumerate(all_fields):
        value = f.name
        if f.default_factory is not MISSING:
            scope[f"_f{i}"] = f.default_factory
            if f.init:
                params.append(f"{f.name}=_HAS_FACTORY")
                defaulted = True
                value = f"_f{i}() if {f.name} is _HAS_FACTORY else {f.name}"
            else:
                value = f"_f{i}()"
        elif f.init:
            if f.default is not MISSING:
                scope[f"_d{i}"] = f.default
                params.append(f"{f.name}=_d{i}")
                defaulted = True
            elif defaulted:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            else:
                params.append(f.name)
        elif f.default is not MISSING:
            scope[f"_d{i}"] = f.default
            value = f"_d{i}"
        else:
            continue  # init=False, no default: left unset, as dataclasses leaves it
        if frozen and slots:
            scope[f"_s{i}"] = getattr(cls, f.name).__set__
            lines.append(f"  _s{i}(self, {value})")
        elif frozen:
            lines.append(f"  _set(self, {f.name!r}, {value})")
        else:
            lines.append(f"  self.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):  # called last, as dataclasses calls it
        lines.append("  self.__post_init__()")
    names = ", ".join(scope)
    text = f"def _make({names}):\n def __init__({', '.join(params)}):\n" + ("\n".join(lines) or "  pass")
    text += "\n return __init__\n"
    exec(text, {}, scope)  # noqa: S102 - generated from the class's own field names, as dataclasses does
    made: Callable[..., None] = scope["_make"](*(scope[n] for n in names.split(", ")))
    made.__qualname__ = f"{cls.__qualname__}.__init__"
    return made


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The field values named, as a tuple (attrgetter gives a bare value for one name)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _repr(values: Callable[[Any], tuple[Any, ...]], names: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(names, values(self), strict=True))
        return f"{self.__class__.__qualname__}({inner})"

    return __repr__


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__


def _frozen(cls: type, names: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__


def _state(names: tuple[str, ...]) -> tuple[Callable[..., Any], Callable[..., None]]:
    """Pickling and copying of a frozen slotted record (its __setattr__ refuses what they do by default)."""

    def __getstate__(self: Any) -> list[Any]:
        return [getattr(self, name) for name in names]

    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=True):
            object.__setattr__(self, name, value)

    return __getstate__, __setstate__


class _NamedTupleMeta(type):
    """Makes `class X(NamedTuple): ...` a collections.namedtuple with the body's methods, as typing's does."""

    def __new__(mcs, name: str, bases: tuple[type, ...], body: dict[str, Any]) -> Any:  # noqa: N804
        names = tuple(body.get("__annotations__", {}))
        defaults = [body[n] for n in names if n in body]
        if defaults and any(n not in body for n in names[len(names) - len(defaults) :]):
            raise TypeError(f"{name}: a field without a default follows one with a default")
        made = collections.namedtuple(name, names, defaults=defaults, module=body.get("__module__"))  # noqa: PYI024
        for key, value in body.items():
            if key not in names and key not in _NAMEDTUPLE_OWN:
                setattr(made, key, value)
        made.__annotations__ = body.get("__annotations__", {})
        made.__qualname__ = body.get("__qualname__", name)
        return made


_NAMEDTUPLE_OWN = frozenset(("__module__", "__qualname__", "__annotations__", "__slots__", "__orig_bases__"))


_NamedTupleBase = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})


def _named_tuple(*args: Any, **kwargs: Any) -> Any:
    raise TypeError("use `class Name(NamedTuple):` with annotated fields")


_named_tuple.__mro_entries__ = lambda bases: (_NamedTupleBase,)  # type: ignore[attr-defined]

if not TYPE_CHECKING:
    NamedTuple = _named_tuple
