"""eventfd and signalfd objects: anon_inode fds met in the /proc pass, described by their fdinfo.

An eventfd's ref is `eventfd:ID`, ID being the `eventfd-id` of its fdinfo: a number the kernel gives each eventfd,
unique host-wide while it exists (reused only after it is freed), so every process holding the same eventfd
(inherited or passed over a socket) is one holder of one object. On a kernel whose fdinfo has no id, each fd is
its own object, `eventfd:PID:FD`. A signalfd has no id at all, and it reads the signals of whichever process reads
it, so each process's fd is its own object: `signalfd:PID:FD`. Neither is ever stale: a single holder is the
normal case (a process's own wake-up channel), and nothing outlives its last fd.
"""

from __future__ import annotations

from ipcwatch.kinds import Kind
from ipcwatch.scan.info import EventfdInfo, SignalfdInfo
from ipcwatch.scan.model import IpcObject
from ipcwatch.scan.procs import AnonFd, HolderIndex
from ipcwatch.scan.sigset import mask_names, parse_mask

_ACCESS = {0: "r", 1: "w", 2: "rw"}


def _mode(info: dict[str, str]) -> str:
    try:
        return _ACCESS.get(int(info.get("flags", ""), 8) & 3, "?")
    except ValueError:
        return "?"


def anon_ref(pid: int, fd: int, kind: str, info: dict[str, str]) -> str:
    """`eventfd:ID` when the kernel names the eventfd, else `KIND:PID:FD`."""
    eid = _eventfd_id(info) if kind == Kind.EVENTFD else None
    return f"{kind}:{pid}:{fd}" if eid is None else f"{Kind.EVENTFD}:{eid}"


def _eventfd_id(info: dict[str, str]) -> int | None:
    eid = info.get("eventfd-id", "")
    return int(eid) if eid.isascii() and eid.isdigit() else None


def _eventfd(info: dict[str, str]) -> EventfdInfo:
    semaphore = info.get("eventfd-semaphore")
    return EventfdInfo(
        count=parse_mask(info.get("eventfd-count", "")),  # printed in hex, like a mask
        eventfd_id=_eventfd_id(info),
        semaphore=None if semaphore is None else semaphore.strip() == "1",
    )


def _signalfd(info: dict[str, str]) -> SignalfdInfo:
    mask = parse_mask(info.get("sigmask", ""))
    return SignalfdInfo(None if mask is None else f"{mask:016x}", () if mask is None else tuple(mask_names(mask)))


_INFO = {Kind.EVENTFD: _eventfd, Kind.SIGNALFD: _signalfd}  # kind -> its record from the fdinfo fields


def anon_objects(index: HolderIndex, kinds: frozenset[str]) -> list[IpcObject]:
    """One object per eventfd (all its holders) and per signalfd fd."""
    groups: dict[str, list[AnonFd]] = {}
    for entry in index.anon_fds:
        pid, fd, kind, info = entry
        if kind in kinds:
            groups.setdefault(anon_ref(pid, fd, kind, info), []).append(entry)
    out = []
    for ref, entries in groups.items():
        holders = index.holders([(pid, fd, _mode(info)) for pid, fd, _, info in entries])
        if not holders:
            continue
        oldest = min(holders, key=lambda h: (h.start, h.pid))
        proc = index.processes[oldest.pid]
        kind, fdinfo = Kind(entries[0][2]), entries[0][3]
        info = _INFO[kind](fdinfo)
        out.append(
            IpcObject(
                ref=ref,
                kind=kind,
                name=None,
                id=info.eventfd_id if isinstance(info, EventfdInfo) else None,
                key=None,
                owner=proc.user,
                uid=proc.uid,
                mode=None,
                size=None,
                holders=holders,
                stale=False,
                stale_reason=None,
                identity=f"{ref}@{oldest.pid}@{oldest.start}",
                info=info,
            )
        )
    return out
