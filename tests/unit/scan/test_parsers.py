"""The /proc parsers on recorded text, and fuzzed: garbage in never raises."""

from __future__ import annotations

import os
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from ipcwatch import procfs
from ipcwatch.scan import parsers, unix
from ipcwatch.text import escape
from tests.paths import DATA

DATA = DATA
RECORDED_SHM = (DATA / "sysvipc_shm.txt").read_bytes()  # recorded /proc/sysvipc/shm

RECORDED_UNIX = (
    b"Num       RefCount Protocol Flags    Type St Inode Path\n"
    b"0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/a.sock\n"
    b"0000000000000000: 00000003 00000000 00000000 0001 03  1585\n"
    b"0000000000000000: 00000002 00000000 00010000 0001 01 23457 @abstract\n"
)


def test_stat_comm_with_parens_spaces_and_newline():
    comm = b"a) (b\n) c"
    fields = b" ".join([b"S", b"1"] + [b"0"] * 17 + [b"4242"] + [b"0"] * 30)
    data = b"99 (" + comm + b") " + fields
    assert parsers.parse_stat(data) == ("a) (b\n) c", "S", 1, 4242)


def test_stat_truncated_is_none():
    assert parsers.parse_stat(b"99 (x) S 1 2") is None
    assert parsers.parse_stat(b"") is None


def test_sysvipc_table_by_column_name():
    rows = parsers.parse_table(RECORDED_SHM)
    assert [r["shmid"] for r in rows] == [12, 13]
    assert rows[0]["perms"] == 0o1600 and rows[1]["key"] == 1234567890
    assert rows[0]["nattch"] == 1 and rows[0]["rss"] == 4096


def test_sysvipc_table_drops_short_rows():
    assert parsers.parse_table(RECORDED_SHM.splitlines()[0] + b"\n 0 12 600\n") == []


def test_maps_line():
    line = b"7f0000000000-7f0000001000 rw-s 00000000 00:01 32769                      /SYSV00000000 (deleted)"
    entry = procfs.maps_entry(line)
    assert entry is not None and entry.shared
    assert (entry.perms, entry.dev, entry.inode) == (b"rw-s", os.makedev(0, 1), 32769)
    assert entry.path == b"/SYSV00000000 (deleted)"


def test_proc_net_unix_rows_and_abstract():
    rows = parsers.parse_proc_net_unix(RECORDED_UNIX)
    assert [(r["inode"], r["path"]) for r in rows] == [(23456, b"/run/a.sock"), (1585, b""), (23457, b"@abstract")]


def test_proc_net_unix_newline_forgery_cannot_duplicate_a_socket():
    forged = (
        b"Num       RefCount Protocol Flags    Type St Inode Path\n"
        b"0000000000000000: 00000002 00000000 00010000 0001 01 23456 /tmp/evil\n"
        b"0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/docker.sock\n"
    )
    rows = parsers.parse_proc_net_unix(forged)
    assert [r["path"] for r in rows] == [b"/tmp/evil"]


def test_sock_diag_message_attributes():
    def rta(kind: int, payload: bytes) -> bytes:
        raw = struct.pack("=HH", 4 + len(payload), kind) + payload
        return raw + b"\0" * (-len(raw) % 4)

    msg = struct.pack("=BBBBIQ", 1, 1, 10, 0, 777, 99)
    msg += rta(0, b"\0hidden\x1b")
    msg += rta(2, struct.pack("=I", 778))
    msg += rta(4, struct.pack("=II", 3, 128))
    parsed = unix.parse_diag_message(msg)
    assert parsed.inode == 777 and parsed.state == 10 and parsed.peer == 778
    assert parsed.name == b"\0hidden\x1b" and (parsed.recv_queue, parsed.send_queue) == (3, 128)
    assert escape(unix.socket_name(parsed.name)) == "@hidden\\x1b"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_parsers_never_raise_on_garbage(data):
    parsers.parse_stat(data)
    procfs.maps_entry(data)
    parsers.parse_table(data)
    parsers.parse_mqueue_status(data)
    parsers.parse_proc_net_unix(data)
    unix.parse_diag_message(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789abcdef :()\n\t-x", max_size=40), max_size=20))
def test_table_and_unix_parsers_on_near_miss_text(lines):
    data = "\n".join(lines).encode()
    parsers.parse_table(RECORDED_SHM.splitlines()[0] + b"\n" + data)
    parsers.parse_proc_net_unix(RECORDED_UNIX + data)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary()))
def test_escape_is_terminal_safe_and_unambiguous(value):
    shown = escape(value)
    assert all(ch.isprintable() or ch == " " for ch in shown)
    assert "\x1b" not in shown and "\x9b" not in shown
    if isinstance(value, str) and "\\" not in value and value.isprintable():
        assert shown == value


def test_parse_fdinfo_eventfd_signalfd_and_hostile_lines() -> None:
    eventfd = b"pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1038\neventfd-count:                3\neventfd-id: 1\n"
    assert parsers.parse_fdinfo(eventfd) == {
        "pos": "0", "flags": "02", "mnt_id": "17", "ino": "1038", "eventfd-count": "3", "eventfd-id": "1",
    }
    signalfd = b"pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\nsigmask:\t0000000000400200\n"
    assert parsers.parse_fdinfo(signalfd)["sigmask"] == "0000000000400200"
    # names with spaces or odd bytes, a repeated name, a cut-short last line: ignored, never raised on
    odd = b"Sig Mask: 1\n\xff\xfe: 2\nflags:\t02\nflags:\t03\neventfd-id"
    assert parsers.parse_fdinfo(odd) == {"flags": "02"}
    assert parsers.parse_fdinfo(b"") == {}


@given(st.binary(max_size=512))
def test_parse_fdinfo_never_raises(data: bytes) -> None:
    assert isinstance(parsers.parse_fdinfo(data), dict)
