"""`ipcwatch list`'s tables of a real host with every kind (the demo's objects, an eventfd and a signalfd held here,
a POSIX shm and a FIFO named with terminal escapes, whatever else the host holds) are the same text from the
compiled table builder as from its twin, in terminals 80, 120 and 200 columns wide and in a pipe."""

from __future__ import annotations

import io
import sys

import pytest

from ipcwatch.commands import list as list_command
from ipcwatch.native import tables as native_tables
from ipcwatch.scan import KINDS, Snapshot
from ipcwatch.text import escape
from tests.conftest import needs_root
from tests.live.native.test_objjson import BAD, host  # noqa: F401 - the fixture: a host with every kind

pytestmark = [needs_root, pytest.mark.skipif(native_tables.IMPLEMENTATION != "c", reason="the helper is not built")]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _listed(snapshot: Snapshot, columns: int | None, monkeypatch: pytest.MonkeyPatch) -> str:
    """What `list` prints of the snapshot: in a terminal `columns` wide, or (None) in a pipe."""
    out = io.StringIO() if columns is None else _Terminal()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", out)
        patch.setenv("COLUMNS", str(columns or 80))
        list_command.print_tables(list(snapshot.objects), frozenset(KINDS), stale_only=False)
    return out.getvalue()


@pytest.mark.parametrize("columns", [None, 80, 120, 200])
def test_a_real_host_is_listed_as_the_twin_lists_it(
    host: Snapshot,  # noqa: F811 - the imported fixture
    columns: int | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert {o.kind for o in host.objects} == set(KINDS)
    listed = _listed(host, columns, monkeypatch)
    monkeypatch.setattr(native_tables, "_c", None)  # the twin: each column's cell, laid out by render_table
    assert listed == _listed(host, columns, monkeypatch)
    hostile = [o for o in host.objects if BAD in o.ref]
    assert len(hostile) == 2 and "\x1b" not in listed and "\x9b" not in listed
    if columns is None:  # a pipe: every column whole, the escaped names in full
        assert all(escape(o.name) in listed for o in hostile if o.name)
