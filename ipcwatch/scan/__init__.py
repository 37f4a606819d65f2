"""The scan: one pass over a live host that finds every IPC object, who holds it and whether it looks stale.

Pure data (never imports textual); the CLI and the TUI are two front ends over the same `Snapshot`.

    from ipcwatch.scan import scan
    snap = scan()
    for obj in snap.objects: ...
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ipcwatch.scan import pipes, posix, sysv, unix
from ipcwatch.scan.model import KIND_TITLES, KINDS, Holder, IpcObject, Process, ScanError, Snapshot, Waiter
from ipcwatch.scan.procs import HolderIndex, ProcessVisitor, ProcPassConfig, scan_processes

__all__ = [
    "KINDS",
    "KIND_TITLES",
    "Holder",
    "IpcObject",
    "Process",
    "ScanConfig",
    "ScanError",
    "Snapshot",
    "Waiter",
    "scan",
]

DEFAULT_FILE_DIRS = ("/tmp", "/run", "/var/run", "/dev/shm")

# A waiter finder: given the objects and the holder index, returns {ref: waiters}. It may add a ProcessVisitor
# to the /proc pass (so threads are read in the same pass) through `visitor()`.
WaiterFinder = Callable[[list[IpcObject], HolderIndex], dict[str, list[Waiter]]]


@dataclass(frozen=True)
class ScanConfig:
    """Where to look. Paths are parameters so tests can point the scan at recorded or private trees."""

    kinds: frozenset[str] = frozenset(KINDS)
    proc_root: str = "/proc"
    sysvipc_dir: str = "/proc/sysvipc"
    shm_dir: str = "/dev/shm"
    mqueue_dir: str = "/dev/mqueue"
    file_dirs: tuple[str, ...] = DEFAULT_FILE_DIRS  # walked for FIFO and socket files
    file_depth: int = 3
    waiters: bool = True
    extra_visitors: Sequence[ProcessVisitor] = field(default=())


def _dev_of(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def _fs_type(path: str) -> str | None:
    """The filesystem type mounted at `path`, from /proc/self/mounts (last mount wins)."""
    found = None
    try:
        with open("/proc/self/mounts", "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and os.fsdecode(parts[1]) == path:
                    found = os.fsdecode(parts[2])
    except OSError:
        return None
    return found


def _waiter_finder() -> tuple[WaiterFinder | None, ProcessVisitor | None]:
    """The blocked-thread analysis, when it is installed (ipcwatch.scan.waits)."""
    try:
        from ipcwatch.scan import waits  # noqa: PLC0415 - optional layer
    except ImportError:
        return None, None
    finder = waits.WaitFinder()
    return finder.attach, finder.visit


def scan(config: ScanConfig | None = None) -> Snapshot:
    """Scan the host once. Never raises for what it finds: unreadable entries go to `Snapshot.errors`."""
    # The scan allocates ~10 small objects per IPC object and frees none of them until it returns: the cyclic
    # collector would walk the growing heap again and again for nothing (no cycles are created).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan(config)
    finally:
        if was_enabled:
            gc.enable()


def _scan(config: ScanConfig | None) -> Snapshot:
    config = config or ScanConfig()
    started, clock = time.time(), time.monotonic()
    errors: list[ScanError] = []
    notes: list[str] = []
    kinds = config.kinds

    if os.geteuid() != 0:
        notes.append(
            "not root: holders in other users' processes, SysV semaphore values and other users' POSIX queue "
            "details are hidden"
        )
    tables = {
        kind: sysv.read_table(config.sysvipc_dir, name, errors) if kind in kinds else []
        for kind, name in (("sysv-shm", "shm"), ("sysv-msg", "msg"), ("sysv-sem", "sem"))
    }
    mq_on = "posix-mq" in kinds and _fs_type(config.mqueue_dir) == "mqueue"
    if "posix-mq" in kinds and not mq_on:
        notes.append(f"{config.mqueue_dir} is not mounted: POSIX message queues cannot be listed")
    file_devs = frozenset(
        d for d in (_dev_of(config.shm_dir), _dev_of(config.mqueue_dir) if mq_on else None) if d is not None
    )
    need_walk = kinds & {"fifo", "unix"}
    found = pipes.walk_special_files(config.file_dirs, config.file_depth, errors) if need_walk else pipes.FoundFiles()
    sockets, source = unix.list_sockets(config.proc_root, errors) if "unix" in kinds else ([], "")
    if source == "/proc/net/unix":
        notes.append("unix sockets read from /proc/net/unix (sock_diag unavailable): no peers or queues")

    attach, visit = _waiter_finder() if config.waiters else (None, None)
    visitors = list(config.extra_visitors) + ([visit] if visit else [])
    index = scan_processes(
        ProcPassConfig(
            proc_root=config.proc_root,
            file_devs=file_devs,
            read_maps=bool(kinds & {"sysv-shm", "posix-shm", "posix-sem"}),
            visitors=visitors,
        )
    )
    errors.extend(index.errors)

    objects: list[IpcObject] = []
    if "sysv-shm" in kinds:
        objects += sysv.shm_objects(tables["sysv-shm"], index)
    if "sysv-msg" in kinds:
        objects += sysv.msg_objects(tables["sysv-msg"], index, errors)
    if "sysv-sem" in kinds:
        objects += sysv.sem_objects(tables["sysv-sem"], index)
    if kinds & {"posix-shm", "posix-sem"}:
        objects += [o for o in posix.shm_dir_objects(config.shm_dir, index, errors) if o.kind in kinds]
    if mq_on:
        objects += posix.mqueue_objects(config.mqueue_dir, index, errors)
    if "fifo" in kinds:
        objects += pipes.fifo_objects(index, found, config.proc_root)
    if "pipe" in kinds:
        objects += pipes.pipe_objects(index, config.proc_root)
    if "unix" in kinds:
        objects += unix.unix_objects(sockets, index, found)

    if attach is not None:
        waiting = attach(objects, index)
        objects = [_with_waiters(o, waiting.get(o.ref)) for o in objects]

    return Snapshot(
        objects=tuple(objects),
        processes=dict(index.processes),
        errors=tuple(errors),
        notes=tuple(notes),
        taken_at=started,
        duration=time.monotonic() - clock,
    )


def _with_waiters(obj: IpcObject, waiters: list[Waiter] | None) -> IpcObject:
    """Attach waiters; an object someone is waiting on is in use, so never stale."""
    if not waiters:
        return obj
    return replace(obj, waiters=tuple(waiters), stale=False, stale_reason=None)
