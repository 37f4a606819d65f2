"""The native /proc/sysvipc table reader and its pure-Python twin agree on recorded, near-miss and random text."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipcwatch.native import sysvread
from tests.paths import DATA

try:
    from ipcwatch.native import _sysvread
except ImportError:
    _sysvread = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(_sysvread is None, reason="the C helper is not built")
RECORDED_SHM = (DATA / "sysvipc_shm.txt").read_bytes()
NAMES = tuple(RECORDED_SHM.split(b"\n", 1)[0].decode().split())
OCTAL = NAMES.index("perms")


def both(data: bytes, names: tuple[str, ...] = NAMES, octal: int = OCTAL) -> list[dict[str, int]]:
    native = _sysvread.table_rows(data, names, octal)
    assert native == sysvread.py_table_rows(data, names, octal)
    assert [list(r) for r in native] == [list(r) for r in sysvread.py_table_rows(data, names, octal)]  # key order
    return native


def test_recorded_table():
    rows = both(RECORDED_SHM)
    assert [r["shmid"] for r in rows] == [12, 13] and rows[0]["perms"] == 0o1600


@pytest.mark.parametrize(
    "cells",
    [
        b"-1 +2 0777 3",  # signs, as int() reads them
        b"1_000 2 17 3",  # underscores too
        b"18446744073709551615 99999999999999999999999 1 -0",  # past 64 bits
        b"1 2 8 3",  # 8 is not an octal digit: the row is dropped
        b"1 2 3",  # too few cells
        b"1 2 3 4 5",  # too many
        b"1 x 3 4",
        b"1 - 3 4",
        b"\xd9\xa3 2 3 4",  # a non-ASCII digit
        b"1\t2\x0b3\x0c4\r",  # every ASCII whitespace separates
    ],
)
def test_cells_as_int_reads_them(cells):
    both(b"a b perms d\n" + cells + b"\n", ("a", "b", "perms", "d"), 2)


def test_repeated_names_and_no_octal_column():
    both(b"a a b\n1 2 3\n4 5 6", ("a", "a", "b"), 3)
    both(b"no newline at all", ("a",), 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789abcdef _+-\t\n", max_size=40), max_size=20))
def test_near_miss_text(lines):
    both(RECORDED_SHM.split(b"\n", 1)[0] + b"\n" + "\n".join(lines).encode())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data):
    both(data)


@pytest.mark.skipif(os.environ.get("IPCWATCH_REQUIRE_C") != "1", reason="only when IPCWATCH_REQUIRE_C=1")
def test_c_is_in_use_when_required():
    assert sysvread.IMPLEMENTATION == "c"
    assert sysvread.table_rows is _sysvread.table_rows and sysvread.sem_values is _sysvread.sem_values
