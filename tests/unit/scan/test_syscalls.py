"""The pure decoders behind `ipcwatch why`: recorded /proc text and argument structures, and fuzzing."""

from __future__ import annotations

import os
import struct

from hypothesis import given
from hypothesis import strategies as st

from ipcwatch.procfs import MapsEntry, mapping_at, maps_entries, maps_entry
from ipcwatch.scan import syscalls as sc

# Recorded from /proc/PID/task/TID/syscall on x86-64 (Linux 6.x).
SEMOP_LINE = b"220 0x4 0x7ffc10122468 0x1 0x0 0x0 0x0 0x7ffc10122458 0x7ff42fb295da\n"
FIFO_OPEN_LINE = b"257 0xffffff9c 0x7f1656ce7170 0x80000 0x0 0x0 0x0 0x7ffd88b875c0 0x7f1657116011\n"
MSGRCV_LINE = b"70 0x8 0x555a337deab0 0x800 0x5 0x0 0x0 0x7ffeb7e3d8c8 0x7f8b6bf293d3\n"
OUTSIDE_LINE = b"-1 0x7ffd2810b2c8 0x7fdff531a230\n"

EPOLL_FDINFO = (
    b"pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n"
    b"tfd:        3 events:       19 data:                3  pos:0 ino:306a sdev:f\n"
    b"tfd:       12 events:        4 data:       7f00000001  pos:0 ino:1e2f1 sdev:8\n"
    b"tfd: garbage events: zz\n"
)

SCHED = b"""python3 (5986, #threads: 1)
-------------------------------------------------------------------
se.exec_start                                :        609901.125994
se.vruntime                                  :           189.804355
nr_switches                                  :                   12
"""

MAPS = (
    b"55d0a3c00000-55d0a3c01000 r--p 00000000 00:1f 123 /usr/bin/python3.11\n"
    b"7f653c03e000-7f653c03f000 rw-s 00000000 00:1a 4242 /dev/shm/sem.jobs\n"
    b"7ffc10100000-7ffc10122000 rw-p 00000000 00:00 0 [stack]\n"
)


def test_running_and_outside_a_syscall_forms() -> None:
    assert sc.parse_syscall(b"running\n") == sc.RUNNING
    state = sc.parse_syscall(OUTSIDE_LINE)
    assert state is not None and not state.running and state.nr is None
    assert (state.sp, state.pc) == (0x7FFD2810B2C8, 0x7FDFF531A230)


def test_recorded_syscall_lines_decode() -> None:
    semop = sc.parse_syscall(SEMOP_LINE)
    assert semop is not None and semop.nr == 220 and semop.args == (4, 0x7FFC10122468, 1, 0, 0, 0)
    opened = sc.parse_syscall(FIFO_OPEN_LINE)
    assert opened is not None and sc.as_int32(opened.args[0]) == -100  # AT_FDCWD
    msgrcv = sc.parse_syscall(MSGRCV_LINE)
    assert msgrcv is not None and sc.as_long(msgrcv.args[3]) == 5


def test_malformed_syscall_lines_are_rejected() -> None:
    for bad in (
        b"",
        b"runnin",
        b"220 0x4 0x1",  # cut short
        b"-1 0x1",
        b"220 0x4 0x7ffc 0x1 0x0 0x0 0x0 0x7ffc 0x7ff4 0x1",  # one too many
        b"220 4 5 6 7 8 9 10 11",  # not hex
        b"x20 0x4 0x7ffc 0x1 0x0 0x0 0x0 0x7ffc 0x7ff4",
        b"220 0x4\n0x7ffc 0x1 0x0 0x0 0x0 0x7ffc 0x7ff4",
        b"220 0x" + b"f" * 17 + b" 0x1 0x1 0x0 0x0 0x0 0x7ffc 0x7ff4",
    ):
        assert sc.parse_syscall(bad) is None, bad


def test_signed_views_of_registers() -> None:
    assert sc.as_int32(0xFFFFFF9C) == -100
    assert sc.as_int32(0x7FFFFFFF) == 0x7FFFFFFF
    assert sc.as_long(0xFFFFFFFFFFFFFFFB) == -5
    assert sc.as_long(5) == 5


def test_syscall_tables_by_machine() -> None:
    x86, arm = sc.table_for("x86_64"), sc.table_for("aarch64")
    assert x86 is not None and arm is not None
    assert (x86[220], x86[65], x86[70], x86[243], x86[202], x86[7]) == (
        "semtimedop",
        "semop",
        "msgrcv",
        "mq_timedreceive",
        "futex",
        "poll",
    )
    assert (arm[192], arm[193], arm[188], arm[183], arm[98], arm[73], arm[56]) == (
        "semtimedop",
        "semop",
        "msgrcv",
        "mq_timedreceive",
        "futex",
        "ppoll",
        "openat",
    )
    assert sc.table_for("sparc64") is None
    assert sc.syscall_name(x86, 99999) == "syscall 99999"
    assert sc.syscall_name(None, 1) == "syscall 1"


def test_thread_state_uses_the_last_parenthesis() -> None:
    assert sc.parse_thread_state(b"42 (evil) (S) 1 2) D 1 42 42 0 -1") == "D"
    assert sc.parse_thread_state(b"42 (sleep) S 1") == "S"
    assert sc.parse_thread_state(b"42 (cut") is None
    assert sc.parse_thread_state(b"42 (x) ") is None
    assert sc.parse_thread_state(b"42 (x) SS 1") is None


def test_sembuf_array() -> None:
    data = struct.pack("=Hhh", 0, -1, 0x1000) + struct.pack("=Hhh", 3, 0, 0) + b"\x01\x00"  # + a cut-short entry
    assert sc.parse_sembufs(data) == [(0, -1, 0x1000), (3, 0, 0)]
    assert sc.parse_sembufs(b"") == []


def test_pollfd_array_skips_negative_fds() -> None:
    data = struct.pack("=ihh", 5, 1, 0) + struct.pack("=ihh", -1, 1, 0) + struct.pack("=ihh", 9, 4, 0)
    assert sc.parse_pollfds(data) == [(5, 1), (9, 4)]


def test_fd_set_members_below_nfds() -> None:
    words = (1 << 3 | 1 << 63).to_bytes(8, "little") + (1 << 1).to_bytes(8, "little")
    if struct.pack("=H", 1) == b"\x00\x01":  # big-endian host: longs are stored the other way
        words = (1 << 3 | 1 << 63).to_bytes(8, "big") + (1 << 1).to_bytes(8, "big")
    assert sc.fd_set_members(words, 128) == [3, 63, 65]
    assert sc.fd_set_members(words, 64) == [3, 63]
    assert sc.fd_set_members(words, 0) == []


def test_epoll_fdinfo_targets() -> None:
    assert sc.parse_epoll_targets(EPOLL_FDINFO) == [(3, 0x19, 0x306A), (12, 0x4, 0x1E2F1)]


def test_exec_start_from_sched() -> None:
    assert sc.parse_exec_start(SCHED) == 609901.125994
    assert sc.parse_exec_start(b"se.exec_start : nan\n") is None
    assert sc.parse_exec_start(b"nothing here") is None


def test_mapping_covering_an_address() -> None:
    mapping = mapping_at(MAPS, 0x7F653C03E000)
    assert mapping is not None and mapping.path == b"/dev/shm/sem.jobs" and mapping.shared and mapping.mode == "rw"
    assert (mapping.start, mapping.end) == (0x7F653C03E000, 0x7F653C03F000)
    assert mapping_at(MAPS, 0x7F653C03F000) is None  # the end is exclusive
    assert mapping_at(b"zz-yy rw-s\n\n", 5) is None


def test_maps_lines_parse_whole() -> None:
    """Every field, the device as st_dev; a path with spaces kept whole; anonymous memory has no path."""
    deleted = maps_entry(b"7f0000000000-7f0000001000 rw-s 00000000 00:01 32769   /SYSV00000000 (deleted)")
    path = b"/SYSV00000000 (deleted)"
    assert deleted == MapsEntry(0x7F0000000000, 0x7F0000001000, b"rw-s", os.makedev(0, 1), 32769, path)
    assert [(e.path, e.dev, e.shared, e.mode) for e in maps_entries(MAPS)] == [
        (b"/usr/bin/python3.11", os.makedev(0, 0x1F), False, "r"),
        (b"/dev/shm/sem.jobs", os.makedev(0, 0x1A), True, "rw"),
        (b"[stack]", 0, False, "rw"),
    ]
    spaced = maps_entry(b"1000-2000 r--s 00000000 08:01 7 /dev/shm/a b\n")
    assert spaced is not None and spaced.path == b"/dev/shm/a b" and spaced.dev == os.makedev(8, 1)
    anonymous = maps_entry(b"1000-2000 ---p 00000000 00:00 0")
    assert anonymous is not None and anonymous.path == b"" and anonymous.mode == "-"
    assert maps_entry(b"1000-2000 rw-s 00000000 zz:01 7 /x") is None  # garbled device
    assert maps_entry(b"1000-2000 rw-s 0000") is None  # cut short


@given(st.binary(max_size=300))
def test_syscall_parser_never_raises(data: bytes) -> None:
    result = sc.parse_syscall(data)
    assert result is None or isinstance(result, sc.SyscallState)


@given(
    st.integers(min_value=0, max_value=999_999),
    st.lists(st.integers(min_value=0, max_value=(1 << 64) - 1), min_size=8, max_size=8),
)
def test_syscall_parser_round_trips(nr: int, values: list[int]) -> None:
    line = f"{nr} " + " ".join(hex(v) for v in values) + "\n"
    state = sc.parse_syscall(line.encode())
    assert state is not None and state.nr == nr
    assert state.args == tuple(values[:6]) and (state.sp, state.pc) == (values[6], values[7])


@given(st.binary(max_size=400), st.integers(min_value=-(1 << 70), max_value=1 << 70))
def test_structure_decoders_never_raise(data: bytes, number: int) -> None:
    sc.parse_thread_state(data)
    sc.parse_sembufs(data)
    sc.parse_pollfds(data)
    sc.fd_set_members(data, number % 5000)
    sc.parse_epoll_targets(data)
    sc.parse_exec_start(data)
    mapping_at(data, number)
    list(maps_entries(data))
    assert sc.as_int32(number) >= -(1 << 31)
    assert sc.as_long(number) < 1 << 63


@given(st.lists(st.sampled_from([b"tfd:", b"events:", b"ino:", b"sdev:", b"1f", b"-3", b"\n", b" ", b"x:y"])))
def test_epoll_parser_on_token_soup(tokens: list[bytes]) -> None:
    for fd, events, inode in sc.parse_epoll_targets(b" ".join(tokens)):
        assert isinstance(fd, int) and isinstance(events, int) and isinstance(inode, int)


def test_blocked_thread_says_dead_partner_and_cycle_from_its_causes() -> None:
    from ipcwatch.scan.waits.reports import BlockedThread  # noqa: PLC0415

    def thread(*causes: str) -> BlockedThread:
        return BlockedThread(1, 1, "x", "S", "semop", None, None, (), "x", "semop", None, (), causes)

    assert thread("dead partner: no other process has the semaphore open").dead_partner
    assert not thread("dead partner: no other process has the semaphore open").in_cycle
    assert thread("wait cycle: 1 (a) -> 2 (b) -> 1 (a)").in_cycle
    assert not thread("a dead partner: quoted").dead_partner and not thread().in_cycle
