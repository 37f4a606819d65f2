"""The scan's namespace step: which namespaces exist, their containers, and the SysV tables of each IPC namespace
other than the host's (read by a short-lived thread inside it: ipcwatch.scan.nsread).

The namespace of every process is noted during the scan's single /proc pass (`collector.visit` is a
ProcessVisitor); `read_namespaces` then names containers and reads the other IPC namespaces. A namespace that
vanishes or cannot be entered is skipped with a note, never the scan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from ipcwatch.scan import limits
from ipcwatch.scan.containers import containers_of
from ipcwatch.scan.model import ScanError
from ipcwatch.scan.namespaces import Discovery, Namespace, NamespaceCollector, NsKey
from ipcwatch.scan.nsread import read_ipc
from ipcwatch.scan.sysv import Row

SYSV_TABLES = (("sysv-shm", "shm"), ("sysv-msg", "msg"), ("sysv-sem", "sem"))
NOT_ROOT_NOTE = "not root: other IPC namespaces cannot be entered: their SysV objects are not listed"


@dataclass
class NamespaceReads:
    """What the namespace step found: every namespace (with container and limits) and other IPC namespaces' rows."""

    namespaces: tuple[Namespace, ...] = ()
    discovery: Discovery | None = None
    sysv: list[tuple[Namespace, dict[str, list[Row]]]] = field(default_factory=list)  # kind -> rows, per ns
    errors: list[ScanError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _by_key: dict[NsKey, Namespace] = field(default_factory=dict, repr=False)

    def host(self, ns_type: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == ns_type and ns.host), None)

    def own(self, ns_type: str) -> Namespace | None:
        """The namespace this process scans from (/proc/sysvipc, /dev/shm and /dev/mqueue show its objects): the
        host's, unless ipcwatch itself runs in another one (`unshare --ipc ipcwatch`)."""
        return self.namespace_of(os.getpid(), ns_type) or self.host(ns_type)

    def namespace_of(self, pid: int, ns_type: str) -> Namespace | None:
        """The namespace (with its container) process `pid` was in during the scan."""
        key = None if self.discovery is None else self.discovery.of_pid.get(pid, {}).get(ns_type)
        if key is None:
            return None
        if len(self._by_key) != len(self.namespaces):
            self._by_key.update((ns.key, ns) for ns in self.namespaces)
        return self._by_key.get(key)


def collector(proc_root: str = "/proc") -> NamespaceCollector:
    """A collector to add to the /proc pass as a visitor."""
    return NamespaceCollector(proc_root)


def read_namespaces(
    found: NamespaceCollector, kinds: frozenset[str], proc_root: str = "/proc", root: str = "/"
) -> NamespaceReads:
    """Name containers and read the SysV tables of every IPC namespace that is not the host's."""
    found.read_mounts()
    discovery = found.result()
    out = NamespaceReads(discovery=discovery, errors=list(discovery.errors))
    try:
        boxes = containers_of(discovery, proc_root=proc_root, root=root)
    except OSError as exc:  # state files are best effort: a namespace without a name is still listed
        out.errors.append(ScanError("containers", exc.strerror or str(exc)))
        boxes = {}
    wanted = [kind for kind, _ in SYSV_TABLES if kind in kinds]
    own = discovery.namespace_of(os.getpid(), "ipc") or discovery.host("ipc")
    others = [ns for ns in discovery.namespaces if ns.type == "ipc" and ns != own]
    if others and wanted and os.geteuid() != 0:
        out.notes.append(NOT_ROOT_NOTE)
        wanted = []
    namespaces = []
    for ns in discovery.namespaces:
        ns = replace(ns, container=boxes.get(ns.key))
        if ns == own:
            ns = replace(ns, limits=limits.read_limits("/proc/sys"))
        elif ns.type == "ipc" and wanted:
            ns = _read_other_ipc(ns, wanted, proc_root, out)
        namespaces.append(ns)
    out.namespaces = tuple(namespaces)
    return out


def _read_other_ipc(ns: Namespace, wanted: list[str], proc_root: str, out: NamespaceReads) -> Namespace:
    """Read one other IPC namespace's SysV tables; a namespace that is gone or cannot be entered is noted."""
    try:
        read = read_ipc(ns, proc_root=proc_root)
    except (ProcessLookupError, FileNotFoundError):
        out.notes.append(f"{ns.tag} vanished during the scan: skipped")
        return ns
    except (OSError, TimeoutError) as exc:
        out.errors.append(ScanError(ns.tag, str(exc)))
        return ns
    out.errors += read.errors
    ns = replace(ns, limits=read.limits)
    out.sysv.append((ns, {kind: read.tables[name] for kind, name in SYSV_TABLES if kind in wanted}))
    return ns
