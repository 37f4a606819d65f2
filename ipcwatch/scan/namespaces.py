"""Namespace discovery: every distinct IPC, mount and network namespace on the host, with the processes in it.

A namespace is `(type, st_dev, st_ino)` of its nsfs file (`/proc/PID/ns/ipc` and friends). Found three ways:
the processes in it (read through a `/proc/PID` directory fd, vanished processes skipped), a bind mount of its
nsfs file (`ip netns add`, `unshare --ipc=FILE`; read from /proc/self/mountinfo), or an open nsfs fd
(`ipc:[4026532251]` in /proc/PID/fd). The host's namespaces are pid 1's, or this process's when pid 1 is not
readable (not root). Pure data: nothing here enters or changes a namespace (ipcwatch.scan.nsread does the reading).

    found = discover()
    for ns in found.namespaces: ns.type, ns.inode, ns.pids, ns.host, ns.pinned_by
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping

from ipcwatch.native.procfd import ns_keys, ns_keys_of
from ipcwatch.record import field, record, replace
from ipcwatch.scan.model import ScanError
from ipcwatch.text import escape

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

    from ipcwatch.scan.containers import Container

NS_TYPES: tuple[str, ...] = ("ipc", "mnt", "net")
NsKey = tuple[str, int, int]  # (type, st_dev, st_ino)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_MAX_INODE = 2**64 - 1
_MOUNTINFO_LIMIT = 16 << 20


@record
class Namespace:
    """One namespace. `pids` are host pids; `representative` is the pid to read it through (None when pinned only)."""

    type: str  # "ipc", "mnt" or "net"
    dev: int  # st_dev of the nsfs file (one nsfs device per boot)
    inode: int  # what `ls -l /proc/PID/ns` shows: ipc:[inode]
    pids: tuple[int, ...]
    representative: int | None  # a process in it; for "mnt" a single-threaded one when there is one
    host: bool
    pinned_by: tuple[str, ...] = ()  # bind-mount paths and "/proc/PID/fd/N" nsfs fds that keep it alive
    container: Container | None = None  # filled in by the scan (containers_of); None for the host and bare unshares
    limits: Mapping[str, int] | None = None  # an IPC namespace's own limits, when the scan read them

    @property
    def key(self) -> NsKey:
        return (self.type, self.dev, self.inode)

    @property
    def tag(self) -> str:
        """`ipc:4026532251`: unique host-wide for the namespace's lifetime (the ref suffix after `@`)."""
        return f"{self.type}:{self.inode}"

    @property
    def pinned_only(self) -> bool:
        """No process is in it: only a bind mount or an fd keeps it alive."""
        return not self.pids

    @property
    def label(self) -> str:
        """What a person calls it (raw: escape it to show): `host`, the container's name (or short id), else the tag."""
        if self.host:
            return "host"
        return self.container.label if self.container is not None else self.tag

    def brief_json(self) -> dict[str, Any]:
        """What each object's JSON says of its namespace: {type, inode, host, pinned, container}."""
        box = self.container
        return {
            "type": self.type,
            "inode": self.inode,
            "host": self.host,
            "pinned": bool(self.pinned_by),
            "container": None
            if box is None
            else {k: None if v is None else escape(v) for k, v in box.to_json().items()},
        }

    def to_json(self) -> dict[str, Any]:
        """The snapshot's `namespaces` entry: the brief form plus who is in it, what pins it and its limits."""
        return {
            **self.brief_json(),
            "label": escape(self.label),
            "pids": list(self.pids),
            "representative": self.representative,
            "pinned_by": [escape(p) for p in self.pinned_by],
            "limits": None if self.limits is None else dict(self.limits),
        }


@record
class Discovery:
    """Every namespace found, and which namespace each process is in."""

    namespaces: tuple[Namespace, ...]
    host_from: str  # "pid 1" or "self": whose namespaces are the host's
    of_pid: dict[int, dict[str, NsKey]]  # pid -> {type: key}
    errors: tuple[ScanError, ...] = ()
    _by_key: dict[NsKey, Namespace] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for ns in self.namespaces:
            self._by_key[ns.key] = ns

    def get(self, key: NsKey) -> Namespace | None:
        return self._by_key.get(key)

    def of_type(self, ns_type: str) -> list[Namespace]:
        return [ns for ns in self.namespaces if ns.type == ns_type]

    def host(self, ns_type: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == ns_type and ns.host), None)

    def namespace_of(self, pid: int, ns_type: str) -> Namespace | None:
        key = self.of_pid.get(pid, {}).get(ns_type)
        return None if key is None else self._by_key.get(key)


def qualified_ref(kind: str, rest: str, ns: Namespace | None) -> str:
    """The ref of an object of `kind` in namespace `ns`: today's `KIND:REST` for the host's (or no) namespace,
    `KIND@TYPE:INODE:REST` for another one. The qualifier sits in the kind, which never holds `@` or `:`, so an
    object NAME containing `@ipc:123` can never forge another namespace's ref."""
    if ns is None or ns.host:
        return kind + ":" + rest  # str + str: an f-string formats a Kind (a StrEnum) at 2.4x the cost
    return f"{kind}@{ns.type}:{ns.inode}:{rest}"


def split_ref(ref: str) -> tuple[str, tuple[str, int] | None, str] | None:
    """`KIND[@TYPE:INODE]:REST` -> (kind, (type, inode) or None for the host, rest); None when malformed."""
    head, sep, rest = ref.partition(":")
    if not sep or not head:
        return None
    kind, at, ns_type = head.partition("@")
    if not at:
        return kind, None, rest
    digits, sep, rest = rest.partition(":")
    parsed = parse_ns_link(f"{ns_type}:[{digits}]")
    if not sep or not kind or parsed is None:
        return None
    return kind, parsed, rest


def in_other_namespace(ref: str) -> bool:
    """True when `ref` names an object of another namespace than the scanner's own (it carries `@TYPE:INODE`)."""
    parsed = split_ref(ref)
    return parsed is not None and parsed[1] is not None


def parse_ns_link(link: str) -> tuple[str, int] | None:
    """`ipc:[4026532251]` -> ("ipc", 4026532251) for the three types discovered; None for anything else."""
    ns_type, sep, rest = link.partition(":[")
    if not sep or ns_type not in NS_TYPES or not rest.endswith("]"):
        return None
    digits = rest[:-1]
    if not (digits.isascii() and digits.isdigit()) or int(digits) > _MAX_INODE:
        return None
    return ns_type, int(digits)


def _unescape_mount_field(raw: bytes) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    out = bytearray()
    i = 0
    while i < len(raw):
        chunk = raw[i + 1 : i + 4]
        if raw[i : i + 1] == b"\\" and len(chunk) == 3 and all(0x30 <= c <= 0x37 for c in chunk):
            out.append(int(chunk, 8) & 0xFF)
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return os.fsdecode(bytes(out))


def parse_nsfs_mounts(data: bytes) -> list[tuple[str, int, str]]:
    """mountinfo text -> [(type, inode, mount point)] for every nsfs bind mount of an ipc, mnt or net namespace."""
    out = []
    for line in data.splitlines():
        head, sep, tail = line.partition(b" - ")
        fields, tail_fields = head.split(), tail.split()
        if not sep or len(fields) < 5 or not tail_fields or tail_fields[0] != b"nsfs":
            continue
        parsed = parse_ns_link(_unescape_mount_field(fields[3]))
        if parsed is not None:
            out.append((parsed[0], parsed[1], _unescape_mount_field(fields[4])))
    return out


class NamespaceCollector:
    """Collects namespaces process by process. `visit` has the ProcessVisitor shape, so the scan's single /proc
    pass can feed it (`visit(pid, dir_fd, process)`); `discover()` runs a pass of its own."""

    def __init__(self, proc_root: str = "/proc", types: Iterable[str] = NS_TYPES) -> None:
        self.proc_root = proc_root
        self.types = tuple(t for t in NS_TYPES if t in set(types))
        self.errors: list[ScanError] = []
        self.host_from = "pid 1"
        self._host: dict[str, NsKey] = {}
        self._pids: dict[NsKey, list[int]] = {}
        self._of_pid: dict[int, dict[str, NsKey]] = {}
        self._single: dict[NsKey, int] = {}  # mnt namespace -> a single-threaded pid in it
        self._pins: dict[NsKey, list[str]] = {}
        self._nsfs_dev: int | None = None
        self._find_host()

    def _find_host(self) -> None:
        for source, path in (("pid 1", f"{self.proc_root}/1/ns"), ("self", "/proc/self/ns")):
            try:
                keys = {t: self._key(t, os.stat(f"{path}/{t}")) for t in self.types}
            except OSError:
                continue
            self._host, self.host_from = keys, source
            if keys:
                self._nsfs_dev = next(iter(keys.values()))[1]
            return
        self.errors.append(ScanError("/proc/self/ns", "no namespace of the host could be read"))

    @staticmethod
    def _key(ns_type: str, st: os.stat_result) -> NsKey:
        return (ns_type, st.st_dev, st.st_ino)

    def visit(self, pid: int, dir_fd: int, _process: object = None) -> None:
        """Note the namespaces of the process behind an open /proc/PID directory fd (`ns_keys` reads them so)."""
        self.add(*ns_keys_of(pid, dir_fd, self.types))

    def add(self, pid: int, keys: tuple[tuple[int, int] | int, ...], links: int | None) -> None:
        """Note one process's namespaces as `ns_keys` gives them: per type the (st_dev, st_ino) of its ns/TYPE or
        the errno stat'ing it (gone: stop there; EACCES, not root: not seen through it), task's link count."""
        mine: dict[str, NsKey] = {}
        for ns_type, got in zip(self.types, keys, strict=True):
            if got.__class__ is int:
                if got in (errno.ENOENT, errno.ESRCH):
                    return
                continue
            key = (ns_type, *got)
            mine[ns_type] = key
            self._pids.setdefault(key, []).append(pid)
            host_mnt = key == self._host.get("mnt")
            if ns_type == "mnt" and not host_mnt and key not in self._single and links == 3:  # one thread
                self._single[key] = pid
        if mine:
            self._of_pid[pid] = mine

    def visit_fd_link(self, pid: int, fd: int, link: str) -> None:
        """Note an nsfs fd (`link` is what readlink gave for /proc/PID/fd/FD) as a pin of its namespace."""
        parsed = parse_ns_link(link)
        if parsed is not None:
            self.visit_ns_fd(pid, fd, *parsed)

    def visit_ns_fd(self, pid: int, fd: int, ns_type: str, inode: int) -> None:
        """Note an nsfs fd already classified (by the scan's fd walker) as a pin of its namespace."""
        if ns_type in self.types and self._nsfs_dev is not None:
            self._pins.setdefault((ns_type, self._nsfs_dev, inode), []).append(f"{self.proc_root}/{pid}/fd/{fd}")

    def read_fds(self, pid: int, dir_fd: int) -> None:
        """Find nsfs fds of one process by reading its fd links (the scan's fd walker should report them instead)."""
        try:
            fd_dir = os.open("fd", _DIR_FLAGS, dir_fd=dir_fd)
        except OSError:
            return
        try:
            for name in os.listdir(fd_dir):
                if not name.isdigit():
                    continue
                try:
                    link = os.readlink(name, dir_fd=fd_dir)
                except OSError:
                    continue
                if ":[" in link and not link.startswith(("socket:", "pipe:", "anon_inode:")):
                    self.visit_fd_link(pid, int(name), link)
        finally:
            os.close(fd_dir)

    def read_mounts(self, mountinfo: str = "/proc/self/mountinfo") -> None:
        """Note every nsfs bind mount visible in this mount namespace as a pin of its namespace."""
        if self._nsfs_dev is None:
            return
        try:
            data = _read_capped(mountinfo, _MOUNTINFO_LIMIT)
        except OSError as exc:
            self.errors.append(ScanError(mountinfo, exc.strerror or str(exc)))
            return
        for ns_type, inode, where in parse_nsfs_mounts(data):
            if ns_type in self.types:
                self._pins.setdefault((ns_type, self._nsfs_dev, inode), []).append(where)

    def result(self) -> Discovery:
        keys = set(self._pids) | set(self._pins) | set(self._host.values())
        host_keys = set(self._host.values())
        namespaces = []
        for key in sorted(keys, key=lambda k: (k[0], k not in host_keys, k[2])):
            pids = tuple(sorted(self._pids.get(key, ())))
            representative = self._single.get(key, pids[0] if pids else None)
            if key in host_keys and self._host_pid() in pids:
                representative = self._host_pid()
            namespaces.append(
                Namespace(
                    type=key[0],
                    dev=key[1],
                    inode=key[2],
                    pids=pids,
                    representative=representative,
                    host=key in host_keys,
                    pinned_by=tuple(dict.fromkeys(self._pins.get(key, ()))),
                )
            )
        return Discovery(tuple(namespaces), self.host_from, dict(self._of_pid), tuple(self.errors))

    def _host_pid(self) -> int:
        return 1 if self.host_from == "pid 1" else os.getpid()


def _read_capped(path: str, limit: int) -> bytes:
    """Up to `limit` bytes of a file, 64 KiB a read: f.read(limit) would allocate `limit` bytes first (16 MiB for
    every scan's mountinfo: the scan's peak memory at 9,000 objects)."""
    chunks, total = [], 0
    with open(path, "rb", buffering=0) as f:
        while total < limit and (chunk := f.read(min(65536, limit - total))):
            chunks.append(chunk)
            total += len(chunk)
    return b"".join(chunks)


def discover(
    proc_root: str = "/proc",
    *,
    types: Iterable[str] = NS_TYPES,
    mountinfo: str = "/proc/self/mountinfo",
    fds: bool = True,
) -> Discovery:
    """Walk /proc once (namespaces of every process, and nsfs fds when `fds`) plus the nsfs bind mounts."""
    collector = NamespaceCollector(proc_root, types)
    try:
        if fds:
            _walk_with_fds(collector, proc_root)
        else:  # every directory read in one native call, the GIL released (the scan's discovery: ~3 ms less at 9k)
            for pid, keys, links in ns_keys(proc_root, collector.types):
                collector.add(pid, keys, links)
    except OSError as exc:
        collector.errors.append(ScanError(proc_root, exc.strerror or str(exc)))
        return collector.result()
    collector.read_mounts(mountinfo)
    return collector.result()


def _walk_with_fds(collector: NamespaceCollector, proc_root: str) -> None:
    """Each /proc/PID in turn: its namespaces and its nsfs fds."""
    proc_fd = os.open(proc_root, _DIR_FLAGS)
    try:
        for name in os.listdir(proc_fd):
            if not name.isdigit():
                continue
            try:
                dir_fd = os.open(name, _DIR_FLAGS, dir_fd=proc_fd)
            except OSError:
                continue  # vanished since listdir
            try:
                collector.visit(int(name), dir_fd)
                collector.read_fds(int(name), dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        os.close(proc_fd)


def with_fd_pins(
    discovery: Discovery, ns_fds: Iterable[tuple[int, int, str, int]], proc_root: str = "/proc"
) -> Discovery:
    """`discovery` plus the nsfs fds (pid, fd, type, inode) the scan's fd walker found: a namespace kept alive only
    by an open fd is added (pinned only), one already found gains the fd in `pinned_by`."""
    collector = NamespaceCollector(proc_root)
    for pid, fd, ns_type, inode in ns_fds:
        collector.visit_ns_fd(pid, fd, ns_type, inode)
    if not collector._pins:
        return discovery
    namespaces = []
    for ns in discovery.namespaces:
        paths = collector._pins.pop(ns.key, ())
        namespaces.append(replace(ns, pinned_by=tuple(dict.fromkeys((*ns.pinned_by, *paths)))) if paths else ns)
    for (ns_type, dev, inode), paths in sorted(collector._pins.items()):
        namespaces.append(Namespace(ns_type, dev, inode, (), None, False, tuple(dict.fromkeys(paths))))
    return Discovery(tuple(namespaces), discovery.host_from, discovery.of_pid, discovery.errors)
