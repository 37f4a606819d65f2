"""Safe readers of shared-memory bytes: one small "byte source" API for the hexdump CLI and the dashboard's view.

    source = open_source(obj)       # obj: a sysv-shm, posix-shm or posix-sem IpcObject from a scan
    try:
        status = source.status()    # Status(size, gone): re-checked on every call (do it once per poll)
        data = source.read(offset, length)   # shorter than asked (down to b"") when the object shrank
    finally:
        source.close()              # or `with open_source(obj) as source:`

`BytesSource(data, title)` serves an in-memory buffer (a peeked message) through the same API. Attributes: `title`
(raw: the ref or the caller's name for it; escape it to show it) and `note` (None, or an escaped side effect of
reading that the user must be told: "attached SHM_RDONLY: nattch/atime changed"). `read` raises `SourceGone` when
the object no longer exists and `SourceError` for other failures; both carry a message that is safe to print.
Sources are thread-safe, and `read`/`status` may block on /proc or shmat: call them from a worker, never a UI
thread.

How each kind is read, and why:
- POSIX objects (/dev/shm files): one fd opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC, checked to be the regular
  file the scan saw (dev/inode), read with `os.pread`. Never mmap: a truncate would SIGBUS us; pread just returns
  short, and pread of a sparse hole allocates nothing. An unlinked object stays readable through the fd (gone=True).
- SysV segments: through `/proc/PID/map_files/<range>` of a process that has it attached (no side effect on the
  segment; needs CAP_SYS_ADMIN), else by attaching SHM_RDONLY for each read and detaching at once, which changes
  nattch/atime/dtime/lpid (said in `note`; `open_source(obj, allow_attach=False)` refuses that with
  `AttachRefused`, for --read-only). The segment's identity (id, key, creator, ctime, size) is re-checked in
  /proc/sysvipc/shm by every `status()` and by a read when the last check is older than IDENTITY_TTL, and once
  more after each attach, so a removed segment, or a new one that reused its id, is never read once detected.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from types import TracebackType

import sysv_ipc

from ipcwatch.kinds import KINDS, MAPPED_KINDS, Kind, spec
from ipcwatch.procfs import maps_entry, read_at, stat_identity
from ipcwatch.record import record
from ipcwatch.scan.model import IpcObject
from ipcwatch.scan.namespaces import in_other_namespace
from ipcwatch.scan.nsread import open_view_dir, run_in
from ipcwatch.scan.parsers import parse_stat, parse_table
from ipcwatch.scan.posix import open_regular
from ipcwatch.scan.sysv import row_identity
from ipcwatch.shmsearch import SEARCH_WINDOW, search  # noqa: F401 - the hex viewer's search, re-exported
from ipcwatch.text import escape

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import TypeVar
    T = TypeVar("T")

READABLE_KINDS = tuple(k for k in KINDS if k in MAPPED_KINDS)  # shared memory and the files of named semaphores
IDENTITY_TTL = 0.5  # seconds a SysV identity check is trusted by reads (status() always re-checks)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class SourceError(Exception):
    """A read failed; the message is escaped and safe to print."""


class SourceGone(SourceError):
    """The object no longer exists (removed, or its id now names another object)."""


class AttachRefused(SourceError):
    """Reading would attach a SysV segment (a change to it), and the caller forbade that (--read-only)."""


@record
class Status:
    """The object's size now (None when unknown) and whether it is gone (removed or unlinked)."""

    size: int | None
    gone: bool


class ByteSource:
    """The bytes of one object, read on demand. Subclasses implement `status`, `read` and `close`."""

    title: str = ""
    note: str | None = None

    def status(self) -> Status:
        raise NotImplementedError

    def size(self) -> int | None:
        return self.status().size

    def read(self, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds; safe to call twice."""

    def __enter__(self) -> ByteSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _check_range(offset: int, length: int) -> None:
    if offset < 0 or length < 0:
        raise ValueError("offset and length must not be negative")


class BytesSource(ByteSource):
    """An in-memory buffer (a peeked message, a recorded segment) behind the byte-source API."""

    def __init__(self, data: bytes, title: str, note: str | None = None) -> None:
        self._data = bytes(data)
        self.title = title
        self.note = note

    def status(self) -> Status:
        return Status(len(self._data), False)

    def read(self, offset: int, length: int) -> bytes:
        _check_range(offset, length)
        return self._data[offset : offset + length]


def _os_message(exc: OSError) -> str:
    return escape(exc.strerror or str(exc))


class FileSource(ByteSource):
    """A /dev/shm file read with pread through one fd that was checked to be the object the scan saw."""

    def __init__(self, path: str, title: str, identity: str | None = None, dir_fd: int | None = None) -> None:
        self.title = title
        self._lock = threading.Lock()  # a close never lands in the middle of another thread's pread
        try:
            self._fd: int | None = open_regular(path, dir_fd=dir_fd)
        except FileNotFoundError as exc:
            raise SourceGone(f"{escape(title)} no longer exists") from exc
        except OSError as exc:
            raise SourceError(f"cannot open {escape(title)}: {_os_message(exc)}") from exc
        if identity is not None and stat_identity(os.fstat(self._fd)) != identity:
            self.close()
            raise SourceGone(f"{escape(title)} was replaced by another object since it was listed")

    def _fileno(self) -> int:
        if self._fd is None:
            raise SourceError(f"{escape(self.title)} is closed")
        return self._fd

    def status(self) -> Status:
        st = os.fstat(self._fileno())
        return Status(st.st_size, st.st_nlink == 0)

    def read(self, offset: int, length: int) -> bytes:
        _check_range(offset, length)
        with self._lock:
            try:
                return os.pread(self._fileno(), length, offset)
            except OSError as exc:
                raise SourceError(f"reading {escape(self.title)}: {_os_message(exc)}") from exc

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _map_range(maps: bytes, shmid: int, key: int) -> str | None:
    """The `start-end` of a shared /SYSV mapping of segment `shmid` (maps shows the id as the inode), named as
    /proc/PID/map_files names it (hex without padding)."""
    tag = b"/SYSV%08x" % (key & 0xFFFFFFFF)
    for line in maps.split(b"\n"):
        if b"/SYSV" not in line:
            continue
        entry = maps_entry(line)
        if entry is not None and entry.inode == shmid and entry.shared and entry.path.split(b" ", 1)[0] == tag:
            return f"{entry.start:x}-{entry.end:x}"
    return None


class SysvSource(ByteSource):
    """A SysV segment, read through a holder's map_files entry when possible, else attached SHM_RDONLY per read."""

    def __init__(
        self,
        obj: IpcObject,
        *,
        proc_root: str = "/proc",
        sysvipc_dir: str = "/proc/sysvipc",
        allow_attach: bool = True,
        identity_ttl: float = IDENTITY_TTL,
    ) -> None:
        if obj.id is None:
            raise SourceError(f"{escape(obj.ref)} has no id")
        self.title = obj.ref
        self._shmid = obj.id
        self._key = obj.key or 0
        self._identity = obj.identity
        ns = obj.namespace  # another IPC namespace's table is read, and its segment attached, inside it
        self._ns = None if ns is None or ns.host else ns
        self._table = os.path.join(sysvipc_dir, "shm")
        self._lock = threading.Lock()  # a close never lands in the middle of another thread's pread
        self._fd: int | None = None
        self._identity_ttl = identity_ttl
        self._checked: tuple[float, dict[str, int]] | None = None  # (monotonic time, row) of the last good check
        self._gone = False  # sticky: once seen removed or replaced, never read again
        self._closed = False  # a late read from a worker must not attach a closed source
        if self.status().gone:
            raise SourceGone(f"{escape(self.title)} no longer exists")
        mapped = [holder for holder in obj.holders if holder.fd is None]
        for holder in mapped:
            self._fd = self._open_mapping(proc_root, holder.pid, holder.start)
            if self._fd is not None:
                return
        if not allow_attach:
            why = "no holder's mapping could be opened (that needs root)" if mapped else "no process has it attached"
            raise AttachRefused(
                f"{escape(self.title)}: {why}; reading it would attach it (nattch/atime change), "
                "which --read-only forbids"
            )
        self.note = "attached SHM_RDONLY for each read: the segment's nattch, atime and dtime changed"

    def _open_mapping(self, proc_root: str, pid: int, start: int) -> int | None:
        """An fd on the segment through /proc/PID/map_files, when the process still maps it and we may open it."""
        try:
            dir_fd = os.open(os.path.join(proc_root, str(pid)), _DIR_FLAGS)
        except OSError:
            return None
        try:
            stat = parse_stat(read_at(dir_fd, "stat", 8192))
            if stat is None or stat[3] != start:
                return None  # the pid now names another process
            if self._ns is not None and os.stat("ns/ipc", dir_fd=dir_fd).st_ino != self._ns.inode:
                return None  # it maps a segment with this id in another IPC namespace
            span = _map_range(read_at(dir_fd, "maps", 64 << 20), self._shmid, self._key)
            if span is None:
                return None
            fd = os.open(f"map_files/{span}", os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            return None  # gone, unmapped, or no CAP_SYS_ADMIN
        finally:
            os.close(dir_fd)
        if os.fstat(fd).st_ino != self._shmid:
            os.close(fd)
            return None
        return fd

    def _in_ns(self, work: Callable[[], T]) -> T:
        """`work()` here for the host's segment, else on a short-lived thread inside its IPC namespace."""
        try:
            return run_in(self._ns, work)
        except (ProcessLookupError, TimeoutError) as exc:  # the namespace is gone, or its read hangs
            raise SourceError(f"{escape(self.title)}: {escape(str(exc))}") from exc

    def _row(self) -> dict[str, int] | None:
        """The segment's row if its id still names the same segment (read inside its IPC namespace)."""
        return self._in_ns(self._row_here)

    def _row_here(self) -> dict[str, int] | None:
        """`_row` on a thread already in the segment's IPC namespace."""
        try:
            with open(self._table, "rb") as f:
                rows = parse_table(f.read())
        except OSError as exc:
            raise SourceError(f"reading {escape(self._table)}: {_os_message(exc)}") from exc
        for row in rows:
            if row.get("shmid") == self._shmid:
                same = row_identity(Kind.SYSV_SHM, row, self._ns) == self._identity
                return row if same else None
        return None

    def _checked_row(self, *, fresh: bool, here: bool = False) -> dict[str, int] | None:
        """The segment's row when it is still the same segment, re-read from /proc when `fresh` or when the last
        check is older than the TTL; None once it was seen gone (for good). The caller holds the lock."""
        if self._gone:
            return None
        now = time.monotonic()
        if not fresh and self._checked is not None and now - self._checked[0] < self._identity_ttl:
            return self._checked[1]
        row = self._row_here() if here and self._ns is not None else self._row()
        if row is None:
            self._mark_gone()
            return None
        self._checked = (now, row)
        return row

    def _mark_gone(self) -> None:
        self._gone = True
        self._checked = None
        self._close_fd()  # do not keep a removed segment's memory alive through our fd

    def status(self) -> Status:
        with self._lock:
            row = self._checked_row(fresh=True)
        return Status(None, True) if row is None else Status(row.get("size"), False)

    def read(self, offset: int, length: int) -> bytes:
        _check_range(offset, length)
        with self._lock:
            if self._closed:
                raise SourceError(f"{escape(self.title)} is closed")
            row = self._checked_row(fresh=False)
            if row is None:
                raise SourceGone(f"{escape(self.title)} was removed")
            length = max(0, min(length, row.get("size", 0) - offset))
            if length == 0:
                return b""
            if self._fd is None:
                return self._read_attached(offset, length)
            try:
                return os.pread(self._fd, length, offset)
            except OSError as exc:
                raise SourceError(f"reading {escape(self.title)}: {_os_message(exc)}") from exc

    def _read_attached(self, offset: int, length: int) -> bytes:
        return self._in_ns(lambda: self._attach_and_read(offset, length))

    def _attach_and_read(self, offset: int, length: int) -> bytes:
        """Attach, re-check identity, read, detach: all on one thread (inside the namespace for another one's)."""
        try:
            memory = sysv_ipc.attach(self._shmid, flags=sysv_ipc.SHM_RDONLY)
        except (sysv_ipc.ExistentialError, ValueError) as exc:
            self._mark_gone()
            raise SourceGone(f"{escape(self.title)} was removed") from exc
        except sysv_ipc.PermissionsError as exc:
            raise SourceError(f"cannot attach {escape(self.title)}: permission denied") from exc
        except sysv_ipc.Error as exc:
            raise SourceError(f"cannot attach {escape(self.title)}: {escape(str(exc))}") from exc
        try:
            if self._checked_row(fresh=True, here=True) is None:  # the id was reused between the check and the attach
                raise SourceGone(f"{escape(self.title)} was removed")
            return memory.read(length, offset)
        finally:
            memory.detach()

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._close_fd()


def open_source(
    obj: IpcObject,
    *,
    allow_attach: bool = True,
    shm_dir: str = "/dev/shm",
    proc_root: str = "/proc",
    sysvipc_dir: str = "/proc/sysvipc",
) -> ByteSource:
    """A byte source for a shared-memory object of the scan; raises SourceError (SourceGone) when it cannot.

    `allow_attach=False` (--read-only) raises AttachRefused rather than attach a SysV segment nobody maps."""
    kind = spec(obj.kind)
    if obj.kind == Kind.SYSV_SHM:
        return SysvSource(obj, proc_root=proc_root, sysvipc_dir=sysvipc_dir, allow_attach=allow_attach)
    if obj.kind in READABLE_KINDS and obj.name and "/" not in obj.name:
        filename = kind.entry_prefix + obj.name
        if not in_other_namespace(obj.ref):
            return FileSource(os.path.join(shm_dir, filename), obj.ref, obj.identity)
        try:  # another mount view's /dev/shm, reached under the root of a process in it
            dir_fd = open_view_dir(obj.namespace, kind.view_dir)
        except OSError as exc:
            raise SourceGone(f"{escape(obj.ref)}: {_os_message(exc)}") from exc
        try:
            return FileSource(filename, obj.ref, obj.identity, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
    raise SourceError(f"{escape(obj.ref)} is a {obj.kind}; bytes can be read from {', '.join(READABLE_KINDS)}")
