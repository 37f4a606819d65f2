"""Reading inside another namespace without ever moving the caller: IPC and network namespaces are joined by a
fresh, dedicated worker thread that ends afterwards; mount namespaces are never joined, their files are opened
under /proc/PID/root with no symlink followed.

- IPC: `read_ipc(ns)` -> that namespace's /proc/sysvipc tables and limits, read by a thread that did setns.
  A fresh thread has done no semaphore operation and will do none (HOSTILE 21), and is never reused.
- Network: `sock_diag_socket(ns)` -> a NETLINK_SOCK_DIAG socket created inside it (a socket keeps its namespace).
- Mount: `open_root(pid)`, `open_beneath(root_fd, "dev/shm/x")`, `list_beneath(root_fd, "dev/shm")`,
  `special_dirs(pid)` -> /dev/shm and /dev/mqueue st_dev of that root, for deduplication.

Everything under a container's root is hostile (HOSTILE 20): openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)
where the kernel has it, else O_NOFOLLOW on every component; `expected` re-checks (dev, inode).
"""

from __future__ import annotations

import errno
import functools
import os
import stat as stat_mod
import struct
from collections.abc import Callable

from ipcwatch.native.posixread import Lstat, list_files
from ipcwatch.record import NamedTuple
from ipcwatch.scan import limits, sysv
from ipcwatch.scan.model import ScanError
from ipcwatch.scan.namespaces import Namespace

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    import socket
    from typing import Any, TypeVar

    T = TypeVar("T")


CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
NS_FLAGS = {"ipc": CLONE_NEWIPC, "net": CLONE_NEWNET, "mnt": CLONE_NEWNS}
NETLINK_SOCK_DIAG = 4
MQUEUE_MAGIC = 0x19800202
DEFAULT_TIMEOUT = 5.0

SYS_OPENAT2 = 437  # the same number on x86-64 and aarch64 (the generic syscall table)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_IN_ROOT = 0x10
_OPEN_HOW = struct.Struct("=QQQ")  # struct open_how {u64 flags, mode, resolve}
_DIR_PATH = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

_openat2_state: dict[str, bool] = {}  # "available" -> False once the kernel said ENOSYS


@functools.cache
def _ctypes() -> tuple[Any, Any]:
    """(the ctypes module, libc), loaded on first use: only another namespace's reads need them (~2 ms to import)."""
    import ctypes  # noqa: PLC0415 - deferred: a scan of a host without other namespaces never needs it

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return ctypes, libc


def setns(fd: int, nstype: int) -> None:
    """setns(2) for the calling thread: os.setns on Python 3.12+, ctypes before."""
    if hasattr(os, "setns"):
        os.setns(fd, nstype)
        return
    ctypes, libc = _ctypes()
    if libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def open_namespace(ns: Namespace, proc_root: str = "/proc", tries: int = 4) -> int:
    """An fd on the namespace itself, through a process in it or a pin, checked to be that namespace (dev, inode).

    A pid reused since discovery opens another namespace: it is refused and the next candidate is tried.
    Raises ProcessLookupError when no candidate leads to it any more (the namespace is gone).
    """
    pids = ([ns.representative] if ns.representative is not None else []) + [
        p for p in ns.pids if p != ns.representative
    ]
    candidates = [f"{proc_root}/{pid}/ns/{ns.type}" for pid in pids[:tries]] + list(ns.pinned_by)
    for path in candidates:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == (ns.dev, ns.inode):
            return fd
        os.close(fd)
    raise ProcessLookupError(errno.ESRCH, f"{ns.tag}: no process or pin leads to it any more")


def in_namespace(ns: Namespace, work: Callable[[], T], timeout: float = DEFAULT_TIMEOUT, proc_root: str = "/proc") -> T:
    """Run `work` on a new thread that first joins `ns` (ipc or net), then ends. Raises what setns or `work` raised,
    TimeoutError when it takes longer than `timeout` (the thread is a daemon and is abandoned, never reused)."""
    if ns.type not in ("ipc", "net"):
        raise ValueError(f"{ns.type} namespaces are never joined (read them under /proc/PID/root)")
    fd = open_namespace(ns, proc_root)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            setns(fd, NS_FLAGS[ns.type])
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
            return
        finally:
            os.close(fd)
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc

    import threading  # noqa: PLC0415 - deferred: only another namespace is joined, by a thread of its own

    worker = threading.Thread(target=run, name=f"ipcwatch-ns-{ns.tag}", daemon=True)
    try:
        worker.start()
    except BaseException:
        os.close(fd)  # no thread will own it
        raise
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"reading {ns.tag} took longer than {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def run_in(ns: Namespace | None, work: Callable[[], T], timeout: float = DEFAULT_TIMEOUT) -> T:
    """`work()` on this thread for the host's namespace (or None), else on a fresh thread inside `ns`."""
    return work() if ns is None or ns.host else in_namespace(ns, work, timeout)


# A NamedTuple, not a record: defined at import in a third of the time (every CLI command's start-up).
class IpcRead(NamedTuple):
    """What one IPC namespace holds: its /proc/sysvipc rows (by "shm", "msg", "sem") and its limits."""

    namespace: Namespace
    tables: dict[str, list[sysv.Row]]
    limits: dict[str, int]
    errors: list[ScanError]


def read_ipc(
    ns: Namespace, *, details: bool = True, timeout: float = DEFAULT_TIMEOUT, proc_root: str = "/proc"
) -> IpcRead:
    """The SysV tables and limits of IPC namespace `ns`, read by a thread inside it. With `details`, also what
    msgctl/semctl add (queue byte limits, semaphore values: semctl reads, never a semop). pids are host pids."""

    def work() -> IpcRead:
        errors: list[ScanError] = []
        tables = {}
        for kind, (name, _, _) in sysv.TABLES.items():
            tables[name] = sysv.read_table("/proc/sysvipc", name, errors)
            if details:
                sysv.read_details(kind, tables[name])
        return IpcRead(ns, tables, limits.read_limits("/proc/sys"), errors)

    return in_namespace(ns, work, timeout, proc_root)


def sock_diag_socket(ns: Namespace, timeout: float = DEFAULT_TIMEOUT, proc_root: str = "/proc") -> socket.socket:
    """A NETLINK_SOCK_DIAG socket that lives in network namespace `ns` (the caller owns and closes it)."""

    import socket  # noqa: PLC0415 - deferred: the scanner's own namespace is dumped natively (~3 ms to import)

    def work() -> socket.socket:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)

    return in_namespace(ns, work, timeout, proc_root)


# --- mount namespaces: never joined; files opened under /proc/PID/root without following a symlink -------------


def open_root(pid: int, proc_root: str = "/proc") -> int:
    """An O_PATH fd on the root directory of process `pid` (its mount namespace's view)."""
    return os.open(f"{proc_root}/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def open_view_dir(ns: Namespace | None, path: str) -> int:
    """A directory fd on `path` (e.g. "dev/shm") as namespace `ns`'s view shows it: opened with open_beneath under
    the root of a process still in `ns` (checked on the same /proc/PID directory fd, so a reused pid or a process
    that moved is passed over). ProcessLookupError when no process in it is left."""
    if ns is None or not ns.pids:
        raise ProcessLookupError(errno.ESRCH, "no process is in its namespace: its view cannot be reached")
    for pid in ns.pids:
        try:
            pid_fd = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue  # exited since the scan
        try:
            st = os.stat(f"ns/{ns.type}", dir_fd=pid_fd)
            if (st.st_dev, st.st_ino) != (ns.dev, ns.inode):
                continue
            root_fd = os.open("root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=pid_fd)
            try:
                return open_beneath(root_fd, path, os.O_RDONLY | os.O_DIRECTORY)
            finally:
                os.close(root_fd)
        except OSError:
            continue
        finally:
            os.close(pid_fd)
    raise ProcessLookupError(errno.ESRCH, f"no process left in {ns.tag}: its view cannot be reached")


def _openat2(root_fd: int, path: str, flags: int) -> int | None:
    """openat2 resolving `path` inside `root_fd` with no symlink; None when the kernel lacks openat2."""
    if _openat2_state.get("available") is False:
        return None
    ctypes, libc = _ctypes()
    how = ctypes.create_string_buffer(
        _OPEN_HOW.pack(flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    )
    fd = libc.syscall(
        ctypes.c_long(SYS_OPENAT2), ctypes.c_int(root_fd), os.fsencode(path), how, ctypes.c_size_t(_OPEN_HOW.size)
    )
    if fd < 0:
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            _openat2_state["available"] = False
            return None
        raise OSError(err, os.strerror(err), path)
    return int(fd)


def _components(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PermissionError(errno.EPERM, "'..' is refused under a container root", path)
    return parts


def _open_by_components(root_fd: int, parts: list[str], flags: int) -> int:
    """The openat2 fallback: every directory opened O_PATH|O_NOFOLLOW from the last, the leaf with O_NOFOLLOW; a
    symlink anywhere raises ELOOP, as openat2 does."""
    current = os.dup(root_fd)
    try:
        for i, part in enumerate(parts):
            leaf = i == len(parts) - 1
            try:
                nxt = os.open(part, flags | os.O_NOFOLLOW if leaf else _DIR_PATH, dir_fd=current)
            except NotADirectoryError:
                if stat_mod.S_ISLNK(os.stat(part, dir_fd=current, follow_symlinks=False).st_mode):
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), part) from None  # as openat2 says it
                raise
            if leaf:
                if flags & os.O_PATH and stat_mod.S_ISLNK(os.fstat(nxt).st_mode):  # O_PATH opens the link itself
                    os.close(nxt)
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), part)
                return nxt
            os.close(current)
            current = nxt
        raise AssertionError("no component")  # open_beneath opens the root itself
    finally:
        os.close(current)


def open_beneath(root_fd: int, path: str, flags: int = os.O_RDONLY, expected: os.stat_result | None = None) -> int:
    """Open `path` (relative to the container root `root_fd`) with no symlink followed anywhere on the way.

    A symlink raises OSError(ELOOP); with `expected`, a file whose (dev, inode) differ raises too.
    """
    flags |= os.O_CLOEXEC | (
        0 if flags & os.O_PATH else os.O_NONBLOCK | os.O_NOCTTY
    )  # openat2 refuses more with O_PATH
    parts = _components(path)
    if not parts:
        return os.dup(root_fd) if flags & os.O_PATH else os.open(".", flags, dir_fd=root_fd)
    # Two names or fewer (dev/shm, dev/mqueue: what every scan opens under each mount view) cost two opens by hand,
    # about one openat2 through ctypes, and need no ctypes (~2 ms to load): the same refusals either way.
    fd = None if len(parts) <= 2 else _openat2(root_fd, "/".join(parts), flags)
    if fd is None:
        fd = _open_by_components(root_fd, parts, flags)
    if expected is not None:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            os.close(fd)
            raise OSError(errno.ESTALE, "replaced since it was listed", path)
    return fd


def list_open_dir(dir_fd: int, path: str, errors: list[ScanError] | None = None) -> list[tuple[str, Lstat]]:
    """Entries of an open directory with their lstat (never followed), in one call (ipcwatch.native.posixread);
    an entry that cannot be stat'ed goes to `errors` (`path` names the directory there). OSError when the
    directory cannot be read."""
    entries, failed = list_files(dir_fd)
    if errors is not None:
        errors += [ScanError(f"{path}/{name}", os.strerror(err)) for name, err in failed]
    return entries


def list_beneath(root_fd: int, path: str, errors: list[ScanError] | None = None) -> list[tuple[str, Lstat]]:
    """Entries of directory `path` under the root with their lstat (never followed); [] when it is missing."""
    try:
        dir_fd = open_beneath(root_fd, path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return []
    except OSError as exc:
        if errors is not None:
            errors.append(ScanError(path, exc.strerror or str(exc)))
        return []
    try:
        return list_open_dir(dir_fd, path, errors)
    finally:
        os.close(dir_fd)


def fs_magic(fd: int) -> int | None:
    """f_type from fstatfs (os.fstatvfs does not give it): tells an mqueue mount from a plain directory."""
    ctypes, libc = _ctypes()
    buf = ctypes.create_string_buffer(256)
    if libc.fstatfs(ctypes.c_int(fd), buf) != 0:
        return None
    return struct.unpack_from("=q", buf, 0)[0]


# A NamedTuple, not a record: defined at import in a third of the time (every CLI command's start-up).
class SpecialDirs(NamedTuple):
    """/dev/shm and /dev/mqueue as one mount namespace sees them: the key to deduplicate mount namespaces."""

    shm_dev: int | None  # None: no /dev/shm there
    mqueue_dev: int | None  # None: no mqueue filesystem mounted at /dev/mqueue ("not mounted", never guessed)

    @property
    def key(self) -> tuple[int | None, int | None]:
        return (self.shm_dev, self.mqueue_dev)


def special_dirs(root_fd: int, mqueue_devs: frozenset[int] = frozenset()) -> SpecialDirs:
    """The st_dev of /dev/shm and of the mqueue fs at /dev/mqueue under a root (symlinks refused, not followed).
    `mqueue_devs`: devices known to be mqueue filesystems (the scanner's own): no fstatfs (ctypes) for them."""
    devs: list[int | None] = []
    for path, magic in (("dev/shm", None), ("dev/mqueue", MQUEUE_MAGIC)):
        try:
            fd = open_beneath(root_fd, path, os.O_PATH | os.O_DIRECTORY)
        except OSError:
            devs.append(None)
            continue
        try:
            st = os.fstat(fd)
            ok = stat_mod.S_ISDIR(st.st_mode) and (magic is None or st.st_dev in mqueue_devs or fs_magic(fd) == magic)
            devs.append(st.st_dev if ok else None)
        finally:
            os.close(fd)
    return SpecialDirs(devs[0], devs[1])


def distinct_mount_views(
    namespaces: list[Namespace], proc_root: str = "/proc", mqueue_devs: frozenset[int] = frozenset()
) -> dict[tuple[int | None, int | None], list[Namespace]]:
    """Mount namespaces grouped by the (shm, mqueue) devices they see: read each group once. Namespaces whose
    root cannot be opened (gone, no process, not permitted) are left out. `mqueue_devs` as `special_dirs`."""
    groups: dict[tuple[int | None, int | None], list[Namespace]] = {}
    for ns in namespaces:
        if ns.type != "mnt" or ns.representative is None:
            continue
        try:
            root_fd = open_root(ns.representative, proc_root)
        except OSError:
            continue
        try:
            groups.setdefault(special_dirs(root_fd, mqueue_devs).key, []).append(ns)
        finally:
            os.close(root_fd)
    return groups
