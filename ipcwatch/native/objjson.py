"""The object list of `list --json` written straight to JSON bytes by the compiled helper `_objjson`, following a
plan: which fields of which record classes, under which keys, converted how. Without the helper `compile_plan`
returns None and the caller builds each object's dicts and encodes them (`IpcObject.json_with`: the twin).

    plan = compile_plan(objects, records, infos, escape)   # once; scan.info.json_plan() says what to write
    encode(plan, chunk, namespace, fallback)                # b'{...},{...}': what json.dumps writes for the chunk

A table is a tuple of (class, ((key, field, how), ...)); `how` is one of HOWS:
    as_is            None, bools and ints as they are; a str as it is (no ipcwatch escaping)
    escaped          a str through `escape`          escaped_or_null  None, else escaped
    perms            "0644" from a mode (null for None)
    records          a tuple of records (the `records` table), as a list
    namespace        null, or `namespace(ns)`'s bytes
    info             the record's values joined to its object's (the `infos` table); nothing for None
    escaped_if_set   the key and the escaped str, nothing at all for None
    value            `model.json_value`: plain values, escaped strings, tuples as lists, records, namespaces
Strings are written as json.dumps(ensure_ascii=False) writes them: a str escaped or not as `how` says, then `"`,
`\\` and controls JSON-escaped, the rest as UTF-8. What the plan cannot express (a float, an int past 64 bits, a
lone surrogate written as it is, a value of a class no table has) is written by `fallback(obj)` for that object: a
listing is never wrong, only slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ipcwatch.native.compiled import compiled

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

HOWS = ("as_is", "escaped", "escaped_or_null", "perms", "records", "namespace", "info", "escaped_if_set", "value")
Table = Sequence[tuple[type, Sequence[tuple[str, str, str]]]]

_c = compiled("_objjson")
IMPLEMENTATION = "c" if _c else "python"


def _resolved(table: Table, role: int) -> tuple[tuple[type, int, tuple[tuple[bytes, Any, int], ...]], ...]:
    """A table as the compiled writer reads it: each key as its bytes `,"key":`, each field as a NamedTuple's item
    index or a slotted class's member descriptor, each `how` as its index in HOWS."""
    out = []
    for cls, ops in table:
        names: tuple[str, ...] | None = getattr(cls, "_fields", None)
        resolved = []
        for key, name, how in ops:
            if not (key.isascii() and key.isprintable() and '"' not in key and "\\" not in key):
                raise ValueError(f"a key must be printable ASCII without quotes or backslashes: {key!r}")
            field = cls.__dict__[name] if names is None else names.index(name)
            resolved.append((f',"{key}":'.encode(), field, HOWS.index(how)))
        out.append((cls, role, tuple(resolved)))
    return tuple(out)


def compile_plan(objects: Table, records: Table, infos: Table, escape: Callable[[str], str]) -> object | None:
    """The compiled plan, None when the helper was not built. `objects`: the listed objects' classes; `records`: the
    classes written as their own JSON object (a holder); `infos`: those whose values join their object's."""
    if _c is None:
        return None
    return _c.plan(_resolved(objects, 0) + _resolved(records, 1) + _resolved(infos, 2), escape)


def encode(
    plan: object, objects: Sequence[Any], namespace: Callable[[Any], bytes], fallback: Callable[[Any], bytes]
) -> bytes:
    """The objects' JSON, comma-separated, as json.dumps(ensure_ascii=False) writes each (see _objjson.c)."""
    assert _c is not None, "compile_plan returned a plan: the helper is built"
    return _c.encode(plan, objects, namespace, fallback)


__all__ = ["HOWS", "IMPLEMENTATION", "Table", "compile_plan", "encode"]
