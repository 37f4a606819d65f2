"""The escaping function and the formatting helpers every surface shares (no root, no kernel objects)."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipcwatch.cli import build_parser
from ipcwatch.kinds import Kind
from ipcwatch.text import _char_cells, cell_len, escape, terminal_columns


def test_escape_takes_str_bytes_none_and_str_subclasses() -> None:
    assert escape(None) == ""
    assert escape("plain name.sock") == "plain name.sock"
    assert escape(b"ok\xff\x1b") == "ok\\xff\\x1b"  # bad UTF-8 and ESC from bytes
    assert escape(Kind.POSIX_MQ) == "posix-mq"  # a StrEnum is a str: printable ASCII as it is
    assert escape("caf\u00e9 \u6f22") == "caf\u00e9 \u6f22"  # printable non-ASCII stays
    for _ in range(2):  # the slow path is cached: the same answer twice
        assert escape("a\\b\u00a0c\u202e\n\U000e0001") == "a\\\\b\\xa0c\\u202e\\n\\U000e0001"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab →⇄\u6f22\uff21e\u0301\u200b\U0001f600"), max_size=30))
def test_cell_len_counts_each_character_s_cells(value: str) -> None:
    assert cell_len(value) == sum(_char_cells(ch) for ch in value)


@pytest.mark.parametrize("columns", [None, "57", "0", "-3", "wide"])
def test_terminal_columns_is_shutil_s_width(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns


def test_help_is_as_wide_as_columns_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    narrow = build_parser("list").format_help().splitlines()
    monkeypatch.setenv("COLUMNS", "200")
    wide = build_parser("list").format_help().splitlines()
    assert max(map(len, narrow)) <= 58 < max(map(len, wide))
