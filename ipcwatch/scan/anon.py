"""eventfd and signalfd objects: anon_inode fds met in the /proc pass, described by their fdinfo.

An eventfd's ref is `eventfd:ID`, ID being the `eventfd-id` of its fdinfo: a number the kernel gives each eventfd,
unique host-wide while it exists (reused only after it is freed), so every process holding the same eventfd
(inherited or passed over a socket) is one holder of one object. On a kernel whose fdinfo has no id, each fd is
its own object, `eventfd:PID:FD`. A signalfd has no id at all, and it reads the signals of whichever process reads
it, so each process's fd is its own object: `signalfd:PID:FD`. Neither is ever stale: a single holder is the
normal case (a process's own wake-up channel), and nothing outlives its last fd.
"""

from __future__ import annotations

from ipcwatch.scan.model import IpcObject
from ipcwatch.scan.procs import AnonFd, HolderIndex
from ipcwatch.scan.sigset import mask_names, parse_mask

ANON_KINDS = ("eventfd", "signalfd")
_ACCESS = {0: "r", 1: "w", 2: "rw"}


def _mode(info: dict[str, str]) -> str:
    try:
        return _ACCESS.get(int(info.get("flags", ""), 8) & 3, "?")
    except ValueError:
        return "?"


def anon_ref(pid: int, fd: int, kind: str, info: dict[str, str]) -> str:
    """`eventfd:ID` when the kernel names the eventfd, else `KIND:PID:FD`."""
    eid = info.get("eventfd-id", "") if kind == "eventfd" else ""
    return f"eventfd:{eid}" if eid.isascii() and eid.isdigit() else f"{kind}:{pid}:{fd}"


def _fields(kind: str, info: dict[str, str]) -> dict[str, object]:
    if kind == "eventfd":
        eid = info.get("eventfd-id", "")
        semaphore = info.get("eventfd-semaphore")
        return {
            "count": parse_mask(info.get("eventfd-count", "")),  # printed in hex, like a mask
            "eventfd_id": int(eid) if eid.isascii() and eid.isdigit() else None,
            "semaphore": None if semaphore is None else semaphore.strip() == "1",
        }
    mask = parse_mask(info.get("sigmask", ""))
    return {
        "sigmask": None if mask is None else f"{mask:016x}",
        "signals": [] if mask is None else mask_names(mask),
    }


def anon_objects(index: HolderIndex, kinds: frozenset[str]) -> list[IpcObject]:
    """One object per eventfd (all its holders) and per signalfd fd."""
    groups: dict[str, list[AnonFd]] = {}
    for entry in index.anon_fds:
        pid, fd, kind, info = entry
        if kind in kinds:
            groups.setdefault(anon_ref(pid, fd, kind, info), []).append(entry)
    out = []
    for ref, entries in groups.items():
        holders = index.holders((pid, fd, _mode(info)) for pid, fd, _, info in entries)
        if not holders:
            continue
        oldest = min(holders, key=lambda h: (h.start, h.pid))
        proc = index.processes[oldest.pid]
        kind, info = entries[0][2], entries[0][3]
        fields = _fields(kind, info)
        out.append(
            IpcObject(
                ref=ref,
                kind=kind,
                name=None,
                id=fields.get("eventfd_id"),  # type: ignore[arg-type]
                key=None,
                owner=proc.user,
                uid=proc.uid,
                mode=None,
                size=None,
                holders=holders,
                stale=False,
                stale_reason=None,
                identity=f"{ref}@{oldest.process_identity}",
                fields=fields,
            )
        )
    return out
