"""Remove IPC objects: SysV IPC_RMID by id, POSIX objects and stale FIFO/socket files by unlink through a dir fd.

Just before acting, the object's kind is re-scanned and its `identity` compared with the one the user saw; a
file entry is then lstat'ed relative to an open directory fd and unlinked only if its dev/inode/uid/type still
match (a planted symlink or a swapped file is never followed nor removed). An object in use (holders, attached
processes, waiters) is removed only with `force_in_use`, the caller's second confirmation naming who uses it.

An object of another namespace's view (a ref with `@mnt:` or `@ipc:`) is unlinked through a directory fd opened
with `open_beneath` under `/proc/PID/root` of a process that is still in that namespace (checked on the same
/proc/PID directory fd, so a reused pid is refused); POSIX shm and semaphores under its `/dev/shm`, queues under its
`/dev/mqueue`. The same dev/inode/uid/type check then applies.

Residual race: between the lstat and the unlink the entry can be renamed over. In the sticky /dev/shm and /tmp
only the entry's owner can do that, so the worst case removes an entry its own owner just put there.
"""

from __future__ import annotations

import os
import stat as stat_mod

from ipcwatch import libc_write
from ipcwatch.actions.outcome import Outcome, Status, done, failed, from_oserror, read_only_refusal, refused
from ipcwatch.actions.verify import in_its_namespace, recheck, users
from ipcwatch.kinds import Home, Removal, spec
from ipcwatch.procfs import stat_identity
from ipcwatch.scan import IpcObject, ScanConfig
from ipcwatch.scan.info import FifoInfo, UnixInfo
from ipcwatch.scan.namespaces import in_other_namespace
from ipcwatch.scan.nsread import open_view_dir

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def not_removable(obj: IpcObject) -> str | None:
    """Why this object cannot be removed at all (None when it can)."""
    kind = spec(obj.kind)
    if kind.not_removable:
        return kind.not_removable
    if isinstance(obj.info, UnixInfo) and obj.id is not None:
        return "a live socket cannot be removed; only an orphan socket file can"
    if isinstance(obj.info, FifoInfo) and obj.info.deleted:
        return "the FIFO file is already deleted; it goes away when its holders close it"
    if kind.home is Home.PATH and not (obj.name or "").startswith("/"):
        return "no file path is known for it"
    if kind.home is Home.PATH and in_other_namespace(obj.ref):
        return "its file is in another namespace's view: remove it from inside that namespace"
    return None


def home_dir(home: Home, config: ScanConfig) -> str:
    """The directory a kind's files live in, as `config` (the scanner's view) names it."""
    return config.mqueue_dir if home is Home.MQUEUE_DIR else config.shm_dir


def entry_of(obj: IpcObject, config: ScanConfig) -> tuple[str, str]:
    """(directory, entry name) of a file-backed object."""
    kind, name = spec(obj.kind), obj.name or ""
    if kind.home is Home.PATH:
        return os.path.dirname(name), os.path.basename(name)
    return home_dir(kind.home, config), kind.entry_prefix + name


def unlink_checked(directory: str | int, entry: str, identity: str, uid: int | None, kind: str, what: str) -> Outcome:
    """Unlink `entry` in `directory` (a path, or an open directory fd this call closes) via a directory fd, only if
    it is still the file with this dev/inode/uid/type."""
    if not entry or "/" in entry or entry in (".", ".."):
        if isinstance(directory, int):
            os.close(directory)
        return refused(f"{what}: {entry!r} is not a plain directory entry")
    try:
        dir_fd = directory if isinstance(directory, int) else os.open(directory, _DIR_FLAGS | os.O_NOFOLLOW)
    except OSError as exc:
        return from_oserror(exc, what)
    try:
        st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        if stat_mod.S_ISLNK(st.st_mode):
            return refused(f"{what}: the entry is now a symbolic link; not followed, not removed")
        file_type = spec(kind).file_type
        if (
            file_type is None
            or not file_type(st.st_mode)
            or stat_identity(st) != identity
            or (uid is not None and st.st_uid != uid)
        ):
            return refused(f"{what}: the file was replaced since it was shown; nothing was removed")
        os.unlink(entry, dir_fd=dir_fd)
    except OSError as exc:
        return from_oserror(exc, what)
    finally:
        os.close(dir_fd)
    return done(f"removed {what}")


def _rmid(obj: IpcObject, ref: str, attached: bool) -> Outcome:
    try:
        libc_write.ipc_rmid(obj.kind, obj.id if obj.id is not None else -1)
    except OSError as exc:
        return from_oserror(exc, f"remove {ref}")
    return done(f"removed {ref}" + (" (freed when the last process detaches)" if attached else ""))


def remove(
    ref: str,
    expected: str | None,
    *,
    force_in_use: bool = False,
    read_only: bool = False,
    config: ScanConfig | None = None,
) -> Outcome:
    """Remove the object behind `ref` if it is still the one with identity `expected`.

    Refused when it is in use and `force_in_use` is not given; the outcome's data then lists who uses it.
    """
    if read_only:
        return read_only_refusal(f"remove {ref}")
    config = config or ScanConfig()
    try:
        found = recheck(ref, expected, config)
        if isinstance(found, Outcome):
            return found
        reason = not_removable(found)
        if reason:
            return refused(f"{ref}: {reason}")
        in_use = users(found)
        if in_use and not force_in_use:
            return Outcome(
                Status.REFUSED,
                f"refused: {ref} is in use ({'; '.join(in_use)}); removing it needs a second confirmation "
                "(--force-in-use)",
                in_use,
            )
        if spec(found.kind).removal is Removal.IPC_RMID:
            attached = spec(found.kind).shared_memory and bool(in_use)
            return in_its_namespace(found, lambda: _rmid(found, ref, attached), f"remove {ref}")
        directory, entry = entry_of(found, config)
        if in_other_namespace(found.ref):
            try:
                dir_fd = open_view_dir(found.namespace, spec(found.kind).view_dir)
                return unlink_checked(dir_fd, entry, found.identity, found.uid, found.kind, ref)
            except OSError as exc:
                return from_oserror(exc, f"remove {ref}")
        return unlink_checked(directory, entry, found.identity, found.uid, found.kind, ref)
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"remove {ref}: {exc}")
