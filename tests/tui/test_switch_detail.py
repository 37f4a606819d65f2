"""The detail pane a view switch fills lists at most TABLE_ROWS rows per table: a pipe inherited by a thousand
processes is summed up (its count, its first holders, how many more), not laid out line by line on every showing."""

from __future__ import annotations

from ipcwatch.record import replace
from ipcwatch.scan import Holder
from ipcwatch.tui.widgets.detail import TABLE_ROWS, object_text
from tests.tui_fixtures import synthetic_snapshot


def test_a_table_lists_its_first_rows_and_how_many_more() -> None:
    snapshot = synthetic_snapshot(90, 3)
    base = snapshot.objects[7]
    for count in (TABLE_ROWS, 1000):
        holders = tuple(Holder(2000 + i, f"worker{i}", "root", 3, "rw", 1) for i in range(count))
        text = object_text(replace(base, holders=holders), snapshot).plain
        assert f"Holders ({count})" in text
        assert "worker0 " in text and f"worker{TABLE_ROWS - 1} " in text
        assert f"worker{TABLE_ROWS} " not in text
        more = count - TABLE_ROWS
        assert (f"… and {more} more" in text) is (more > 0)
        assert len(text.splitlines()) < TABLE_ROWS + 40
