"""Columns that fit (ipcwatch.views, ipcwatch.tables): which columns a width keeps, eliding that keeps what
matters, pipes and sockets named by their ends; and `ipcwatch list` fitting a real terminal around a real pipe
between two processes."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator

import pytest

from ipcwatch.kinds import Kind
from ipcwatch.tables import GAP, IDENTITY, elide, fit, render_table
from ipcwatch.text import cell_len
from ipcwatch.views import ALL_COLUMNS, COLUMNS, object_name
from tests.conftest import Cleanup
from tests.paths import REPO
from tests.tui.test_snapshots import ends_snapshot
from tests.tui_fixtures import recorded_objects

ROOT = str(REPO)


def shown_titles(width: int | None, measured: bool = False) -> list[str]:
    """The All view's titles in `width` cells: laid out at the columns' own widths as the dashboard does, or
    `measured` from the recorded objects' cells as `list` does."""
    objs = recorded_objects()
    natural = [max(cell_len(c.title), *(cell_len(c.cell(o)) for o in objs)) for c in ALL_COLUMNS]
    if not measured:
        natural = [c.min_width for c in ALL_COLUMNS]
    widths = natural if width is None else fit(ALL_COLUMNS, natural, width, gap=1)
    return [c.title for c, w in zip(ALL_COLUMNS, widths, strict=True) if w is not None]


def test_all_view_at_80_columns_keeps_what_a_sysadmin_needs_first() -> None:
    essentials = ["KIND", "NAME", "OWNER", "SIZE", "HOLDERS", "!"]
    for available in (62, 63, 70):  # 80 less the view list, a gap and maybe a scrollbar
        assert shown_titles(available) == essentials
        assert shown_titles(available, measured=True) == essentials
    assert shown_titles(102) == ["KIND", "NAME", "OWNER", "PERMS", "SIZE", "HOLDERS", "!", "STALE"]
    assert shown_titles(None) == [c.title for c in ALL_COLUMNS]
    assert shown_titles(184) == [c.title for c in ALL_COLUMNS]


def test_fit_never_exceeds_the_width_and_always_keeps_identity() -> None:
    for kind, columns in COLUMNS.items():
        natural = [40] * len(columns)
        for available in (20, 40, 62, 104, 184):
            widths = fit(columns, natural, available, GAP)
            shown = [w for w in widths if w is not None]
            identity = [w for c, w in zip(columns, widths, strict=True) if c.priority == IDENTITY]
            assert all(w is not None for w in identity), (kind, available)
            if len(shown) > len(identity):  # more than the identity columns only when they fit
                assert sum(shown) + GAP * (len(shown) - 1) <= available, (kind, available, widths)


def test_elide_keeps_the_tail_of_a_path_the_pids_of_both_ends_and_the_more_count() -> None:
    path = "/run/user/1000/app-runtime/instance-7f3a9c/control/rpc.sock"
    assert elide(path, 24, "middle").endswith("/rpc.sock") and elide(path, 24, "middle").startswith("/run/")
    assert elide("1234 postgres-writer (+3)", 16, "middle") == "1234 postg… (+3)"
    pair = elide("201 nginx ⇄ 101 postgres (+1)", 22, "middle")
    assert pair.startswith("201 nginx ⇄ 101 ") and pair.endswith("(+1)") and cell_len(pair) == 22
    assert elide("abcdef", 4) == "abc…" and elide("abc", 4) == "abc" and elide("abc", 0) == ""
    wide = "共有メモリ-segment"  # two cells per CJK character
    assert cell_len(wide) == 18 and cell_len(elide(wide, 9)) <= 9
    for how in ("end", "middle"):
        for width in range(1, 30):
            assert cell_len(elide(path, width, how)) <= width  # type: ignore[arg-type]


def test_pipes_and_sockets_are_named_by_their_ends_with_escaped_comms() -> None:
    names = {o.ref: object_name(o) for o in ends_snapshot().objects}
    assert names["pipe:9001"] == "201 nginx → 401 sshd"
    assert names["pipe:9002"] == "301 evil\\x1b]2;x\\x07 → 101 postgres (+1)"  # never the raw escape
    assert names["unix:8101"] == "201 nginx ⇄ 101 postgres (+1)"
    assert names["unix:8102"] == "101 postgres (+1) ⇄ 201 nginx"
    assert names["unix:7001"] == "/run/app.sock"  # a listener: its path
    assert names["sysv-shm:7"] == "7 0x1dc0beef"
    assert names["posix-shm:[@click=app.quit]x[/]"] == "[@click=app.quit]x[/]"
    assert not any("\x1b" in n for n in names.values())


def test_render_table_fits_a_width_or_prints_everything() -> None:
    objs = recorded_objects()
    whole = render_table(COLUMNS[Kind.SYSV_SHM], [o for o in objs if o.kind == Kind.SYSV_SHM], width=None)
    assert whole[0].split() == ["KEY", "ID", "OWNER", "PERMS", "SIZE", "NATTCH", "STATUS", "CPID", "LPID",
                                "HOLDERS", "!", "STALE"]  # fmt: skip
    assert "no attachers; creator 555 is gone" in whole[2]
    narrow = render_table(ALL_COLUMNS, objs, width=64)
    assert narrow[0].split() == ["KIND", "NAME", "OWNER", "SIZE", "HOLDERS", "!"]
    assert all(cell_len(line) <= 64 for line in narrow)


@pytest.fixture
def piped(cleanup: Cleanup) -> Iterator[tuple[int, int]]:
    """Two real processes joined by a pipe: `sleep` writing into `cat`'s stdin (both killed at teardown)."""
    r, w = os.pipe()
    writer = subprocess.Popen(["sleep", "600"], stdout=w)
    reader = subprocess.Popen(["cat"], stdin=r, stdout=subprocess.DEVNULL)
    os.close(r)
    os.close(w)
    for proc in (writer, reader):
        cleanup.add(proc.wait)
        cleanup.add(proc.kill)
    yield writer.pid, reader.pid


def list_in_terminal(columns: int, *args: str) -> str:
    """`ipcwatch list ARGS` with stdout on a pty `columns` wide."""
    leader, follower = pty.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        proc = subprocess.Popen([sys.executable, "-m", "ipcwatch", "list", *args], stdout=follower,
                                stderr=subprocess.PIPE, cwd=ROOT, env=env)  # fmt: skip
        os.close(follower)
        follower = -1
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
        return out.decode().replace("\r\n", "\n")
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_list_fits_an_80_column_terminal_and_prints_every_column_to_a_pipe(piped: tuple[int, int]) -> None:
    writer, reader = piped
    ends = f"{writer} sleep → {reader} cat"
    on_tty = list_in_terminal(80, "--kind", "pipe")
    assert ends in on_tty
    assert all(cell_len(line) <= 80 for line in on_tty.splitlines()), on_tty
    head = next(line for line in on_tty.splitlines() if "WRITER → READER" in line)
    assert "INODE" not in head and "HOLDERS" not in head  # the ends say who holds it
    to_pipe = subprocess.run([sys.executable, "-m", "ipcwatch", "list", "--kind", "pipe"], capture_output=True,
                             text=True, timeout=60, cwd=ROOT, check=True).stdout  # fmt: skip
    assert ends in to_pipe
    head = next(line for line in to_pipe.splitlines() if "WRITER → READER" in line)
    assert head.split()[:1] == ["INODE"] and "HOLDERS" in head and "STALE" in head
