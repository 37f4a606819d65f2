"""`ipcwatch list`: every IPC object as tables per kind, or JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from functools import cache
from operator import attrgetter

from ipcwatch.scan import KIND_TITLES, KINDS, IpcObject, ScanConfig, Snapshot, scan
from ipcwatch.scan.info import json_plan
from ipcwatch.scan.model import namespace_json
from ipcwatch.scan.nsfilter import ALL, HOST, select, unknown
from ipcwatch.text import escape

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any


def _kinds(values: list[str] | None) -> frozenset[str]:
    if not values:
        return frozenset(KINDS)
    chosen = {k.strip() for v in values for k in v.split(",") if k.strip()}
    unknown = chosen - set(KINDS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise argparse.ArgumentTypeError(f"unknown kind(s): {names}; choose from {', '.join(KINDS)}")
    return frozenset(chosen)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list IPC objects (tables per kind, or --json)",
        description="List every IPC object with its holders and a stale verdict.",
    )
    p.add_argument(
        "--kind",
        action="append",
        metavar="KIND",
        help=f"only these kinds (repeat or comma-separate): {', '.join(KINDS)}",
    )
    p.add_argument("--stale", action="store_true", help="only objects that look abandoned")
    add_namespace_option(p)
    p.add_argument("--json", action="store_true", help='machine-readable: {"objects": [...], "errors": [...]}')
    p.set_defaults(func=run)


def add_namespace_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--namespace",
        default=ALL,
        metavar="NS",
        help="only objects in: host, all (default), a container's name or id prefix, or a namespace (ipc:INODE)",
    )


# Up to this many objects the twin (no native writer) writes a listing by the stdlib's encoder: importing orjson (uuid,
# platform, datetime) costs ~5 ms of start-up, more than the stdlib takes to encode a few hundred objects (an idle
# host lists ~100). The native writer writes the stdlib's bytes at any size and never imports orjson.
FEW = 500


def dumps(data: Any, *, few: bool = False) -> bytes:
    """Compact JSON in UTF-8: orjson (~15x faster than the stdlib's encoder), or the stdlib's when `few` values are
    written. Both are imported here, when JSON is written: the tables never pay for them. The two give the same
    bytes for the documents ipcwatch writes (strings escaped by `text.escape`, ints, bools, None; floats below
    1e-4 would differ in notation only: `1e-05` against `0.00001`); tests/unit/test_list_json.py compares them."""
    if few:
        return _stdlib_dumps(data)
    import orjson  # noqa: PLC0415 - only JSON output needs it

    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        # What orjson refuses and the stdlib writes (a lone surrogate that was not escaped, an int over 64 bits):
        # never lose the whole listing for it.
        return _stdlib_dumps(data)


def _stdlib_dumps(data: Any) -> bytes:
    try:
        return _strict_dumps(data)
    except _Refused:  # a lone surrogate: written as its \u escape
        import json  # noqa: PLC0415 - as `_strict_dumps`

        return json.dumps(data, separators=(",", ":")).encode()


class _Refused(Exception):
    """A value json.dumps writes only with ensure_ascii (a lone surrogate): its whole chunk is written that way."""


def _strict_dumps(data: Any) -> bytes:
    """The stdlib's encoder, non-ASCII as UTF-8: what the native writer writes, and all it writes."""
    import json  # noqa: PLC0415 - small documents, the native writer's odd objects, the values orjson refuses

    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise _Refused from exc


class _Unplain(Exception):
    """A value `_plain_dumps` does not write: the stdlib's encoder writes it."""


# How json.dumps(ensure_ascii=False) writes the characters it escapes: `"`, `\\` and the controls below 0x20.
_INFINITIES = (float("inf"), float("-inf"))
_ESCAPES = {c: f"\\u{c:04x}" for c in range(0x20)} | {
    ord(c): "\\" + e for c, e in zip('"\\\n\r\t\b\f', '"\\nrtbf', strict=True)
}


def _plain_text(value: Any) -> str:
    """`value` as json.dumps(separators=(",", ":"), ensure_ascii=False) writes it, for plain data: dicts with str
    keys, lists, tuples, strs, ints, bools, None and finite floats (anything else raises _Unplain)."""
    if value is None or value is True or value is False:
        return "null" if value is None else "true" if value else "false"
    cls = value.__class__
    if cls is int:
        return repr(value)
    if cls is float:
        if value != value or value in _INFINITIES:  # NaN, Infinity: never in a document
            raise _Unplain
        return repr(value)
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPES) + '"'
    if cls is list or cls is tuple:
        return "[" + ",".join([_plain_text(v) for v in value]) + "]"
    if cls is dict and all(isinstance(k, str) for k in value):
        return "{" + ",".join([_plain_text(k) + ":" + _plain_text(v) for k, v in value.items()]) + "}"
    raise _Unplain


def _plain_dumps(data: Any, otherwise: Callable[[Any], bytes]) -> bytes:
    """`_strict_dumps(data)` for plain data (`_plain_text`) without importing json (~1.5 ms of a listing's start-up):
    the tail of `list --json` and each namespace's brief JSON. Anything else is `otherwise(data)`'s."""
    try:
        return _plain_text(data).encode()
    except (_Unplain, UnicodeEncodeError):  # a lone surrogate: the stdlib's encoder decides how it is written
        return otherwise(data)


def write_json(data: Any, *, few: bool = False) -> None:
    """One JSON document and a newline on stdout."""
    sys.stdout.flush()
    sys.stdout.buffer.write(dumps(data, few=few) + b"\n")


_CHUNK = 1024  # objects encoded per call: the document is never whole in memory (45,000 objects: ~70 MB as dicts)
_OBJECTS_FIRST = b'{"objects":[]'


@cache
def _native_plan() -> object | None:
    """The native writer's plan of an object's JSON, None when it was not built (then the dicts are encoded)."""
    # Imported when JSON is written: the tables (and the commands that import this module) never load the helper.
    from ipcwatch.native.objjson import compile_plan  # noqa: PLC0415

    return compile_plan(*json_plan(), escape)


def _chunk_writer(plan: object | None, few: bool) -> Callable[[Sequence[IpcObject]], bytes]:
    """A chunk of objects as their JSON, comma-separated: by the native writer when it was built (the stdlib
    encoder's bytes; an object its plan cannot express through its own json_with, a chunk with a lone surrogate
    through the twin), else each object's dicts encoded by `dumps` (the twin)."""
    namespaces: dict[int, Any] = {}  # each namespace's JSON, built once (objects_json)

    def encoded(chunk: Sequence[IpcObject]) -> bytes:
        return dumps([o.json_with(namespaces) for o in chunk], few=few)[1:-1]

    if plan is None:
        return encoded
    from ipcwatch.native.objjson import encode  # noqa: PLC0415 - as `_native_plan`

    def native(chunk: Sequence[IpcObject]) -> bytes:
        try:
            return encode(
                plan, chunk, lambda ns: _plain_dumps(namespace_json(ns, namespaces), _strict_dumps),
                lambda obj: _strict_dumps(obj.json_with(namespaces)),
            )  # fmt: skip
        except _Refused:
            return encoded(chunk)

    return native


def write_snapshot_json(snapshot: Snapshot, objects: Sequence[IpcObject]) -> None:
    """`snapshot.to_json(objects)` and a newline on stdout, written as it is encoded, a chunk of objects at a time.
    The native writer writes the stdlib encoder's bytes, so its listings never import orjson (`few`)."""
    plan = _native_plan()
    few = plan is not None or len(objects) <= FEW
    tail = snapshot.to_json([])
    rest = _plain_dumps(tail, _stdlib_dumps) if plan is not None else dumps(tail, few=few)
    if not rest.startswith(_OBJECTS_FIRST):  # "objects" is no longer the first key: no streaming, same document
        write_json(snapshot.to_json(objects), few=few)
        return
    out = sys.stdout.buffer
    sys.stdout.flush()
    out.write(_OBJECTS_FIRST[:-1])
    write = _chunk_writer(plan, few)
    for start in range(0, len(objects), _CHUNK):
        chunk = write(objects[start : start + _CHUNK])
        out.write(chunk if start == 0 else b"," + chunk)
    out.write(b"]" + rest[len(_OBJECTS_FIRST) :] + b"\n")


def print_tables(chosen: list[IpcObject], kinds: frozenset[str], stale_only: bool, *, host: bool = True) -> None:
    """Tables per kind; objects of other namespaces than the host's in a section per namespace after them. The host's
    section is there even empty (each asked kind's title says "0 object(s)") unless `host` is False: a selection
    (`--namespace`) that leaves the host out."""
    sections: dict[str, dict[str, list[IpcObject]]] = {"": {}} if host else {}
    for obj in chosen:
        ns = obj.namespace
        label = "" if ns is None or ns.host else f"{ns.label} ({ns.tag})" if ns.label != ns.tag else ns.tag
        by_kind = sections.setdefault(label, {})  # a section even when none of its objects is stale
        if obj.stale or not stale_only:
            by_kind.setdefault(obj.kind, []).append(obj)
    for label, by_kind in sorted(sections.items()):
        if label:
            sys.stdout.write(f"== namespace {escape(label)} ==\n")
        for kind in KINDS:
            if kind in kinds:
                _print_table(kind, by_kind.get(kind, []))


def _print_table(kind: str, objects: list[IpcObject]) -> None:
    """One kind's title and table, the table in one write (a print per row costs as much as rendering it)."""
    from ipcwatch.native.tables import table_text  # noqa: PLC0415 - the tables only (imports `--json` never uses)
    from ipcwatch.views import COLUMNS  # noqa: PLC0415

    stale = len(list(filter(attrgetter("stale"), objects)))
    write = sys.stdout.write
    write(f"{KIND_TITLES[kind]} ({kind}): {len(objects)} object(s)" + (f", {stale} stale\n" if stale else "\n"))
    if objects:
        write(table_text(COLUMNS[kind], objects))  # not joined to the title: the table is written as it is
        write("\n")
    write("\n")


def run(args: argparse.Namespace) -> int:
    try:
        kinds = _kinds(args.kind)
    except argparse.ArgumentTypeError as exc:
        print(f"ipcwatch: {escape(str(exc))}", file=sys.stderr)
        return 2
    snapshot = scan(ScanConfig(kinds=kinds))
    selector = getattr(args, "namespace", ALL)  # callers that build their own args may leave it out
    if unknown(selector, snapshot.namespaces):
        print(f"ipcwatch: no namespace or container matches {escape(selector)}", file=sys.stderr)
        return 2
    chosen = select(snapshot, selector)
    if args.json:
        write_snapshot_json(snapshot, [o for o in chosen if o.stale or not args.stale])
        return 0
    print_tables(chosen, kinds, args.stale, host=selector in (ALL, HOST))
    for note in snapshot.notes:
        print(f"note: {escape(note)}", file=sys.stderr)
    for error in snapshot.errors[:20]:
        print(f"could not read {escape(str(error))}", file=sys.stderr)
    if len(snapshot.errors) > 20:
        print(f"... and {len(snapshot.errors) - 20} more (see --json)", file=sys.stderr)
    return 0
