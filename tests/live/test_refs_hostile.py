"""Refs are raw in the model and escaped once at each surface: a real POSIX shm and a real FIFO whose names hold ESC,
a newline and a C1 CSI (0x9b) are shown escaped once by `list`, its JSON and the dashboard, and `rm` takes the ref
as shown and removes the right object."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from ipcwatch.scan import ScanConfig, Snapshot, scan
from ipcwatch.text import escape
from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.workload import objects
from ipcwatch.workload.ledger import Ledger
from tests.conftest import needs_root, unique_name
from tests.live.commands.test_list import run_cli
from tests.tui.test_app import SIZE, cell, detail_text, settle

BAD = "e\x1b]2;PWNED\x07n\nc\x9b2J"  # a title escape, a newline that would split a row, a C1 CSI
RAW = ("\x1b", "\x07", "\x9b", "\n")
SHOWN = "e\\x1b]2;PWNED\\x07n\\nc\\x9b2J"

pytestmark = needs_root


@pytest.fixture
def tag() -> str:
    """This test's own prefix (other tests of the session may still hold objects named with RUN_TAG)."""
    return unique_name()


@pytest.fixture
def hostile(made: Ledger, tag: str) -> tuple[str, str]:
    """(the POSIX shm's ref, the FIFO's ref), both raw; both removed (identity-checked) at teardown if still there."""
    name = f"{tag}shm{BAD}"
    objects.posix_shm(name, 64, b"").close_fd()
    made.add(f"posix-shm:{name}")
    path = objects.fifo(f"/tmp/{tag}fifo{BAD}")  # /tmp: a directory `list` walks
    made.add(f"fifo:{path}")
    return f"posix-shm:{name}", f"fifo:{path}"


def test_escape_is_one_to_one_on_these_names() -> None:
    assert escape(BAD) == SHOWN and escape(SHOWN) != SHOWN  # escaping twice would show `\\x1b`


def test_list_shows_each_ref_escaped_once(hostile: tuple[str, str], tag: str) -> None:
    for kind, ref in zip(("posix-shm", "fifo"), hostile, strict=True):
        table = run_cli("list", "--kind", kind)
        assert table.returncode == 0, table.stderr
        assert not any(c in table.stdout.replace("\n", "") for c in RAW)  # no raw control reaches the terminal
        rows = [line for line in table.stdout.splitlines() if tag in line]
        assert len(rows) == 1 and SHOWN in rows[0]  # one row (the newline did not split it), escaped once

        listed = run_cli("list", "--kind", kind, "--json")
        assert not any(c in listed.stdout for c in RAW[:3])
        refs = [o["ref"] for o in json.loads(listed.stdout)["objects"] if tag in o["ref"]]
        assert escape(ref) in refs and ref not in refs  # json.loads gives the shown text, never the raw controls


def test_rm_takes_the_ref_as_shown_and_removes_that_object(hostile: tuple[str, str], made: Ledger) -> None:
    shm_ref, fifo_ref = hostile
    decoy = unique_name() + SHOWN  # a name holding the shown text literally: its shown ref is `...\\x1b...`
    objects.posix_shm(decoy, 64, b"").close_fd()
    made.add(f"posix-shm:{decoy}")
    for ref in hostile:
        result = run_cli("rm", "--yes", escape(ref))
        assert result.returncode == 0, result.stderr
        assert escape(ref) in result.stdout and not any(c in result.stdout + result.stderr for c in RAW[:3])
    after = scan(ScanConfig(kinds=frozenset({"posix-shm", "fifo"}), file_dirs=("/tmp",), waiters=False))
    assert after.get(shm_ref) is None and after.get(fifo_ref) is None
    assert not os.path.exists(fifo_ref.partition(":")[2])
    assert after.get(f"posix-shm:{decoy}") is not None  # the look-alike is still there
    assert after.find(f"posix-shm:{escape(decoy)}") is after.get(f"posix-shm:{decoy}")


def _scanner() -> Callable[[], Snapshot]:
    config = ScanConfig(kinds=frozenset({"posix-shm", "fifo"}), file_dirs=("/tmp",), file_depth=1, waiters=False)
    return lambda: scan(config)


async def test_dashboard_row_and_detail_show_the_ref_escaped_once(hostile: tuple[str, str], tag: str) -> None:
    app = IpcwatchApp(_scanner(), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *tag, "enter")
        await settle(app, pilot)
        table = app.dashboard.table("all")
        assert set(table.rows) == set(hostile)  # keyed by the raw refs
        for ref in hostile:
            assert cell(table, ref, "REF") == escape(ref)  # shown once
            assert table.select_key(ref)
            await settle(app, pilot)
            shown = detail_text(app)
            assert escape(ref) in shown and "\\\\x1b" not in shown
            assert not any(c in shown.replace("\n", "") for c in RAW[:3])
        screen = app.export_screenshot()
        assert "\x1b]2;PWNED" not in screen and "\x9b" not in screen and "PWNED" in screen
