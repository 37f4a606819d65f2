"""Container names without asking any runtime: /proc/PID/cgroup -> runtime and id, then a name from the runtime's
own state files where they are readable.

Runtimes recognised (cgroup v1 and v2, cgroupfs and systemd drivers): docker, containerd (CRI, with the Kubernetes
pod UID), cri-o, podman (libpod), lxc, systemd-nspawn. A monitor's cgroup (conmon, lxc.monitor) names no container.
Every state file is attacker-controlled (HOSTILE 23): read with a size cap, no symlink followed, malformed JSON
tolerated; names are returned raw (escaping happens at each surface).

    ref = parse_cgroup(open("/proc/PID/cgroup", "rb").read())   # CgroupRef(runtime, id, pod_uid) or None
    box = StateFiles().name(ref)                                # Container(runtime, id, name, pod, ...)
"""

from __future__ import annotations

import functools
import os
import re
import stat as stat_mod
from collections.abc import Iterable

from ipcwatch.record import NamedTuple
from ipcwatch.scan.namespaces import Discovery, NsKey
from ipcwatch.scan.nsread import open_beneath

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

_HEX64 = r"([0-9a-f]{64})"


class _Patterns(NamedTuple):
    pod_uid: re.Pattern[str]
    cri_slice: re.Pattern[str]
    monitor: re.Pattern[str]
    # (component pattern, runtime): the deepest component that matches names the container
    leaf: tuple[tuple[re.Pattern[str], str], ...]


# Compiled when the first cgroup path with a component is parsed, not at import: every scan imports this module (the
# kernel's kdevtmpfs has a mount namespace of its own) and its cgroup, "/", needs no pattern (~1 ms of `list`).
@functools.cache
def _patterns() -> _Patterns:
    return _Patterns(
        re.compile(
            r"^(?:kubepods-(?:besteffort-|burstable-|guaranteed-)?)?pod([0-9a-f]{8}[-_](?:[0-9a-f]{4}[-_]){3}[0-9a-f]{12})(?:\.slice)?$"
        ),
        re.compile(r"^kubepods[-a-z]*-pod([0-9a-f_]{36})\.slice:(cri-containerd|crio|docker):" + _HEX64 + "$"),
        re.compile(r"^(?:libpod-conmon-|crio-conmon-)[0-9a-f]{64}(?:\.scope)?$|^lxc\.monitor(?:\..*)?$"),
        (
            (re.compile(r"^docker-" + _HEX64 + r"\.scope$"), "docker"),
            (re.compile(r"^cri-containerd-" + _HEX64 + r"\.scope$"), "containerd"),
            (re.compile(r"^crio-" + _HEX64 + r"(?:\.scope)?$"), "cri-o"),
            (re.compile(r"^libpod-" + _HEX64 + r"(?:\.scope)?$"), "podman"),
            (re.compile(r"^lxc\.payload\.(.+)$"), "lxc"),
            (re.compile(r"^machine-(.+)\.scope$"), "nspawn"),
        ),
    )


_RUNTIME_OF_SLICE = {"cri-containerd": "containerd", "crio": "cri-o", "docker": "docker"}
_STATE_LIMIT = 4 << 20  # bytes read from one state file at most
_STORE_LIMIT = 32 << 20  # podman's containers.json lists every container
_CGROUP_LIMIT = 1 << 16
SAMPLE = 16  # processes of a namespace whose cgroups are read to name it


# A NamedTuple, not a record: defined at import in a third of the time (every CLI command's start-up).
class CgroupRef(NamedTuple):
    """What a process's cgroup path says: the runtime, the container id (a name for lxc and nspawn), the pod."""

    runtime: str  # docker, containerd, cri, cri-o, podman, lxc, nspawn
    id: str
    pod_uid: str | None = None


class Container(NamedTuple):
    """A container as the JSON `namespace.container` shows it. Raw strings: escape them to show them."""

    runtime: str
    id: str
    name: str | None  # None: no state file said it; show the short id
    pod: str | None = None
    pod_namespace: str | None = None
    pod_uid: str | None = None

    @property
    def short_id(self) -> str:
        return self.id[:12] if re.fullmatch(r"[0-9a-f]{64}", self.id) else self.id

    @property
    def label(self) -> str:
        """What a person calls it (raw): its name, else its short id."""
        return self.name or self.short_id

    def to_json(self) -> dict[str, str | None]:
        return {
            "runtime": self.runtime,
            "id": self.id,
            "name": self.name,
            "pod": self.pod,
            "pod_namespace": self.pod_namespace,
            "pod_uid": self.pod_uid,
        }


def _unescape_systemd(text: str) -> str:
    r"""systemd unit names escape bytes as \xNN (a '-' in a machine name is \x2d)."""
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def parse_path(path: str) -> CgroupRef | None:
    """One cgroup path -> the container it names, from its deepest recognisable component; None when none."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None  # the root cgroup (a kernel thread's, a host process's under cgroup namespaces)
    patterns = _patterns()
    for depth in range(len(parts) - 1, -1, -1):
        part = parts[depth]
        if patterns.monitor.match(part):
            return None  # conmon / the lxc monitor: a host-side helper, not the container
        pod_uid = _pod_uid(parts[:depth])
        m = patterns.cri_slice.match(part)
        if m:
            return CgroupRef(_RUNTIME_OF_SLICE[m.group(2)], m.group(3), m.group(1).replace("_", "-"))
        for pattern, runtime in patterns.leaf:
            m = pattern.match(part)
            if m:
                name = _unescape_systemd(m.group(1)) if runtime == "nspawn" else m.group(1)
                return CgroupRef(runtime, name, pod_uid)
        parent = parts[depth - 1] if depth else ""
        if re.fullmatch(_HEX64, part):
            if parent == "docker":
                return CgroupRef("docker", part, pod_uid)
            if pod_uid is not None:
                return CgroupRef("cri", part, pod_uid)  # kubepods cgroupfs layout: the runtime is not in the path
        if parent in ("lxc", "lxc.payload") and depth == 1:
            return CgroupRef("lxc", part)
    return None


def _pod_uid(ancestors: list[str]) -> str | None:
    if not any(a.startswith("kubepods") for a in ancestors):
        return None
    for part in reversed(ancestors):
        m = _patterns().pod_uid.match(part)
        if m:
            return m.group(1).replace("_", "-")
    return None


def parse_cgroup(data: bytes) -> CgroupRef | None:
    """/proc/PID/cgroup text (v1, v2 or hybrid) -> the container; the v2 line first, then the v1 hierarchies."""
    paths: list[str] = []
    for line in data.decode("utf-8", "replace").splitlines():
        hierarchy, sep, rest = line.partition(":")
        _controllers, sep2, path = rest.partition(":")
        if not sep or not sep2:
            continue
        if hierarchy == "0":
            paths.insert(0, path)
        else:
            paths.append(path)
    for path in paths:
        ref = parse_path(path)
        if ref is not None:
            return ref
    return None


def cgroup_at(dir_fd: int) -> CgroupRef | None:
    """The container of the process behind an open /proc/PID directory fd (the scan's pass can call this)."""
    try:
        fd = os.open("cgroup", os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        return parse_cgroup(os.read(fd, _CGROUP_LIMIT))
    except OSError:
        return None
    finally:
        os.close(fd)


def cgroup_of(pid: int, proc_root: str = "/proc") -> CgroupRef | None:
    """The container of a live process; None when it is in none, gone or unreadable."""
    try:
        dir_fd = os.open(f"{proc_root}/{pid}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return cgroup_at(dir_fd)
    finally:
        os.close(dir_fd)


def read_json(path: str, limit: int = _STATE_LIMIT, root: str = "/") -> Any:
    """A runtime state file as JSON: no symlink followed, regular files only, at most `limit` bytes; None when
    missing, unreadable, too big or malformed."""
    try:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fd = open_beneath(root_fd, path.lstrip("/"))
    except OSError:
        return None
    finally:
        os.close(root_fd)
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        data = os.read(fd, limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > limit:
        return None
    import json  # noqa: PLC0415 - only a container's state file is JSON: a scan that sees none never imports it

    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _text(mapping: Any, *keys: str) -> str | None:
    """mapping[k1][k2]... when every step is a dict and the end is a non-empty string."""
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping if isinstance(mapping, str) and mapping else None


class StateFiles:
    """Names from the runtimes' own state files, each file read at most once per instance (one scan)."""

    def __init__(self, root: str = "/") -> None:
        self.root = root
        self._podman_store: dict[str, str] | None = None

    def _json(self, path: str, limit: int = _STATE_LIMIT) -> Any:
        return read_json(path, limit, self.root)

    def name(self, ref: CgroupRef) -> Container:
        """The container behind `ref`, with whatever names its runtime's files give."""
        if ref.runtime in ("lxc", "nspawn"):
            return Container(ref.runtime, ref.id, ref.id)
        if ref.runtime == "docker":
            return self._docker(ref)
        if ref.runtime == "podman":
            return Container("podman", ref.id, self._podman_names().get(ref.id))
        return self._cri(ref)

    def _docker(self, ref: CgroupRef) -> Container:
        config = self._json(f"/var/lib/docker/containers/{ref.id}/config.v2.json")
        name = _text(config, "Name")
        labels = _text_map(config.get("Config") if isinstance(config, dict) else None, "Labels")
        return Container(
            "docker",
            ref.id,
            name[1:] if name and name.startswith("/") else name,
            pod=labels.get("io.kubernetes.pod.name"),
            pod_namespace=labels.get("io.kubernetes.pod.namespace"),
            pod_uid=ref.pod_uid or labels.get("io.kubernetes.pod.uid"),
        )

    def _podman_names(self) -> dict[str, str]:
        """{id: first name} from containers/storage's containers.json (podman writes the names there)."""
        if self._podman_store is None:
            store = self._json("/var/lib/containers/storage/overlay-containers/containers.json", _STORE_LIMIT)
            names: dict[str, str] = {}
            for entry in store if isinstance(store, list) else ():
                ids, given = (entry.get("id"), entry.get("names")) if isinstance(entry, dict) else (None, None)
                if isinstance(ids, str) and isinstance(given, list) and given and isinstance(given[0], str):
                    names[ids] = given[0]
            self._podman_store = names
        return self._podman_store

    def _cri(self, ref: CgroupRef) -> Container:
        """containerd (CRI) and CRI-O keep the Kubernetes names as annotations of the OCI config."""
        candidates = (
            f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{ref.id}/config.json",
            f"/run/containers/storage/overlay-containers/{ref.id}/userdata/config.json",
            f"/var/lib/containers/storage/overlay-containers/{ref.id}/userdata/config.json",
        )
        for path in candidates:
            notes = _text_map(self._json(path), "annotations")
            if notes:
                return Container(
                    ref.runtime,
                    ref.id,
                    notes.get("io.kubernetes.cri.container-name") or notes.get("io.kubernetes.container.name"),
                    pod=notes.get("io.kubernetes.cri.sandbox-name") or notes.get("io.kubernetes.pod.name"),
                    pod_namespace=notes.get("io.kubernetes.cri.sandbox-namespace")
                    or notes.get("io.kubernetes.pod.namespace"),
                    pod_uid=ref.pod_uid
                    or notes.get("io.kubernetes.cri.sandbox-uid")
                    or notes.get("io.kubernetes.pod.uid"),
                )
        return Container(ref.runtime, ref.id, None, pod_uid=ref.pod_uid)


def _text_map(doc: Any, key: str) -> dict[str, str]:
    value = doc.get(key) if isinstance(doc, dict) else None
    return (
        {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and v}
        if isinstance(value, dict)
        else {}
    )


def containers_of(
    discovery: Discovery, types: Iterable[str] = ("ipc", "mnt", "net"), proc_root: str = "/proc", root: str = "/"
) -> dict[NsKey, Container]:
    """The container of each non-host namespace: the one its processes' cgroups name (the most common among the
    first SAMPLE when they disagree, as in a Kubernetes pod whose containers share one IPC namespace: each carries
    the pod's name). Namespaces with no process or no container are absent."""
    state = StateFiles(root)
    refs: dict[int, CgroupRef | None] = {}
    named: dict[CgroupRef, Container] = {}
    out: dict[NsKey, Container] = {}
    for ns in discovery.namespaces:
        if ns.host or ns.type not in types:
            continue
        counts: dict[CgroupRef, int] = {}
        for pid in ns.pids[:SAMPLE]:
            if pid not in refs:
                refs[pid] = cgroup_of(pid, proc_root)
            ref = refs[pid]
            if ref is not None:
                counts[ref] = counts.get(ref, 0) + 1
        if counts:
            best = max(counts, key=lambda r: (counts[r], r.runtime != "cri", r.id))
            if best not in named:
                named[best] = state.name(best)
            out[ns.key] = named[best]
    return out
