"""SysV keys for what a workload makes: each tool draws from its own `KeyRange`, so its leftovers can be told by
key, and this is the one place that finds a key no object uses.

`KeyRange.create(make)` tries random keys of the range until `make(key)` (an IPC_CREAT|IPC_EXCL creation) does
not fail with EEXIST: the kernel decides, so two runs drawing the same key at once cannot both have it.
`KeyRange.free()` is for a key handed to another process to create with: one /proc/sysvipc does not list now.
"""

from __future__ import annotations

import ctypes
import secrets
from collections.abc import Callable, Container

import sysv_ipc

from ipcwatch.record import record

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import TypeVar
    T = TypeVar("T")

ATTEMPTS = 1000
TABLES = ("shm", "msg", "sem")


def keys_in_use() -> set[int]:
    """Every SysV key the kernel lists now (as signed key_t values, as /proc/sysvipc prints them)."""
    keys: set[int] = set()
    for table in TABLES:
        try:
            with open(f"/proc/sysvipc/{table}") as f:
                keys.update(int(line.split(None, 1)[0]) for line in f.readlines()[1:] if line.strip())
        except OSError:
            continue
    return keys


@record
class KeyRange:
    """The SysV keys `start` .. `start + size - 1` that one tool uses."""

    start: int
    size: int

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self.start <= key & 0xFFFFFFFF < self.start + self.size

    def pick(self) -> int:
        """A random key of the range, as a signed key_t."""
        return ctypes.c_int32(self.start + secrets.randbelow(self.size)).value

    def free(self, taken: Container[int] = ()) -> int:
        """A key of the range that no SysV object uses now and that is not in `taken`."""
        in_use = keys_in_use()
        for _ in range(ATTEMPTS):
            key = self.pick()
            if key not in in_use and key not in taken:
                return key
        raise RuntimeError(f"no free SysV key in 0x{self.start:08x}+{self.size}")

    def create(self, make: Callable[[int], T]) -> T:
        """`make(key)` with random keys of the range until one is not taken (`make` raises FileExistsError or
        sysv_ipc.ExistentialError for a key in use)."""
        for _ in range(ATTEMPTS):
            try:
                return make(self.pick())
            except (FileExistsError, sysv_ipc.ExistentialError):
                continue
        raise RuntimeError(f"no free SysV key in 0x{self.start:08x}+{self.size}")
