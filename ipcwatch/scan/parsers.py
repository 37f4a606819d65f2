"""Pure parsers for /proc text. Each takes bytes and returns data or None; none of them ever raises.

Kernel text is treated as hostile: a comm may hold `) (` and newlines, a socket path may hold a newline that
forges a /proc/net/unix row, and any line may be cut short by a process exiting mid-read.
"""

from __future__ import annotations

import os
import re

from ipcwatch.native.sysvread import table_rows


def _int(token: bytes, base: int = 10) -> int | None:
    try:
        return int(token, base)
    except ValueError:
        return None


def parse_stat(data: bytes) -> tuple[str, str, int, int] | None:
    """/proc/PID/stat -> (comm, state, ppid, starttime ticks). The comm is between the first `(` and the LAST `)`."""
    open_at = data.find(b"(")
    close_at = data.rfind(b")")
    if open_at < 0 or close_at < open_at:
        return None
    comm = os.fsdecode(data[open_at + 1 : close_at])
    rest = data[close_at + 1 :].split()
    # rest[0] is field 3 (state); starttime is field 22 -> rest[19]
    if len(rest) < 20:
        return None
    ppid = _int(rest[1])
    start = _int(rest[19])
    if ppid is None or start is None:
        return None
    return comm, rest[0].decode("ascii", "replace"), ppid, start


def parse_table(data: bytes) -> list[dict[str, int]]:
    """A /proc/sysvipc/* table: a header of column names, then rows of integers (perms is octal).

    Columns are found by name, so a kernel that adds columns still parses. Rows that do not fit are dropped.
    The rows are read in one call (ipcwatch.native.sysvread): the table has a row per object.
    """
    header = tuple(h.decode("ascii", "replace") for h in data.split(b"\n", 1)[0].split())
    if not header:
        return []
    octal = header.index("perms") if "perms" in header else len(header)  # len: no octal column
    return table_rows(data, header, octal)


def parse_mqueue_status(data: bytes) -> dict[str, int]:
    """The text read from /dev/mqueue/NAME: `QSIZE:129 NOTIFY:2 SIGNO:0 NOTIFY_PID:8260`, keys lower-cased."""
    out: dict[str, int] = {}
    for token in data.split():
        name, sep, value = token.partition(b":")
        number = _int(value) if sep else None
        if number is not None:
            out[name.decode("ascii", "replace").lower()] = number
    return out


def parse_fdinfo(data: bytes) -> dict[str, str]:
    """/proc/PID/fdinfo/FD as {name: value}: `pos`, `flags`, `eventfd-count`, `eventfd-id`, `sigmask`, ...

    Only lines of the form `name: value` with a plain lower-case name count; the first of a repeated name wins.
    """
    out: dict[str, str] = {}
    for line in data.split(b"\n"):
        name, sep, value = line.partition(b":")
        if sep and name and all(c in b"abcdefghijklmnopqrstuvwxyz0123456789-_" for c in name):
            out.setdefault(name.decode("ascii"), value.strip().decode("ascii", "replace"))
    return out


_UNIX_ROW = re.compile(
    rb"^[0-9a-f]+: ([0-9A-F]{8}) ([0-9A-F]{8}) ([0-9A-F]{8}) ([0-9A-F]{4}) ([0-9A-F]{2}) +([0-9]+)(?: (.*))?$",
    re.DOTALL,
)


def parse_proc_net_unix(data: bytes) -> list[dict[str, int | bytes]]:
    """/proc/net/unix, defensively: a fallback only (sock_diag gives exact names and cannot be forged).

    A path may contain a newline that forges a row: a row must match the kernel's exact fixed-width format,
    and a repeated inode is dropped.
    """
    rows: list[dict[str, int | bytes]] = []
    seen: set[int] = set()
    for line in data.split(b"\n")[1:]:
        m = _UNIX_ROW.match(line)
        if m is None:
            continue
        inode = int(m.group(6))
        if inode in seen:
            continue
        seen.add(inode)
        rows.append(
            {
                "inode": inode,
                "flags": int(m.group(3), 16),
                "type": int(m.group(4), 16),
                "state": int(m.group(5), 16),
                "path": m.group(7) or b"",
            }
        )
    return rows
