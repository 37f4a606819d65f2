"""Kernel IPC limits (/proc/sys/kernel, /proc/sys/fs/mqueue) and how much of each one a snapshot uses.

Pure data: reads a few sysctl files, never writes them. SysV limits and mqueue limits are per IPC namespace:
`read_limits` describes the namespace it runs in (ipcwatch.scan.nsread reads other namespaces' limits).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping

from ipcwatch.kinds import Kind
from ipcwatch.record import NamedTuple
from ipcwatch.scan.model import IpcObject, Snapshot
from ipcwatch.scan.namespaces import Namespace

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# resource -> (file under /proc/sys, field index in a multi-field file)
SOURCES: dict[str, tuple[str, int]] = {
    "shmmni": ("kernel/shmmni", 0),
    "shmall": ("kernel/shmall", 0),  # pages
    "shmmax": ("kernel/shmmax", 0),  # bytes
    "msgmni": ("kernel/msgmni", 0),
    "msgmnb": ("kernel/msgmnb", 0),  # bytes: the max_bytes a new queue gets
    "semmsl": ("kernel/sem", 0),
    "semmns": ("kernel/sem", 1),
    "semopm": ("kernel/sem", 2),
    "semmni": ("kernel/sem", 3),
    "mqueue_queues_max": ("fs/mqueue/queues_max", 0),
    "mqueue_msg_max": ("fs/mqueue/msg_max", 0),
    "mqueue_msgsize_max": ("fs/mqueue/msgsize_max", 0),
}


# A NamedTuple, not a record: defined at import in a third of the time (every CLI command's start-up).
class LimitUse(NamedTuple):
    """One limit and how much of it the snapshot uses (`used` is None where no use can be measured)."""

    resource: str
    limit: int
    used: int | None

    @property
    def ratio(self) -> float | None:
        return None if self.used is None or self.limit <= 0 else self.used / self.limit


def read_limits(proc_sys: str = "/proc/sys") -> dict[str, int]:
    """{resource: value} for every limit that could be read; unreadable or garbled files are left out."""
    texts: dict[str, list[str] | None] = {}
    out: dict[str, int] = {}
    for resource, (name, index) in SOURCES.items():
        if name not in texts:
            try:
                with open(os.path.join(proc_sys, name), "rb") as f:
                    texts[name] = f.read(256).decode("ascii", "replace").split()
            except OSError:
                texts[name] = None
        parts = texts[name]
        if parts is not None and index < len(parts) and parts[index].isdigit():
            out[resource] = int(parts[index])
    return out


def _ints(values: Iterable[object]) -> list[int]:
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def _shm_pages(objs: list[IpcObject]) -> int:
    return sum(math.ceil(size / PAGE_SIZE) for size in _ints(o.size for o in objs))


# resource -> (kind, what objects of that kind use of it)
_USED: dict[str, tuple[Kind, Callable[[list[IpcObject]], int]]] = {
    "shmmni": (Kind.SYSV_SHM, len),
    "shmall": (Kind.SYSV_SHM, _shm_pages),
    "shmmax": (Kind.SYSV_SHM, lambda objs: max(_ints(o.size for o in objs), default=0)),
    "msgmni": (Kind.SYSV_MSG, len),
    "semmni": (Kind.SYSV_SEM, len),
    "semmns": (Kind.SYSV_SEM, lambda objs: sum(_ints(o.value("nsems") for o in objs))),
    "semmsl": (Kind.SYSV_SEM, lambda objs: max(_ints(o.value("nsems") for o in objs), default=0)),
    "mqueue_queues_max": (Kind.POSIX_MQ, len),
}


def limit_usage(snapshot: Snapshot, limits: Mapping[str, int], ns: Namespace | None = None) -> list[LimitUse]:
    """Every readable limit with the use of it by the objects of IPC namespace `ns` (None: the host's): counts for
    shmmni/msgmni/semmni/queues_max, pages for shmall, semaphores for semmns, the largest segment or set for
    shmmax/semmsl; None for per-call limits."""
    by_kind: dict[Kind, list[IpcObject]] = {kind: [] for kind, _ in _USED.values()}
    for obj in snapshot.objects:
        here = obj.namespace
        if (here.key != ns.key) if ns is not None and here is not None else (here is not None and not here.host):
            continue
        if obj.kind in by_kind:
            by_kind[obj.kind].append(obj)
    out = []
    for resource, limit in limits.items():
        rule = _USED.get(resource)
        out.append(LimitUse(resource, limit, rule[1](by_kind[rule[0]]) if rule is not None else None))
    return out
