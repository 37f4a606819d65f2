"""System calls as /proc shows them: x86-64 and aarch64 number tables, and pure decoders for a thread's
`syscall` file and the argument structures it points at (sembuf, pollfd, fd_set, epoll `tfd:` lines).

Only calls a thread can sleep in (or that are worth naming when it does) are listed; any other number is shown
as `syscall N`. The numbers come from the kernel's syscall tables (arch/x86/entry/syscalls/syscall_64.tbl and
include/uapi/asm-generic/unistd.h, which aarch64 uses). Every decoder takes bytes and never raises.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from collections.abc import Mapping

from ipcwatch.record import NamedTuple

X86_64: Mapping[int, str] = {
    0: "read",
    1: "write",
    2: "open",
    7: "poll",
    16: "ioctl",
    17: "pread64",
    18: "pwrite64",
    19: "readv",
    20: "writev",
    23: "select",
    34: "pause",
    35: "nanosleep",
    40: "sendfile",
    42: "connect",
    43: "accept",
    44: "sendto",
    45: "recvfrom",
    46: "sendmsg",
    47: "recvmsg",
    61: "wait4",
    65: "semop",
    69: "msgsnd",
    70: "msgrcv",
    72: "fcntl",
    73: "flock",
    101: "ptrace",
    128: "rt_sigtimedwait",
    130: "rt_sigsuspend",
    202: "futex",
    208: "io_getevents",
    219: "restart_syscall",
    220: "semtimedop",
    230: "clock_nanosleep",
    232: "epoll_wait",
    242: "mq_timedsend",
    243: "mq_timedreceive",
    247: "waitid",
    257: "openat",
    270: "pselect6",
    271: "ppoll",
    275: "splice",
    276: "tee",
    278: "vmsplice",
    281: "epoll_pwait",
    288: "accept4",
    295: "preadv",
    296: "pwritev",
    299: "recvmmsg",
    307: "sendmmsg",
    318: "getrandom",
    326: "copy_file_range",
    327: "preadv2",
    328: "pwritev2",
    333: "io_pgetevents",
    426: "io_uring_enter",
    437: "openat2",
    441: "epoll_pwait2",
    449: "futex_waitv",
    455: "futex_wait",
}

AARCH64: Mapping[int, str] = {
    4: "io_getevents",
    22: "epoll_pwait",
    25: "fcntl",
    29: "ioctl",
    32: "flock",
    56: "openat",
    63: "read",
    64: "write",
    65: "readv",
    66: "writev",
    67: "pread64",
    68: "pwrite64",
    69: "preadv",
    70: "pwritev",
    71: "sendfile",
    72: "pselect6",
    73: "ppoll",
    75: "vmsplice",
    76: "splice",
    77: "tee",
    95: "waitid",
    98: "futex",
    101: "nanosleep",
    115: "clock_nanosleep",
    117: "ptrace",
    128: "restart_syscall",
    133: "rt_sigsuspend",
    137: "rt_sigtimedwait",
    182: "mq_timedsend",
    183: "mq_timedreceive",
    188: "msgrcv",
    189: "msgsnd",
    192: "semtimedop",
    193: "semop",
    202: "accept",
    203: "connect",
    206: "sendto",
    207: "recvfrom",
    211: "sendmsg",
    212: "recvmsg",
    242: "accept4",
    243: "recvmmsg",
    260: "wait4",
    269: "sendmmsg",
    278: "getrandom",
    285: "copy_file_range",
    286: "preadv2",
    287: "pwritev2",
    292: "io_pgetevents",
    426: "io_uring_enter",
    437: "openat2",
    441: "epoll_pwait2",
    449: "futex_waitv",
    455: "futex_wait",
}

TABLES: Mapping[str, Mapping[int, str]] = {"x86_64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}


def table_for(machine: str | None = None) -> Mapping[int, str] | None:
    """The table for `machine` (default: this host's `uname -m`), or None on an architecture we do not know."""
    return TABLES.get(machine if machine is not None else os.uname().machine)


def syscall_name(table: Mapping[int, str] | None, nr: int) -> str:
    """The call's name, or `syscall N` when the table does not list it."""
    name = table.get(nr) if table is not None else None
    return name or f"syscall {nr}"


# A NamedTuple, not a record: defined at import in a third of the time (every CLI command's start-up).
class SyscallState(NamedTuple):
    """One read of /proc/PID/task/TID/syscall."""

    running: bool
    nr: int | None  # None: running, or asleep outside any system call (the `-1 SP PC` form)
    args: tuple[int, ...] = ()  # the six arguments as unsigned register values
    sp: int | None = None
    pc: int | None = None


RUNNING = SyscallState(running=True, nr=None)

_SYSCALL_LINE = re.compile(rb"(-1|[0-9]{1,6})((?: 0x[0-9a-f]{1,16})+)")


def parse_syscall(data: bytes) -> SyscallState | None:
    """`running`, `-1 SP PC`, or `NR A1 .. A6 SP PC` (hex); None for anything else."""
    text = data.strip()
    if text == b"running":
        return RUNNING
    m = _SYSCALL_LINE.fullmatch(text)
    if m is None:
        return None
    values = tuple(int(v, 16) for v in m.group(2).split())
    if m.group(1) == b"-1":
        return SyscallState(False, None, (), values[0], values[1]) if len(values) == 2 else None
    if len(values) != 8:
        return None
    return SyscallState(False, int(m.group(1)), values[:6], values[6], values[7])


def as_int32(value: int) -> int:
    """A register value holding a C int (fd, flags) as a signed number."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def as_long(value: int) -> int:
    """A register value holding a C long as a signed number."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value & (1 << 63) else value


def parse_thread_state(data: bytes) -> str | None:
    """The state letter of /proc/PID/task/TID/stat (the field after the LAST `)`; a comm may hold `) (`)."""
    close_at = data.rfind(b")")
    if close_at < 0:
        return None
    rest = data[close_at + 1 :].split(None, 1)
    if not rest or len(rest[0]) != 1 or not rest[0].isalpha():
        return None
    return rest[0].decode("ascii")


_SEMBUF = struct.Struct("=Hhh")  # unsigned short sem_num; short sem_op; short sem_flg


def parse_sembufs(data: bytes) -> list[tuple[int, int, int]]:
    """An array of `struct sembuf` as (sem_num, sem_op, sem_flg); a cut-short last entry is dropped."""
    usable = len(data) - len(data) % _SEMBUF.size
    return [_SEMBUF.unpack_from(data, off) for off in range(0, usable, _SEMBUF.size)]


_POLLFD = struct.Struct("=ihh")  # int fd; short events; short revents


def parse_pollfds(data: bytes) -> list[tuple[int, int]]:
    """An array of `struct pollfd` as (fd, events); negative fds (ignored by poll) are dropped."""
    usable = len(data) - len(data) % _POLLFD.size
    out = []
    for off in range(0, usable, _POLLFD.size):
        fd, events, _ = _POLLFD.unpack_from(data, off)
        if fd >= 0:
            out.append((fd, events & 0xFFFF))
    return out


def fd_set_members(data: bytes, nfds: int) -> list[int]:
    """The fds below `nfds` set in an `fd_set` (an array of native longs, bit N of the set is fd N)."""
    out = []
    for word_index in range(min(len(data) // 8, (max(nfds, 0) + 63) // 64)):
        word = int.from_bytes(data[word_index * 8 : word_index * 8 + 8], sys.byteorder)
        while word:
            low = word & -word
            fd = word_index * 64 + low.bit_length() - 1
            if fd < nfds:
                out.append(fd)
            word ^= low
    return out


def parse_epoll_targets(data: bytes) -> list[tuple[int, int, int]]:
    """The `tfd:` lines of an epoll fd's fdinfo as (fd, events, inode)."""
    out = []
    for line in data.split(b"\n"):
        tokens = line.split()
        if len(tokens) < 4 or tokens[0] != b"tfd:" or tokens[2] != b"events:":
            continue
        fields = dict(t.split(b":", 1) for t in tokens[4:] if b":" in t and not t.endswith(b":"))
        try:
            out.append((int(tokens[1]), int(tokens[3], 16), int(fields.get(b"ino", b""), 16)))
        except ValueError:
            continue
    return out


def parse_exec_start(data: bytes) -> float | None:
    """`se.exec_start` (milliseconds of the scheduler clock) from /proc/PID/task/TID/sched."""
    for line in data.split(b"\n"):
        name, sep, value = line.partition(b":")
        if sep and name.strip() == b"se.exec_start":
            try:
                number = float(value.strip())
            except ValueError:
                return None
            return number if number == number and abs(number) != float("inf") else None
    return None
