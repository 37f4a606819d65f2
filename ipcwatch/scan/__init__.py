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
from collections.abc import Callable

from ipcwatch.kinds import ANON_INODE_KINDS, KIND_TITLES, KINDS, MAPPED_KINDS, POSIX_KINDS, Kind
from ipcwatch.native import passthread
from ipcwatch.native.passthread import MQUEUE_DIR, PROC_ROOT, SHM_DIR, Background, dev_of, fs_type
from ipcwatch.native.procfd import ANON_DEVS, read_processes
from ipcwatch.record import field, record, replace
from ipcwatch.scan import anon, logind, nsscan, pipes, posix, sysv, unix
from ipcwatch.scan.model import Holder, IpcObject, Process, ScanError, Snapshot, Waiter
from ipcwatch.scan.namespaces import Namespace, discover, with_fd_pins
from ipcwatch.scan.nsread import SpecialDirs
from ipcwatch.scan.procs import HolderIndex, ProcPassConfig, index_processes, pass_arguments
from ipcwatch.scan.waits import WaitFinder

__all__ = [
    "KINDS",
    "KIND_TITLES",
    "Holder",
    "Kind",
    "IpcObject",
    "Process",
    "ScanConfig",
    "ScanError",
    "Snapshot",
    "Waiter",
    "scan",
]


DEFAULT_FILE_DIRS = ("/tmp", "/run", "/var/run", "/dev/shm")


@record
class ScanConfig:
    """Where to look. Paths are parameters so tests can point the scan at recorded or private trees."""

    kinds: frozenset[str] = frozenset(KINDS)
    proc_root: str = PROC_ROOT
    sysvipc_dir: str = "/proc/sysvipc"
    shm_dir: str = SHM_DIR
    mqueue_dir: str = MQUEUE_DIR
    file_dirs: tuple[str, ...] = DEFAULT_FILE_DIRS  # walked for FIFO and socket files
    file_depth: int = 3
    waiters: bool = True
    config_root: str = "/"  # where logind.conf, its drop-ins and login.defs are read (RemoveIPC)


def _other_mnt(spaces: nsscan.NamespaceReads, own: Namespace | None) -> Callable[[int], Namespace | None]:
    """pid -> its mount namespace when that is not the scanner's own (None otherwise or unknown)."""

    def other(pid: int) -> Namespace | None:
        ns = spaces.namespace_of(pid, "mnt")
        return ns if ns is not None and own is not None and ns.key != own.key else None

    return other


def _waiter_finder(config: ScanConfig) -> WaitFinder | None:
    """The blocked-thread sampling for this scan (its `visit` joins the /proc pass), unless waiters are off."""
    return WaitFinder() if config.waiters else None


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


@record(frozen=False)
class _ObjectReads:
    """What each kind reads from its objects themselves, before holders are known (phase one)."""

    tables: dict[Kind, list[sysv.Row]] = field(default_factory=dict)
    shm_entries: list[posix.Entry] = field(default_factory=list)
    mq_entries: list[posix.MqEntry] = field(default_factory=list)
    found: pipes.FoundFiles = field(default_factory=pipes.FoundFiles)
    sockets: list[unix.UnixSocket] = field(default_factory=list)
    socket_source: str = ""
    errors: list[ScanError] = field(default_factory=list)


def _read_objects(config: ScanConfig, mq_on: bool) -> _ObjectReads:
    kinds = config.kinds
    reads = _ObjectReads()
    errors = reads.errors
    for kind, (name, _, _) in sysv.TABLES.items():
        if kind in kinds:
            reads.tables[kind] = sysv.read_table(config.sysvipc_dir, name, errors)
            sysv.read_details(kind, reads.tables[kind])
    if kinds & {Kind.POSIX_SHM, Kind.POSIX_SEM}:
        reads.shm_entries = posix.read_shm_dir(config.shm_dir, errors)
    if mq_on:
        reads.mq_entries = posix.read_mqueue_dir(config.mqueue_dir, errors)
    if kinds & {Kind.FIFO, Kind.UNIX}:
        reads.found = pipes.walk_special_files(config.file_dirs, config.file_depth, errors)
    if Kind.UNIX in kinds:
        reads.sockets, reads.socket_source = unix.list_sockets(config.proc_root, errors)
    return reads


def _scan(config: ScanConfig | None) -> Snapshot:
    config = config or ScanConfig()
    started, clock = time.time(), time.monotonic()
    notes: list[str] = []
    kinds = config.kinds

    if os.geteuid() != 0:
        notes.append(
            "not root: holders in other users' processes, SysV semaphore values and other users' POSIX queue "
            "details are hidden"
        )
    mq_on = Kind.POSIX_MQ in kinds and fs_type(config.mqueue_dir) == "mqueue"
    if Kind.POSIX_MQ in kinds and not mq_on:
        notes.append(f"{config.mqueue_dir} is not mounted: POSIX message queues cannot be listed")
    own = SpecialDirs(dev_of(config.shm_dir), dev_of(config.mqueue_dir) if mq_on else None)
    finder = _waiter_finder(config)

    # Phase one: what each object says of itself, and the single /proc pass for holders, side by side: the pass's
    # reads are one native call that releases the GIL throughout (read_processes), run in a thread while this one
    # discovers the namespaces and reads the objects; the indexing and the visitors (Python) follow here. Measured
    # 2026-11-28 (2 cores, scan() min of 5, alternated with the serial pass): 9,133 objects 133-139 -> 93-98 ms,
    # 54,142 objects 799-811 -> 536-584 ms when the second core is idle; when another job holds it the gain goes
    # (54k: 900-981 vs 875-917 ms), never below the serial pass (one core, taskset: 827-854 vs 794-847 ms). Did not
    # pay: the indexing and visitors in that thread too (9k: 108-115 vs 103-111 ms, GIL contention again); two
    # pthreads sharing the batch, which halve it alone (54k: 122-126 vs 210-221 ms) but not the scan, whose other
    # core reads the objects meanwhile (556-595 vs 565-620 ms; list --json median 759 vs 766 ms).
    # The pass starts before the discovery (at 9,000 objects the pass, ~35 ms, is the longer side: the discovery's
    # ~4.5 ms came on top of it), so it cannot know yet where the other views' /dev/shm and /dev/mqueue are: it keeps
    # the open files of every anonymous device (ANON_DEVS: tmpfs and mqueue mounts are those) and the indexing keeps
    # those on the wanted devices. A view whose dir is on a real device (a bind mount from a disk) has the pass read
    # again, knowing.
    pass_config = ProcPassConfig(
        proc_root=config.proc_root,
        file_devs=frozenset(d for d in (*own.key, ANON_DEVS) if d is not None),
        read_maps=bool(kinds & MAPPED_KINDS),
        read_anon=bool(kinds & ANON_INODE_KINDS),
        visitors=[finder.visit] if finder else [],
    )
    args = pass_arguments(pass_config)
    pass_reads = passthread.take(args) or Background(read_processes, *args)  # started early by `list`, or now
    try:
        discovery = discover(config.proc_root, fds=False)
        views = nsscan.other_views(discovery, own, config.proc_root) if kinds & POSIX_KINDS else []
        reads = _read_objects(config, mq_on)
    finally:
        pass_reads.wait()  # no thread outlives the scan, even when the object reads raise
    records = pass_reads.result()
    del pass_reads  # its records (every fd of every process) are consumed as they are indexed
    file_devs = frozenset(d for v in [own, *(v.dirs for v in views)] for d in v.key if d is not None)
    pass_config = replace(pass_config, file_devs=file_devs)
    if any(os.major(d) != 0 for d in file_devs.difference(own.key)):
        records = []  # the first pass's records go before the second's are read
        records = read_processes(*pass_arguments(pass_config))
    index = index_processes(records, pass_config)
    discovery = with_fd_pins(discovery, index.ns_fds, config.proc_root)
    spaces = nsscan.read_namespaces(discovery, kinds, config.proc_root, config.config_root)
    nsscan.read_views(views, kinds, spaces, config.proc_root)
    errors = reads.errors + index.errors + spaces.errors
    notes += spaces.notes
    if reads.socket_source == "/proc/net/unix":
        notes.append("unix sockets read from /proc/net/unix (sock_diag unavailable): no peers or queues")

    # Phase two: join holders to objects and give verdicts. The pipes' and FIFOs' fills are one native call (the GIL
    # released throughout): it runs in a thread while this one builds the other kinds' objects.
    plan = pipes.fill_plan(index, reads.found, Kind.PIPE in kinds, Kind.FIFO in kinds)
    filling = Background(pipes.read_fills, config.proc_root, plan) if plan.requests else None
    fills = list if filling is None else filling.result  # no thread when there is nothing to read: []
    try:
        objects = _objects(config, reads, index, spaces, plan, fills)
    finally:
        if filling is not None:
            filling.wait()  # no thread outlives the scan, even when building an object raises
    # Every object is built: what is left of the reads, the fill plan and the holder maps go before the waiters phase.
    del reads, plan, filling, fills
    index = _holders_dropped(index)

    if kinds & logind.REMOVED_KINDS:
        policy = logind.read_policy(config.config_root)
        if policy.systemd and policy.remove_ipc:  # else it applies to no one: no object to look at
            objects = [_with_removal(o, logind.removal_note(o, policy)) for o in objects]
    threads = None
    if finder is not None:
        waiting, threads = finder.attach(objects, index)
        if waiting:
            objects = [_with_waiters(o, waiting[o.ref]) if o.ref in waiting else o for o in objects]

    return Snapshot(
        objects=tuple(objects),
        processes=dict(index.processes),
        errors=tuple(errors),
        notes=tuple(notes),
        taken_at=started,
        duration=time.monotonic() - clock,
        namespaces=spaces.namespaces,
        threads=threads,
    )


def _objects(
    config: ScanConfig,
    reads: _ObjectReads,
    index: HolderIndex,
    spaces: nsscan.NamespaceReads,
    plan: pipes.FillPlan,
    fills: Callable[[], list],
) -> list[IpcObject]:
    """Every object of the kinds asked for, its holders joined (phase two; `fills` waits for the pipes' fills).
    Each kind's reads (in `reads` and `spaces`) are let go once its objects are built: the scan's peak memory is its
    result plus what is still to be built from, not plus everything it read (54k objects: ~20 MB less)."""
    kinds = config.kinds
    objects: list[IpcObject] = []
    own_ipc, own_mnt = spaces.own("ipc"), spaces.own("mnt")
    sysv_reads = [(own_ipc, reads.tables), *spaces.sysv]
    reads.tables, spaces.sysv = {}, []
    sysv_reads.reverse()
    while sysv_reads:  # popped: each namespace's rows freed once built
        ns, tables = sysv_reads.pop()
        objects += _sysv_objects(tables, index, ns)
        del tables
    # The scanner's own view's objects live in its own namespaces: built there when those are the host's (whose
    # refs are unqualified), placed there afterwards otherwise (their refs stay unqualified).
    host_mnt, host_ipc = _if_host(own_mnt), _if_host(own_ipc)
    in_mnt = [o for o in posix.shm_dir_objects(reads.shm_entries, index, host_mnt) if o.kind in kinds]
    reads.shm_entries = []
    if Kind.FIFO in kinds:
        found, other_mnt = reads.found, _other_mnt(spaces, own_mnt)
        in_mnt += pipes.fifo_objects(index, found, config.proc_root, plan, fills(), other_mnt, own_mnt)
        found.fifos = {}
    objects += _placed(in_mnt, own_mnt)
    del in_mnt
    objects += _placed(posix.mqueue_objects(reads.mq_entries, index, host_ipc), own_ipc)
    reads.mq_entries = []
    views, spaces.posix = spaces.posix, []
    views.reverse()
    while views:  # popped, as the SysV rows
        mnt, shm_entries, ipc, mq_entries = views.pop()
        objects += [o for o in posix.shm_dir_objects(shm_entries, index, mnt) if o.kind in kinds]
        objects += posix.mqueue_objects(mq_entries, index, ipc)
        del shm_entries, mq_entries
    if Kind.PIPE in kinds:
        objects += pipes.pipe_objects(index, plan, fills())
    if Kind.UNIX in kinds:
        sockets, net_of = nsscan.read_unix(spaces, reads.sockets, config.proc_root)
        reads.sockets = []
        objects += unix.unix_objects(sockets, index, reads.found, net_of)
        del sockets, net_of
    reads.found = pipes.FoundFiles()
    objects += anon.anon_objects(index, kinds)
    return objects


def _holders_dropped(index: HolderIndex) -> HolderIndex:
    """`index` without its holder maps (every fd of every process), once every object is built: its processes and
    counts are what the waiters phase and the snapshot still read."""
    return replace(
        index,
        pipes={},
        sockets={},
        files={},
        shm_segments={},
        fifo_paths={},
        fifo_deleted=set(),
        anon_fds=[],
        ns_fds=[],
    )


def _if_host(ns: Namespace | None) -> Namespace | None:
    return ns if ns is not None and ns.host else None


def _placed(objects: list[IpcObject], own: Namespace | None) -> list[IpcObject]:
    """`objects` with no namespace placed in `own` (copied only when they change)."""
    if own is None:
        return objects
    return [o if o.namespace is not None else replace(o, namespace=own) for o in objects]


def _sysv_objects(tables: dict[Kind, list[sysv.Row]], index: HolderIndex, ns: Namespace | None) -> list[IpcObject]:
    """The SysV objects of one IPC namespace from its tables (kind -> rows; kinds not scanned are absent), each
    kind's rows taken out of `tables` as they are built (freed at once)."""
    out: list[IpcObject] = []
    for kind, build in sysv.BUILDERS.items():
        if kind in tables:
            out += build(tables.pop(kind), index, ns)
    return out


def _with_waiters(obj: IpcObject, waiters: list[Waiter]) -> IpcObject:
    """Attach waiters; an object someone is waiting on is in use, so never stale."""
    return replace(obj, waiters=tuple(waiters), stale=False, stale_reason=None)


def _with_removal(obj: IpcObject, note: str | None) -> IpcObject:
    """Say who will remove it: systemd-logind at its owner's logout (RemoveIPC)."""
    return obj if note is None else replace(obj, removed_at_logout=note)
