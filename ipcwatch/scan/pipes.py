"""Anonymous pipes and FIFOs: holders from the /proc pass, FIFO and socket files from a bounded directory walk.

Bytes queued are read with FIONREAD on a reopened read end. The reopen goes through an O_PATH fd that is
checked first, so a recycled fd number can never make us open a device; and only pipes that already have a
reader are reopened, so we never release a writer blocked in open() or change what a writer sees.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Callable, Iterable

from ipcwatch.kinds import Kind
from ipcwatch.native.posixread import Lstat, special_files
from ipcwatch.native.procfd import pipe_fills as native_pipe_fills
from ipcwatch.procfs import file_identity
from ipcwatch.record import field, record
from ipcwatch.scan.info import FifoInfo, PipeInfo
from ipcwatch.scan.model import Holder, IpcObject, ScanError
from ipcwatch.scan.namespaces import Namespace, qualified_ref
from ipcwatch.scan.nsread import open_beneath, open_root
from ipcwatch.scan.procs import FileKey, Hold, HolderIndex, user_name

MAX_WALK_ENTRIES = 200_000


@record(frozen=False)
class FoundFiles:
    """FIFO and socket files met in the walk, by (dev, inode)."""

    fifos: dict[FileKey, tuple[str, Lstat]] = field(default_factory=dict)
    sockets: dict[FileKey, tuple[str, Lstat]] = field(default_factory=dict)


def walk_special_files(roots: Iterable[str], depth: int, errors: list[ScanError]) -> FoundFiles:
    """FIFO and socket files under `roots`, `depth` levels down, never following symlinks (one native walk:
    ipcwatch.native.posixread)."""
    roots = list(roots)
    found = FoundFiles()
    walked, exhausted = special_files(roots, depth, MAX_WALK_ENTRIES)
    for path, st in walked:
        if isinstance(st, int):
            errors.append(ScanError(path, os.strerror(st)))  # a root that could not be read
        elif stat_mod.S_ISFIFO(st.st_mode):
            found.fifos[(st.st_dev, st.st_ino)] = (path, st)
        else:
            found.sockets[(st.st_dev, st.st_ino)] = (path, st)
    if exhausted:
        errors.append(ScanError(",".join(roots), f"walk stopped after {MAX_WALK_ENTRIES} entries"))
    return found


@record
class FillPlan:
    """The pipes and FIFOs whose fill (bytes queued, capacity) the scan reads, and the read ends to read it through."""

    pipes: list[tuple[int, list[Hold], tuple[Holder, ...]]]  # (inode, holds, holders) of each pipe someone holds
    fifos: list[FileKey]  # FIFOs someone has open, then FIFO files of the walk
    requests: list[tuple[int, list[tuple[int, int]]]]  # (inode, [(pid, fd) of a read end, ...]): pipes', FIFOs'


def fill_plan(index: HolderIndex, found: FoundFiles, want_pipes: bool, want_fifos: bool) -> FillPlan:
    """What `read_fills` reads for `pipe_objects` (want_pipes) and `fifo_objects` (want_fifos)."""
    held = [(inode, holds, holders) for inode, holds in index.pipes.items() if (holders := index.holders(holds))]
    held = held if want_pipes else []
    fifos = list({key for key in index.files if key in index.fifo_paths} | set(found.fifos)) if want_fifos else []
    objects = [(inode, holds) for inode, holds, _ in held] + [(key[1], index.files.get(key, [])) for key in fifos]
    requests = [
        (inode, [(pid, fd) for pid, fd, mode in holds if fd is not None and "r" in mode]) for inode, holds in objects
    ]
    return FillPlan(held, fifos, requests)


def read_fills(proc_root: str, plan: FillPlan) -> list[tuple[int | None, int | None]]:
    """(bytes queued, capacity) of each pipe or FIFO of the plan, through one of its existing read ends; (None, None)
    when it has none that answers. One native call for all of them (ipcwatch.native.procfd), the GIL released."""
    return [(None, None) if fill is None else fill for fill in native_pipe_fills(proc_root, plan.requests)]


def _ends(holds: list[Hold]) -> tuple[int, int]:
    readers = writers = 0
    for _, _, mode in holds:
        if "r" in mode:
            readers += 1
        if "w" in mode:
            writers += 1
    return readers, writers


def pipe_objects(index: HolderIndex, plan: FillPlan, fills: list[tuple[int | None, int | None]]) -> list[IpcObject]:
    """The pipes someone holds (`fills`: what `read_fills` read for the plan)."""
    out = []
    processes, complete, prefix = index.processes, index.complete, f"{Kind.PIPE}:"
    for (inode, holds, holders), (queued, capacity) in zip(plan.pipes, fills[: len(plan.pipes)], strict=True):
        readers, writers = _ends(holds)
        stale_reason = None
        if writers and not readers and complete:
            stale_reason = "pipe write end held but no reader"
        first = processes.get(holders[0].pid)
        ref = prefix + str(inode)
        out.append(
            IpcObject(  # positional, in field order: 0.5 us less per object than keywords
                ref,  # ref
                Kind.PIPE,  # kind
                None,  # name
                inode,  # id
                None,  # key
                first.user if first else "?",  # owner
                first.uid if first else None,  # uid
                None,  # mode
                queued,  # size
                holders,  # holders
                stale_reason is not None,  # stale
                stale_reason,  # stale_reason
                ref,  # identity
                PipeInfo(readers, writers, queued, capacity),  # info
            )
        )
    return out


def _stat_in_view(proc_root: str, pid: int, path: str) -> os.stat_result:
    """lstat of `path` as process `pid`'s root shows it (open_beneath: no symlink followed, never the host path)."""
    root_fd = open_root(pid, proc_root)
    try:
        fd = open_beneath(root_fd, path, os.O_PATH)
    finally:
        os.close(root_fd)
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def fifo_objects(
    index: HolderIndex,
    found: FoundFiles,
    proc_root: str,
    plan: FillPlan,
    fills: list[tuple[int | None, int | None]],
    other_mnt: Callable[[int], Namespace | None] = lambda pid: None,
    own_mnt: Namespace | None = None,
) -> list[IpcObject]:
    """FIFOs someone has open (anywhere) plus FIFO files in the walked directories. A FIFO whose holder is in
    another mount namespace (`other_mnt(pid)`) has a path relative to that holder's root: it is stat'ed there and
    its ref and namespace are that mount namespace's, so the host's `/tmp/x` and a container's never collide.
    The others live in `own_mnt` (the scanner's), with unqualified refs. `fills`: what `read_fills` read for the
    plan."""
    out = []
    for key, (queued, capacity) in zip(plan.fifos, fills[len(plan.pipes) :], strict=True):
        holds = index.files.get(key, [])
        holders = index.holders(holds)
        ns = None
        if key in found.fifos:
            path, st = found.fifos[key]
            deleted = False
        else:
            path, st, deleted = index.fifo_paths[key], None, key in index.fifo_deleted
            pid = holds[0][0] if holds else None
            ns = None if pid is None else other_mnt(pid)
            try:
                st = os.stat(path, follow_symlinks=False) if ns is None else _stat_in_view(proc_root, pid, path)
                if (st.st_dev, st.st_ino) != key:
                    st, deleted = None, True
            except OSError:
                st, deleted = None, True
        readers, writers = _ends(holds)
        stale_reason = None
        if not index.complete:
            pass  # someone we cannot see may hold it
        elif not holders:
            stale_reason = "FIFO with no opener"
        elif writers and not readers:
            stale_reason = "FIFO write end held but no reader"
        out.append(
            IpcObject(  # positional, in field order: 0.5 us less per object than keywords
                qualified_ref(Kind.FIFO, path, ns) + (f" (deleted, inode {key[1]})" if deleted else ""),  # ref
                Kind.FIFO,  # kind
                path,  # name
                None,  # id
                None,  # key
                user_name(st.st_uid) if st else "?",  # owner
                st.st_uid if st else None,  # uid
                stat_mod.S_IMODE(st.st_mode) if st else None,  # mode
                queued,  # size
                holders,  # holders
                stale_reason is not None,  # stale
                stale_reason,  # stale_reason
                file_identity(*key),  # identity
                FifoInfo(readers, writers, queued, capacity, deleted, key[1]),  # info
                (),  # waiters
                own_mnt if ns is None else ns,  # namespace
            )
        )
    return out
