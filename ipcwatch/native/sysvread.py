"""The scan's SysV reads, one call per table or per kind: the compiled helper `_sysvread` when it was built, else
this pure-Python twin.

`IMPLEMENTATION` says which one is in use ("c" or "python"); both return the same values (see _sysvread.c):

    table_rows(data, names, octal)   # [{name: int, ...}, ...]: the rows of a /proc/sysvipc table (header skipped)
    sem_values([(semid, nsems), ...])  # [((num, value, ncnt, zcnt, pid), ...) | None, ...]
    msg_qbytes([msqid, ...])          # [byte limit | None, ...]
"""

from __future__ import annotations

from collections.abc import Sequence

from ipcwatch.native.compiled import compiled

SemTuple = tuple[int, int, int, int, int]  # (num, value, ncnt, zcnt, pid)


def py_table_rows(data: bytes, names: tuple[str, ...], octal: int) -> list[dict[str, int]]:
    """The pure-Python twin of `_sysvread.table_rows`."""
    width = len(names)
    rows = []
    for line in data.split(b"\n")[1:]:
        cells = line.split()
        if len(cells) != width:
            continue
        try:  # one conversion per cell, one dict per row: the table has a row per object
            values = [int(c) for c in cells[:octal]]
            if octal < width:
                values.append(int(cells[octal], 8))
                values += [int(c) for c in cells[octal + 1 :]]
        except ValueError:
            continue
        rows.append(dict(zip(names, values, strict=True)))
    return rows


def py_sem_values(sets: Sequence[tuple[int, int]]) -> list[tuple[SemTuple, ...] | None]:
    """The pure-Python twin of `_sysvread.sem_values`."""
    from ipcwatch.libc_read import GETNCNT, GETPID, GETVAL, GETZCNT, semctl  # ctypes: only the twin needs it

    out: list[tuple[SemTuple, ...] | None] = []
    for semid, nsems in sets:
        try:
            out.append(
                tuple(
                    (
                        num,
                        semctl(semid, num, GETVAL),
                        semctl(semid, num, GETNCNT),
                        semctl(semid, num, GETZCNT),
                        semctl(semid, num, GETPID),
                    )
                    for num in range(nsems)
                )
            )
        except OSError:
            out.append(None)
    return out


def py_msg_qbytes(ids: Sequence[int]) -> list[int | None]:
    """The pure-Python twin of `_sysvread.msg_qbytes`."""
    from ipcwatch.libc_read import msg_qbytes as one  # ctypes: only the twin needs it

    out: list[int | None] = []
    for msqid in ids:
        try:
            out.append(one(msqid))
        except OSError:
            out.append(None)
    return out


_c = compiled("_sysvread")
table_rows = _c.table_rows if _c else py_table_rows
sem_values = _c.sem_values if _c else py_sem_values
msg_qbytes = _c.msg_qbytes if _c else py_msg_qbytes
IMPLEMENTATION = "c" if _c else "python"

__all__ = [
    "IMPLEMENTATION",
    "SemTuple",
    "msg_qbytes",
    "py_msg_qbytes",
    "py_sem_values",
    "py_table_rows",
    "sem_values",
    "table_rows",
]
