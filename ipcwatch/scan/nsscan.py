"""The scan's namespace step: which namespaces exist, their containers, the SysV tables of each IPC namespace
other than the scanner's (read by a short-lived thread inside it: ipcwatch.scan.nsread), and the POSIX objects of
other mount views (read under /proc/PID/root, never following a symlink).

`discover` runs before the /proc pass, so the other views' /dev/shm and mqueue devices are known to it (their
fds and mappings are holds). A namespace that vanishes or cannot be entered is skipped with a note, never the scan.
"""

from __future__ import annotations

import os

from ipcwatch.kinds import Kind
from ipcwatch.record import NamedTuple, replace
from ipcwatch.scan import limits, posix, sysv, unix
from ipcwatch.scan.model import ScanError
from ipcwatch.scan.namespaces import Discovery, Namespace, NsKey
from ipcwatch.scan.nsread import SpecialDirs, distinct_mount_views, open_root, read_ipc, sock_diag_socket

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from ipcwatch.scan.containers import Container
    from ipcwatch.scan.sysv import Row

NOT_ROOT_NOTE = "not root: other IPC namespaces cannot be entered: their SysV objects are not listed"


class NamespaceReads:
    """What the namespace step found: every namespace (with container and limits) and other IPC namespaces' rows."""

    # Written by hand, not a dataclass (nothing compares, copies or prints it): its definition costs no generated
    # methods at import (every CLI command's start-up).
    __slots__ = ("_by_key", "discovery", "errors", "namespaces", "notes", "posix", "sysv")

    def __init__(self, discovery: Discovery | None = None, errors: list[ScanError] | None = None) -> None:
        self.namespaces: tuple[Namespace, ...] = ()
        self.discovery = discovery
        self.sysv: list[tuple[Namespace, dict[Kind, list[Row]]]] = []  # kind -> rows, per ns
        # other views' POSIX entries: (mount ns, /dev/shm entries, IPC ns, /dev/mqueue entries)
        self.posix: list[tuple[Namespace | None, list[posix.Entry], Namespace | None, list[posix.MqEntry]]] = []
        self.errors: list[ScanError] = [] if errors is None else errors
        self.notes: list[str] = []
        self._by_key: dict[NsKey, Namespace] = {}

    def host(self, ns_type: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == ns_type and ns.host), None)

    def own(self, ns_type: str) -> Namespace | None:
        """The namespace this process scans from (/proc/sysvipc, /dev/shm and /dev/mqueue show its objects): the
        host's, unless ipcwatch itself runs in another one (`unshare --ipc ipcwatch`)."""
        return self.namespace_of(os.getpid(), ns_type) or self.host(ns_type)

    def namespace_of(self, pid: int, ns_type: str) -> Namespace | None:
        """The namespace (with its container) process `pid` was in during the scan."""
        key = None if self.discovery is None else self.discovery.of_pid.get(pid, {}).get(ns_type)
        return None if key is None else self.by_key(key)

    def by_key(self, key: NsKey) -> Namespace | None:
        if len(self._by_key) != len(self.namespaces):
            self._by_key.update((ns.key, ns) for ns in self.namespaces)
        return self._by_key.get(key)


# A NamedTuple, not a record: defined at import in a third of the time (every CLI command's start-up).
class View(NamedTuple):
    """Another mount namespace's /dev/shm and /dev/mqueue (one per distinct pair of devices), read through `pid`."""

    mnt: NsKey
    ipc: NsKey | None  # the IPC namespace of `pid`: the one its /dev/mqueue shows
    pid: int
    dirs: SpecialDirs
    read_shm: bool  # False: the scanner's own /dev/shm, or one already read through another view
    read_mqueue: bool


def other_views(discovery: Discovery, own: SpecialDirs, proc_root: str = "/proc") -> list[View]:
    """The mount views whose /dev/shm or /dev/mqueue the scanner's own does not already show (deduplicated by
    st_dev: containers sharing a tmpfs or an IPC namespace are read once)."""
    seen_shm, seen_mq = {own.shm_dev}, {own.mqueue_dev}
    out = []
    known_mqueue = frozenset(() if own.mqueue_dev is None else (own.mqueue_dev,))
    for (shm_dev, mq_dev), group in distinct_mount_views(discovery.of_type("mnt"), proc_root, known_mqueue).items():
        ns = group[0]
        pid = ns.representative
        read_shm, read_mq = shm_dev not in seen_shm, mq_dev not in seen_mq
        seen_shm.add(shm_dev)
        seen_mq.add(mq_dev)
        if pid is None or not (read_shm or read_mq or mq_dev is None):
            continue
        ipc = discovery.of_pid.get(pid, {}).get("ipc")
        out.append(View(ns.key, ipc, pid, SpecialDirs(shm_dev, mq_dev), read_shm, read_mq))
    return out


def read_views(views: list[View], kinds: frozenset[str], spaces: NamespaceReads, proc_root: str = "/proc") -> None:
    """Read the POSIX objects of each other view into `spaces.posix` (never following a symlink there)."""
    want_shm, want_mq = bool(kinds & {Kind.POSIX_SHM, Kind.POSIX_SEM}), Kind.POSIX_MQ in kinds
    for view in views:
        mnt, ipc = spaces.by_key(view.mnt), None if view.ipc is None else spaces.by_key(view.ipc)
        if want_mq and view.dirs.mqueue_dev is None and ipc is not None and not ipc.host:
            spaces.notes.append(f"{ipc.label}: no mqueue filesystem at /dev/mqueue: its POSIX queues are not listed")
        try:
            root_fd = open_root(view.pid, proc_root)
        except OSError:
            spaces.notes.append(f"{view.mnt[0]}:{view.mnt[2]} vanished during the scan: skipped")
            continue
        try:
            beneath = posix.Beneath(root_fd)
            shm = posix.read_shm_dir("dev/shm", spaces.errors, beneath) if want_shm and view.read_shm else []
            mq = posix.read_mqueue_dir("dev/mqueue", spaces.errors, beneath) if want_mq and view.read_mqueue else []
        finally:
            os.close(root_fd)
        spaces.posix.append((mnt, shm, ipc, mq))


def read_unix(
    spaces: NamespaceReads, own: list[unix.UnixSocket], proc_root: str = "/proc"
) -> tuple[list[unix.UnixSocket], dict[int, Namespace]]:
    """The scanner's own sockets plus every other network namespace's (sock_diag inside it, else the
    /proc/PID/net/unix of a process in it), and the namespace of each socket inode."""
    own_net = spaces.own("net")
    net_of = {s.inode: own_net for s in own} if own_net is not None else {}
    out = list(own)
    for ns in spaces.namespaces:
        if ns.type != "net" or own_net is None or ns.key == own_net.key:
            continue
        try:
            found = unix.dump_sock_diag(sock_diag_socket(ns, proc_root=proc_root))
        except (ProcessLookupError, FileNotFoundError):
            spaces.notes.append(f"{ns.tag} vanished during the scan: skipped")
            continue
        except OSError as exc:
            if ns.representative is None:
                spaces.errors.append(ScanError(ns.tag, exc.strerror or str(exc)))
                continue
            try:  # the fallback: fewer fields (no peers, no queues)
                found = unix.from_proc_net_unix(f"{proc_root}/{ns.representative}/net/unix")
            except OSError as again:
                spaces.errors.append(ScanError(ns.tag, again.strerror or str(again)))
                continue
        for sock in found:
            net_of.setdefault(sock.inode, ns)
        out += found
    return out, net_of


def read_namespaces(
    discovery: Discovery, kinds: frozenset[str], proc_root: str = "/proc", root: str = "/"
) -> NamespaceReads:
    """Name containers and read the SysV tables of every IPC namespace that is not the scanner's."""
    out = NamespaceReads(discovery=discovery, errors=list(discovery.errors))
    boxes: dict[NsKey, Container] = {}
    if not all(ns.host for ns in discovery.namespaces):  # only other namespaces are in containers
        from ipcwatch.scan.containers import containers_of  # noqa: PLC0415 - only other namespaces have one

        try:
            boxes = containers_of(discovery, proc_root=proc_root, root=root)
        except OSError as exc:  # state files are best effort: a namespace without a name is still listed
            out.errors.append(ScanError("containers", exc.strerror or str(exc)))
    wanted = [kind for kind in sysv.TABLES if kind in kinds]
    own = discovery.namespace_of(os.getpid(), "ipc") or discovery.host("ipc")
    others = [ns for ns in discovery.namespaces if ns.type == "ipc" and ns != own]
    if others and wanted and os.geteuid() != 0:
        out.notes.append(NOT_ROOT_NOTE)
        wanted = []
    namespaces = []
    for ns in discovery.namespaces:
        if ns.key in boxes:
            ns = replace(ns, container=boxes[ns.key])
        if ns == own:
            ns = replace(ns, limits=limits.read_limits("/proc/sys"))
        elif ns.type == "ipc" and wanted:
            ns = _read_other_ipc(ns, wanted, proc_root, out)
        namespaces.append(ns)
    out.namespaces = tuple(namespaces)
    return out


def _read_other_ipc(ns: Namespace, wanted: list[Kind], proc_root: str, out: NamespaceReads) -> Namespace:
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
    out.sysv.append((ns, {kind: read.tables[name] for kind, (name, _, _) in sysv.TABLES.items() if kind in wanted}))
    return ns
