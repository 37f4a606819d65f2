"""The native unix_diag_msg parser and its pure-Python twin agree on built, truncated and random messages."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipcwatch.native import sockdiag

try:
    from ipcwatch.native import _sockdiag
except ImportError:
    _sockdiag = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(_sockdiag is None, reason="the C helper is not built")


def rta(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def both(payload: bytes) -> tuple | None:
    native = _sockdiag.parse_message(payload)
    assert native == sockdiag.py_parse_message(payload)
    return native


HEAD = struct.pack("=BBBBIQ", 1, 1, 10, 0, 4_000_000_000, 2**64 - 1)


def test_every_attribute():
    msg = HEAD + rta(0, b"/run/x.sock\0junk") + rta(1, struct.pack("=II", 77, (8 << 20) | 3))
    msg += rta(2, struct.pack("=I", 778)) + rta(3, struct.pack("=3I", 5, 0, 6)) + rta(4, struct.pack("=II", 3, 128))
    msg += rta(7, struct.pack("=I", 1000)) + rta(6, b"\1")
    assert both(msg) == (
        4_000_000_000,
        1,
        10,
        b"/run/x.sock",
        (os.makedev(8, 3), 77),
        778,
        (5, 0, 6),
        3,
        128,
        1000,
        2**64 - 1,
    )


@pytest.mark.parametrize(
    "attrs",
    [
        b"",
        rta(0, b"\0abstract\0with\xffnuls"),  # an abstract name is exact bytes
        rta(0, b""),
        rta(0, b"no-nul"),
        rta(2, struct.pack("=I", 0)),  # peer 0: none
        rta(2, b"\1\2"),  # too short: ignored
        rta(1, b"\1\2\3\4"),
        rta(4, b"\1\2\3\4"),
        rta(3, b"\1\2\3\4\5\6"),  # icons: whole u32s only
        rta(0, b"/a\0") + rta(0, b"/b\0"),  # the last wins
        struct.pack("=HH", 2, 0) + rta(0, b"/after-bad\0"),  # a length below the header: the rest is ignored
        struct.pack("=HH", 400, 0) + b"/x\0\0",  # longer than the message
    ],
)
def test_odd_attributes(attrs):
    both(HEAD + attrs)


def test_short_messages():
    for n in range(17):
        both(HEAD[:n])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.binary(max_size=24)), max_size=8), st.binary(max_size=8))
def test_built_messages(attrs, tail):
    both(HEAD + b"".join(rta(kind, data) for kind, data in attrs) + tail)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(data):
    both(data)


@pytest.mark.skipif(os.environ.get("IPCWATCH_REQUIRE_C") != "1", reason="only when IPCWATCH_REQUIRE_C=1")
def test_c_is_in_use_when_required():
    assert sockdiag.IMPLEMENTATION == "c"
    assert sockdiag.unix_dump is _sockdiag.unix_dump and sockdiag.parse_message is _sockdiag.parse_message
