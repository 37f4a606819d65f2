"""`ipcwatch list` tables: every kind asked for gets its title line, even with no object (an empty host too), but a
`--namespace` selection that leaves the host out gets no host section."""

from __future__ import annotations

import pytest

from ipcwatch.commands.list import print_tables
from ipcwatch.kinds import Kind


def test_an_empty_host_still_says_each_kind_has_no_object(capsys: pytest.CaptureFixture[str]) -> None:
    print_tables([], frozenset({Kind.SYSV_SHM, Kind.POSIX_MQ}), stale_only=False)
    out = capsys.readouterr().out
    assert "SysV shared memory (sysv-shm): 0 object(s)" in out
    assert "POSIX message queues (posix-mq): 0 object(s)" in out
    assert "fifo" not in out


def test_a_selection_without_the_host_prints_no_host_section(capsys: pytest.CaptureFixture[str]) -> None:
    print_tables([], frozenset({Kind.SYSV_SHM}), stale_only=False, host=False)
    assert capsys.readouterr().out == ""
