"""One pass over /proc: every process, and every fd and shared mapping that can hold an IPC object.

Each process is read through a directory fd on /proc/PID, so a pid recycled mid-read fails (ESRCH/ENOENT)
instead of mixing two processes' data. Vanished processes, zombies and EACCES skip that entry, never the scan.
"""

from __future__ import annotations

import errno
import functools
import os
import pwd
from collections.abc import Callable, Sequence

from ipcwatch.native.procfd import (
    MAPS_FALLBACK,
    MAPS_NONE,
    MAPS_TEXT,
    FdEntry,
    ProcessRecord,
    SharedMap,
    read_processes,
)
from ipcwatch.procfs import maps_entry, read_process_head
from ipcwatch.record import field, record
from ipcwatch.scan.model import Holder, Process, ScanError
from ipcwatch.scan.parsers import parse_fdinfo, parse_stat
from ipcwatch.scan.procdir import ProcDir

# (pid, fd or None for a mapping, mode)
Hold = tuple[int, int | None, str]
FileKey = tuple[int, int]  # (st_dev, st_ino)

AnonFd = tuple[int, int, str, dict[str, str]]  # (pid, fd, "eventfd" | "signalfd", its fdinfo fields)

# Called for every process the pass read, once it is indexed: (pid, its directory, process).
ProcessVisitor = Callable[[int, ProcDir, Process], None]

_GONE = (FileNotFoundError, ProcessLookupError)
_new_tuple = tuple.__new__
_PERMISSION = (errno.EACCES, errno.EPERM)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@functools.lru_cache(maxsize=4096)
def user_name(uid: int) -> str:
    """The login name for uid, or the number when the user database has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@record(frozen=False)
class HolderIndex:
    """Who holds what, keyed the way each kind identifies its objects."""

    processes: dict[int, Process] = field(default_factory=dict)
    pipes: dict[int, list[Hold]] = field(default_factory=dict)  # pipefs inode
    sockets: dict[int, list[Hold]] = field(default_factory=dict)  # sockfs inode
    files: dict[FileKey, list[Hold]] = field(default_factory=dict)  # FIFOs, /dev/shm and mqueue files
    # SysV segments by (IPC namespace inode of the mapping process, shmid): ids repeat across namespaces
    shm_segments: dict[tuple[int, int], list[Hold]] = field(default_factory=dict)
    fifo_paths: dict[FileKey, str] = field(default_factory=dict)  # FIFO fds: the path readlink gave
    fifo_deleted: set[FileKey] = field(default_factory=set)
    anon_fds: list[AnonFd] = field(default_factory=list)  # eventfd and signalfd fds, grouped by scan.anon
    ns_fds: list[tuple[int, int, str, int]] = field(default_factory=list)  # nsfs fds: (pid, fd, type, inode)
    errors: list[ScanError] = field(default_factory=list)
    unreadable_fd_tables: int = 0

    @property
    def complete(self) -> bool:
        """True when every process's fds and mappings were read: only then can "nobody holds it" be said."""
        return self.unreadable_fd_tables == 0

    def shm_holds(self, ipc_inode: int | None, shmid: int) -> list[Hold]:
        """Who maps SysV segment `shmid` of the IPC namespace with inode `ipc_inode` (None: any namespace)."""
        if ipc_inode is not None:
            return self.shm_segments.get((ipc_inode, shmid), [])
        return [h for (_, sid), holds in self.shm_segments.items() if sid == shmid for h in holds]

    def holders(self, holds: Sequence[Hold]) -> tuple[Holder, ...]:
        """Turn raw (pid, fd, mode) entries into Holders, dropping pids that vanished."""
        # Called once per object (most have a single hold); each Holder is made as its NamedTuple __new__ makes it,
        # without that Python-level call.
        if not holds:
            return ()
        procs = self.processes
        if len(holds) == 1:
            pid, fd, mode = holds[0]
            proc = procs.get(pid)
            return () if proc is None else (_new_tuple(Holder, (pid, proc.comm, proc.user, fd, mode, proc.start)),)
        return tuple(
            [
                _new_tuple(Holder, (pid, proc.comm, proc.user, fd, mode, proc.start))
                for pid, fd, mode in holds
                if (proc := procs.get(pid)) is not None
            ]
        )


@record
class ProcPassConfig:
    proc_root: str = "/proc"
    file_devs: frozenset[int] = frozenset()  # st_dev of /dev/shm and the mqueue fs: fds there are holders
    read_maps: bool = True  # only needed when shared memory or POSIX semaphores exist
    read_anon: bool = True  # read the fdinfo of eventfds and signalfds (only when those kinds are wanted)
    visitors: Sequence[ProcessVisitor] = ()


def _index_fds(pid: int, entries: list[FdEntry], index: HolderIndex, anon: bool, file_devs: frozenset[int]) -> None:
    # The hottest loop of a scan (every fd of every process): the walk itself is native (read_processes).
    sockets, pipes, files = index.sockets, index.pipes, index.files
    for entry in entries:
        kind = entry[0]
        if kind == "s":
            sockets.setdefault(entry[2], []).append((pid, entry[1], "rw"))
        elif kind == "p":
            pipes.setdefault(entry[2], []).append((pid, entry[1], entry[3]))
        elif kind == "a":
            # an eventfd or signalfd: its fdinfo (the eventfd's id and count, the signalfd's mask) is all there is
            # to it; None when it closed since the walk saw it (fdinfo is as readable as the fd table that listed it)
            if anon and entry[3] is not None:
                index.anon_fds.append((pid, entry[1], entry[2], parse_fdinfo(entry[3])))
        elif kind == "n":
            index.ns_fds.append((pid, entry[1], entry[2], entry[3]))
        else:
            _, fd, dev, ino, mode, is_fifo, nlink, link = entry
            if not is_fifo and dev not in file_devs:
                continue  # read by a pass that kept every anonymous device (see scan: it starts before discovery)
            key = (dev, ino)
            files.setdefault(key, []).append((pid, fd, mode))
            if is_fifo:
                _note_fifo(index, key, link, nlink)


def _note_fifo(index: HolderIndex, key: FileKey, link: str, nlink: int) -> None:
    """Remember a FIFO's path; st_nlink 0 (not the readlink text) says whether it was deleted."""
    if nlink == 0:
        index.fifo_deleted.add(key)
        link = link.removesuffix(" (deleted)")
    index.fifo_paths.setdefault(key, link)


_procmap_query_works = True  # until a kernel without PROCMAP_QUERY says otherwise


def _parse_shared_maps(data: bytes) -> list[SharedMap]:
    """Shared SysV and /dev/shm mappings from the maps text (kernels before 6.11)."""
    out: list[SharedMap] = []
    if b"/SYSV" not in data and b"/dev/shm/" not in data:
        return out
    for line in data.split(b"\n"):
        if b"/SYSV" not in line and b"/dev/shm/" not in line:
            continue
        entry = maps_entry(line)
        if entry is None or not entry.shared:
            continue  # a private copy-on-write mapping shares nothing
        perms = entry.perms
        mode = ("r" if perms[0:1] == b"r" else "") + ("w" if perms[1:2] == b"w" else "")
        out.append((mode or "-", entry.dev, entry.inode, entry.path))
    return out


def _maps_of(read: list[SharedMap] | bytes | int) -> list[SharedMap]:
    """What read_processes read of the maps: the query's list, the text (parsed), or an errno (EACCES: none)."""
    global _procmap_query_works
    if isinstance(read, list):
        return read
    if isinstance(read, bytes):
        _procmap_query_works = False  # the query was refused (or not asked for): the text, from now on
        return _parse_shared_maps(read)
    if read in _PERMISSION:
        return []  # counted with the fd tables: same cause, same remedy
    raise OSError(read, os.strerror(read))


_MODE_BITS = {"r": 1, "w": 2, "rw": 3, "-": 0}
_BITS_MODE = ("-", "r", "w", "rw")


def _index_maps(
    pid: int, maps: list[SharedMap], ipc_inode: int | None, index: HolderIndex, file_devs: frozenset[int]
) -> None:
    """One hold per object a process maps, whose mode is the union of all its mappings of it (rw and r: rw).

    ipc_inode: the inode of its ns/ipc (read when it maps a SysV segment), or -errno when that could not be read.
    """
    segments: dict[int, int] = {}  # SysV shmid -> mode bits
    files: dict[FileKey, int] = {}  # (st_dev, inode) -> mode bits
    for mode, dev, inode, path in maps:
        if path.startswith(b"/SYSV"):
            segments[inode] = segments.get(inode, 0) | _MODE_BITS[mode]
        elif dev in file_devs:
            files[(dev, inode)] = files.get((dev, inode), 0) | _MODE_BITS[mode]
    if segments:
        if ipc_inode is None or ipc_inode < 0:  # the shmid is only unique inside it
            code = -ipc_inode if ipc_inode else errno.EIO
            raise OSError(code, os.strerror(code))
        for shmid, bits in segments.items():
            index.shm_segments.setdefault((ipc_inode, shmid), []).append((pid, None, _BITS_MODE[bits]))
    for key, bits in files.items():
        index.files.setdefault(key, []).append((pid, None, _BITS_MODE[bits]))


def _process(pid: int, stat: bytes, uid: int, raw_cmdline: bytes) -> Process | None:
    """A Process from its stat and cmdline bytes; None when the stat cannot be parsed."""
    parsed = parse_stat(stat)
    if parsed is None:
        return None
    comm, state, ppid, start = parsed
    # one decode, then split: NUL never appears inside a decoded argument (as os.fsdecode of each, 5x faster)
    cmdline = tuple(os.fsdecode(raw_cmdline.rstrip(b"\0")).split("\0")) if raw_cmdline else ()
    return Process(pid, ppid, comm, cmdline, uid, user_name(uid), start, state)


def read_process(pid: int, dir_fd: int) -> Process | None:
    """The process behind an open /proc/PID directory fd; None when its stat cannot be parsed."""
    return _process(pid, *read_process_head(dir_fd))


def process_at(pid: int, proc_root: str = "/proc") -> Process | None:
    """The process now behind `pid`, read through one directory fd; None when gone, unreadable or pid <= 0."""
    if pid <= 0:
        return None
    try:
        dir_fd = os.open(f"{proc_root}/{pid}", _DIR_FLAGS)
    except OSError:
        return None
    try:
        return read_process(pid, dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)


def pass_arguments(config: ProcPassConfig) -> tuple:
    """read_processes' arguments for the pass `config` asks for (ipcwatch.native.passthread.early_args makes the
    default scan's: a test keeps the two the same)."""
    maps_mode = MAPS_NONE if not config.read_maps else MAPS_FALLBACK if _procmap_query_works else MAPS_TEXT
    return (config.proc_root, config.file_devs, maps_mode, config.read_anon, bool(config.visitors))


def read_proc_pass(config: ProcPassConfig) -> list[ProcessRecord]:
    """What the pass reads of every process: one native call that releases the GIL throughout (run it in a thread
    beside other reads), or the Python twin."""
    return read_processes(*pass_arguments(config))


def index_processes(records: list[ProcessRecord], config: ProcPassConfig) -> HolderIndex:
    """Index what each process of `read_proc_pass` holds, then run the visitors. `records` is consumed (emptied):
    each record is freed once indexed, so the pass's reads and the index are not both whole at once."""
    index = HolderIndex()
    visits: list[tuple[int, Process, tuple | None, list[FdEntry] | None]] = []
    records.reverse()
    while records:
        rec = records.pop()
        pid = rec[0]
        if len(rec) == 2:  # its stat could not be read
            if rec[1] not in (errno.ENOENT, errno.ESRCH):  # else gone
                index.errors.append(ScanError(f"{config.proc_root}/{pid}", os.strerror(rec[1])))
            continue
        _, stat, uid, raw_cmdline, fds, maps, ipc_inode, waits = rec
        proc = _process(pid, stat, uid, raw_cmdline)
        if proc is None:
            index.errors.append(ScanError(f"{config.proc_root}/{pid}/stat", "could not be parsed"))
            continue
        index.processes[pid] = proc
        try:
            if isinstance(fds, int):
                if fds not in _PERMISSION:
                    raise OSError(fds, os.strerror(fds))  # gone (ENOENT, ESRCH) or an error to report
                index.unreadable_fd_tables += 1
            else:
                _index_fds(pid, fds, index, config.read_anon, config.file_devs)
            if config.read_maps:
                _index_maps(pid, _maps_of(maps), ipc_inode, index, config.file_devs)
            # the fds go with a syscall file the pass read: a wait on an fd is named from the same moment
            visits.append((pid, proc, waits, fds if waits and waits[1] and isinstance(fds, list) else None))
        except _GONE:
            index.processes.pop(pid, None)
        except OSError as exc:
            index.errors.append(ScanError(f"{config.proc_root}/{pid}", exc.strerror or str(exc)))
    if config.visitors:
        _visit(visits, index, config)
    if index.unreadable_fd_tables:
        index.errors.append(
            ScanError(
                config.proc_root,
                f"the fds and mappings of {index.unreadable_fd_tables} processes are not readable "
                "(permission denied): their holds are not shown; run as root to see them",
            )
        )
    return index


def _visit(
    visits: list[tuple[int, Process, tuple | None, list[FdEntry] | None]], index: HolderIndex, config: ProcPassConfig
) -> None:
    """Run the visitors on each process: what the pass read of it, the rest through its /proc/PID directory opened
    again when a visitor needs it (one at a time), and only while its start time says it is still the process the
    pass read: a pid recycled since is not visited further."""
    proc_fd = os.open(config.proc_root, _DIR_FLAGS)
    try:
        for pid, proc, waits, fds in visits:
            proc_dir = ProcDir(proc_fd, pid, proc.start, waits, fds)
            try:
                for visit in config.visitors:
                    visit(pid, proc_dir, proc)
            except _GONE:
                if not proc_dir.lost:  # gone while visited (not before: the pass's record stands)
                    index.processes.pop(pid, None)
            except OSError as exc:
                index.errors.append(ScanError(f"{config.proc_root}/{pid}", exc.strerror or str(exc)))
            finally:
                proc_dir.close()
    finally:
        os.close(proc_fd)


def scan_processes(config: ProcPassConfig) -> HolderIndex:
    """Walk every /proc/PID once and index what each one holds: the pass scan() runs in two halves (the read in a
    thread beside the object reads, then the indexing), in one call."""
    return index_processes(read_proc_pass(config), config)


@functools.cache
def boot_time() -> float:
    """Seconds since the epoch at boot (btime in /proc/stat)."""
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def start_epoch(start_ticks: int) -> float:
    """A process start time in clock ticks since boot, as seconds since the epoch."""
    return boot_time() + start_ticks / CLOCK_TICKS
