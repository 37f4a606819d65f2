"""The compiled table builder of `ipcwatch list` gives its twin's text (each column's `cell`, laid out by
`tables.render_table`): recorded hosts of every kind at every width, and generated objects whose strings are hostile
(controls, C1, bidi, surrogateescape bytes, wide and combining characters, lone surrogates) and whose values are of
types the plans do not know (bools, str subclasses, ints past 64 bits, negative sizes, odd holders)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipcwatch.commands import list as list_command
from ipcwatch.native import tables as native_tables
from ipcwatch.scan import KINDS, Holder, IpcObject
from ipcwatch.scan.info import PipeInfo, UnixInfo
from ipcwatch.tables import render_table
from ipcwatch.text import cell_len, escape, human_size
from ipcwatch.views import ALL_COLUMNS, COLUMNS, SIZE, Column
from tests.native_loader import without_helper
from tests.tui_fixtures import namespaced_snapshot, recorded_snapshot, synthetic_snapshot
from tests.unit.native.test_objjson import Shown, texts
from tests.unit.native.test_objjson import objects as hostile_objects

pytestmark = pytest.mark.skipif(
    native_tables.IMPLEMENTATION != "c" and os.environ.get("IPCWATCH_REQUIRE_C") != "1", reason="not built"
)
_c = native_tables._c
COLUMN_SETS = [(kind, COLUMNS[kind]) for kind in KINDS] + [("all", ALL_COLUMNS)]
WIDTHS = [None, 78, 118, 198, 24]  # 80, 120 and 200 columns less the indent; one that leaves only the identity


def twin(columns: Sequence[Column], objects: Sequence[IpcObject], width: int | None) -> str:
    """Today's tables: each column's cell of each object, laid out by render_table, indented as `list` does."""
    return "\n".join("  " + line for line in render_table(columns, objects, width))


def test_the_helper_is_in_use_and_list_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built (IPCWATCH_REQUIRE_C=1 makes a missing build an error), the helper writes every `list` table."""
    assert native_tables.IMPLEMENTATION == "c" and _c is not None
    calls: list[int] = []
    monkeypatch.setattr(native_tables, "_c", _Counting(_c, calls))
    list_command._print_table("sysv-shm", list(recorded_snapshot().of_kind("sysv-shm")))
    assert calls


class _Counting:
    """The helper, counting its rows() calls."""

    def __init__(self, helper: object, calls: list[int]) -> None:
        self._helper, self._calls = helper, calls

    def __getattr__(self, name: str) -> object:
        if name == "rows":
            self._calls.append(1)
        return getattr(self._helper, name)


@pytest.mark.parametrize("snapshot", [recorded_snapshot(), namespaced_snapshot(), synthetic_snapshot(2_000, 50)])
def test_recorded_hosts_give_the_twins_text_at_every_width(snapshot) -> None:
    for kind, columns in COLUMN_SETS:
        objects = list(snapshot.objects) if kind == "all" else [o for o in snapshot.objects if o.kind == kind]
        for width in WIDTHS:
            assert native_tables.table_text(columns, objects, width) == twin(columns, objects, width), (kind, width)


def test_every_column_of_a_recorded_host_is_built_by_its_plan_not_its_cell() -> None:
    """The plans cover what real objects hold: only `call` columns call their cell, NAME for the objects named by
    a SysV id and key or by their ref, the queues of listeners."""
    snapshot = synthetic_snapshot(500, 20)
    for kind, columns in COLUMN_SETS:
        objects = list(snapshot.objects) if kind == "all" else [o for o in snapshot.objects if o.kind == kind]
        calls: list[str] = []
        planned = [_counted(c, calls) for c in columns]
        texts = _c.cells(tuple(map(native_tables._resolved, planned)), objects, escape)
        assert texts == [[c.title, *map(c.cell, objects)] for c in columns]
        for c in columns:
            if c.plan[0] == "name":
                expected = sum(1 for o in objects if not (o.name or _named_by_ends(o)))
            elif c.plan[0] == "queue":  # a listener's queue holds connections: `0 of 244 pending`
                expected = sum(1 for o in objects if o.value("backlog") is not None)
            else:
                expected = len(objects) if c.plan[0] == "call" else 0
            assert calls.count(c.title) == expected, (kind, c.title)


def _named_by_ends(obj: IpcObject) -> bool:
    return isinstance(obj.info, PipeInfo) or (isinstance(obj.info, UnixInfo) and obj.info.peer is not None)


def _counted(column: Column, calls: list[str]) -> Column:
    def cell(obj: IpcObject) -> str:
        calls.append(column.title)
        return column.cell(obj)

    return Column(column.title, cell, column.sort, column.numeric, column.width, column.priority, column.flex,
                  column.elide, column.plan)  # fmt: skip


# ---- generated objects ----

odd_holders = st.lists(
    st.one_of(
        st.builds(Holder, st.integers(-(2**70), 2**70), texts, texts, st.none(), st.sampled_from(["r", "w", "rw"]),
                  st.just(0)),
        st.builds(Holder, st.sampled_from([True, 1.5, "7"]), texts.map(Shown), texts, st.none(), texts, st.just(0)),
    ),
    max_size=4,
).map(tuple)  # fmt: skip
odd = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), texts, texts.map(Shown))


@st.composite
def objects(draw: st.DrawFn) -> IpcObject:
    """A hostile object, its holders, name, owner, size and mode sometimes of types the plans do not know."""
    obj: IpcObject = draw(hostile_objects)
    changes = {"holders": draw(st.one_of(st.just(obj.holders), odd_holders))}
    if draw(st.booleans()):
        changes |= {"size": draw(odd), "mode": draw(odd), "owner": draw(odd), "name": draw(odd), "key": draw(odd)}
    if draw(st.booleans()):  # the ends of a pipe or a connected socket
        info = PipeInfo(1, 1, None, None) if draw(st.booleans()) else UnixInfo("stream", "connected", None)
        changes["info"] = (
            info._replace(peer=draw(odd), peer_holders=changes["holders"]) if isinstance(info, UnixInfo) else info
        )
    return _replaced(obj, changes)


FIELDS = ("ref", "kind", "name", "id", "key", "owner", "uid", "mode", "size", "holders", "stale", "stale_reason")
FIELDS += ("identity", "info", "waiters", "namespace", "removed_at_logout")


def _replaced(obj: IpcObject, changes: dict[str, object]) -> IpcObject:
    return IpcObject(**({name: getattr(obj, name) for name in FIELDS} | changes))  # type: ignore[arg-type]


def _outcome(build: object) -> tuple[str, object]:
    try:
        return "ok", build()  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - a cell that raises must raise the same in both
        return "raised", type(exc)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(objects(), min_size=1, max_size=5))
def test_hostile_objects_give_the_twins_cells_and_text(chunk: list[IpcObject]) -> None:
    for _, columns in COLUMN_SETS:
        plan = tuple(map(native_tables._resolved, columns))
        built = _outcome(lambda: _c.cells(plan, chunk, escape))  # noqa: B023
        assert built == _outcome(lambda: [[c.title, *map(c.cell, chunk)] for c in columns])  # noqa: B023
        if built[0] == "ok":
            for width in (None, 20):
                assert native_tables.table_text(columns, chunk, width) == twin(columns, chunk, width)


SIZES = [0, 1023, 1024, 1280, 1331, 1332, 2**20 - 52, 2**20 - 51, 2**53 + 1, 2**62 + 2**9, 2**63 - 1]  # 1280: 1.25K
SIZES += [k * 1024**unit // 20 + d for unit in range(1, 6) for k in range(1, 20480, 7) for d in (-1, 0, 1)]  # ties


def _sized(sizes: Sequence[int]) -> list[IpcObject]:
    first = recorded_snapshot().objects[0]
    return [_replaced(first, {"size": n}) for n in sizes]


def _sizes_match(objects: list[IpcObject]) -> None:
    assert _c.cells((native_tables._resolved(SIZE),), objects, escape)[0][1:] == [human_size(o.size) for o in objects]


def test_sizes_at_ties_and_past_2_53_are_rounded_as_human_size_rounds_them() -> None:
    """Tenths rounded half to even from the exact value, as format(size, ".1f")."""
    _sizes_match(_sized(SIZES))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 2**24)), min_size=1, max_size=200))
def test_any_size_is_rounded_as_human_size_rounds_it(sizes: list[int]) -> None:
    _sizes_match(_sized(sizes))


def test_wide_and_combining_characters_are_measured_as_cell_len_measures_them() -> None:
    names = ["日本語の名前", "e\u0301te\u0301", "\U0001f600 smile", "ｆｕｌｌ", "plain", "混ざった mixed 名前"]
    texts = [["NAME", *names], ["N", *map(str, range(len(names)))]]
    assert _c.widths(texts, cell_len) == [max(map(cell_len, texts[0])), 1]
    for width in (None, 12, 7):
        column = Column("NAME", lambda n: n, lambda n: n, width=4, flex=True, elide="middle", priority=0)
        assert native_tables.table_text([column], names, width) == twin([column], names, width)


def test_rows_refuse_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="as long as"):
        _c.rows([["A", "1"], ["B"]], [1, 1], [False, False], cell_len, 2)


@pytest.mark.parametrize(("require", "expected"), [("0", "python"), ("1", "ImportError")])
def test_without_the_helper_the_twin_is_used_unless_required(require: str, expected: str) -> None:
    """The helper missing: `list` lays its tables out in Python, or (IPCWATCH_REQUIRE_C=1) the import fails."""
    code = "from ipcwatch.native import tables\nprint(tables.IMPLEMENTATION)"
    assert without_helper("_tables", code, require) == expected
