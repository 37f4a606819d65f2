"""Re-scan an object just before acting and make sure it is still the one the user saw (same `identity`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from ipcwatch.actions.outcome import Outcome, Status, failed, from_oserror, refused
from ipcwatch.kinds import KINDS, PATH_KINDS, Kind, parse_kind, spec
from ipcwatch.record import replace
from ipcwatch.scan import IpcObject, ScanConfig, scan
from ipcwatch.scan.info import PosixMqInfo, SysvSemInfo, SysvShmInfo
from ipcwatch.scan.namespaces import split_ref
from ipcwatch.scan.nsread import in_namespace
from ipcwatch.scan.sysv import current_identity
from ipcwatch.text import human_size


def kind_of(ref: str) -> Kind | None:
    """The kind a ref names (`sysv-shm@ipc:4026532251:7` too); None when it names none."""
    parsed = split_ref(ref)
    return None if parsed is None else parse_kind(parsed[0])


def config_for(refs: Iterable[str], base: ScanConfig | None = None) -> ScanConfig:
    """The narrowest scan that sees these refs: their kinds only, plus the directories of FIFO/socket paths."""
    refs = list(refs)
    base = base or ScanConfig()
    kinds = {kind_of(r) for r in refs} - {None}
    dirs = list(base.file_dirs)
    for ref in refs:
        kind, _, rest = ref.partition(":")
        if kind in PATH_KINDS and rest.startswith("/"):
            parent = os.path.dirname(rest)
            if parent not in dirs:
                dirs.append(parent)
    # A re-check needs identities and holders, not the thread analysis (it reads every thread of the host), except
    # for a SysV queue: a receiver or sender asleep on it holds no fd, so its waiters are the only sign it is in use.
    waiters = base.waiters and Kind.SYSV_MSG in kinds
    return replace(base, kinds=frozenset(kinds) or frozenset(KINDS), file_dirs=tuple(dirs), waiters=waiters)


def lookup(ref: str, config: ScanConfig | None = None, *, exact: bool = False) -> IpcObject | None | Outcome:
    """The object behind `ref` now (None when it is gone); an Outcome when the scan itself failed. `ref` as a person
    gave it (raw or as shown: `Snapshot.find`), or `exact`: an object's raw ref, matched as it is."""
    try:
        found = scan(config_for([ref], config))
        return found.get(ref) if exact else found.find(ref)
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"could not re-scan {ref}: {exc}")


def recheck(ref: str, expected: str | None, config: ScanConfig | None = None) -> IpcObject | Outcome:
    """The current object behind `ref` (an object's raw ref) if its identity is still `expected` (any identity when
    None)."""
    found = lookup(ref, config, exact=True)
    if isinstance(found, Outcome):
        return found
    if found is None:
        return Outcome(Status.GONE, f"{ref}: already gone")
    if expected is not None and found.identity != expected:
        return refused(
            f"{ref} was replaced by another object since it was shown "
            f"(expected identity {expected}, found {found.identity}); nothing was changed"
        )
    return found


def describe(obj: IpcObject) -> str:
    """One line naming the object (raw: escape it to show)."""
    parts = [f"owner {obj.owner}"]
    if obj.key is not None:
        parts.insert(0, f"key 0x{obj.key & 0xFFFFFFFF:08x}")
    if obj.size is not None:
        parts.append("size " + (str(obj.size) if spec(obj.kind).size_is_count else human_size(obj.size)))
    if obj.stale_reason:
        parts.append(obj.stale_reason)
    return f"{obj.ref} ({', '.join(parts)})"


def users(obj: IpcObject) -> list[str]:
    """Who is using the object right now (raw lines): holders, attachments, waiters. Empty when unused."""
    lines = [
        f"pid {h.pid} ({h.comm}, user {h.user}) via {'a mapping' if h.fd is None else f'fd {h.fd}'}"
        for h in obj.holders
    ]
    info = obj.info
    if isinstance(info, SysvShmInfo) and info.nattch > len({h.pid for h in obj.holders}):
        lines.append(f"{info.nattch} attachment(s) in total (some holders may be invisible)")
    lines += [f"pid {w.pid} thread {w.tid} waiting ({w.op})" for w in obj.waiters]
    sleepers = (info.ncnt or 0) + (info.zcnt or 0) if isinstance(info, SysvSemInfo) else 0
    if sleepers and not obj.waiters:
        lines.append(f"{sleepers} process(es) asleep on the semaphores")
    if isinstance(info, PosixMqInfo) and info.notify_pid:
        lines.append(f"pid {info.notify_pid} registered for notification")
    return lines


def resolve(ref: str, kinds: Iterable[str] = (), config: ScanConfig | None = None) -> IpcObject | Outcome:
    """The object behind `ref` for a command that takes only `kinds` (any kind when empty), or why not."""
    found = lookup(ref, config)
    if isinstance(found, Outcome):
        return found
    if found is None:
        return Outcome(Status.GONE, f"no such object: {ref} (see `ipcwatch list`)")
    allowed = tuple(k for k in KINDS if k in set(kinds))  # in the registry's order
    if allowed and found.kind not in allowed:
        return refused(f"{ref} is a {found.kind}; this takes {', '.join(allowed)}")
    return found


def in_its_namespace(obj: IpcObject, work: Callable[[], Outcome], what: str, timeout: float = 0.0) -> Outcome:
    """Run a SysV action on `obj` in the IPC namespace it lives in: on this thread when that is this thread's,
    else on a fresh thread that joins it, re-checks there that the id still names `obj` (identity), runs `work`
    and ends. No SEM_UNDO may be used there: joining an IPC namespace drops the thread's undo list."""
    ns = obj.namespace
    if ns is None or os.stat("/proc/thread-self/ns/ipc").st_ino == ns.inode:
        return work()

    def inside() -> Outcome:
        ipc_id = obj.id if obj.id is not None else -1
        if current_identity(obj.kind, ipc_id, ns) != obj.identity:
            return refused(f"{obj.ref} was replaced or removed in its namespace; nothing was changed")
        return work()

    try:
        return in_namespace(ns, inside, timeout + 5.0)
    except OSError as exc:  # the namespace is gone (ProcessLookupError), cannot be entered, or timed out
        return from_oserror(exc, what)
