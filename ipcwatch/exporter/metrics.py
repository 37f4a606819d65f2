"""The metric families one snapshot yields: counts, bytes, stale objects, blocked threads, queue fill, limits.

Base units, bounded labels: `kind` is one of the model's KINDS (plus `other` for a thread waiting on no listed
object: a signal, or an object the scan did not list), `op` a system call name, `resource` a limit name.
Per-object series (ref and object labels, escaped with `ipcwatch.text.escape` like every shown name) exist only
when asked for, capped at PER_OBJECT_MAX.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ipcwatch.exporter import PER_OBJECT_MAX
from ipcwatch.kinds import KINDS, spec
from ipcwatch.record import record
from ipcwatch.scan import IpcObject, Snapshot
from ipcwatch.scan.limits import LimitUse, limit_usage
from ipcwatch.scan.namespaces import NsKey
from ipcwatch.scan.waits import BlockedThread
from ipcwatch.text import escape

LABEL_MAX = 200  # characters of an escaped name or ref in a label value
NAMESPACES_MAX = 50  # distinct `namespace` label values besides "host"; objects of the others count as "other"
HOST, OTHER_NAMESPACE = "host", "other"
OTHER_KIND = "other"  # a wait on no listed object: a signal (pause, sigwaitinfo), or an object the scan missed

# name -> (type, help, label names). Names as exposed (a counter's `_total` is added by the client).
SPEC: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "ipcwatch_objects": ("gauge", "Live IPC objects", ("kind", "namespace")),
    "ipcwatch_object_bytes": (
        "gauge",
        "Sum of the objects' sizes (segment, file or queued bytes)",
        ("kind", "namespace"),
    ),
    "ipcwatch_stale_objects": ("gauge", "Objects that look abandoned (ipcwatch list --stale)", ("kind", "namespace")),
    "ipcwatch_stale_bytes": ("gauge", "Sum of the sizes of objects that look abandoned", ("kind", "namespace")),
    "ipcwatch_blocked_threads": ("gauge", "Threads asleep waiting on an IPC object, by system call", ("kind", "op")),
    "ipcwatch_dead_partners": ("gauge", "Blocked threads whose partner is gone (nobody can wake them)", ()),
    "ipcwatch_wait_cycles": ("gauge", "Groups of processes each asleep waiting on the next (deadlocks)", ()),
    "ipcwatch_queue_fill_ratio_max": (
        "gauge",
        "Fullest queue of a kind, 0..1: SysV bytes/msg_qbytes, POSIX messages/mq_maxmsg, pipe and FIFO "
        "bytes/capacity, unix listener pending connections/backlog",
        ("kind",),
    ),
    "ipcwatch_limit": (
        "gauge",
        "Kernel IPC limit (/proc/sys/kernel, /proc/sys/fs/mqueue) of an IPC namespace",
        ("resource", "namespace"),
    ),
    "ipcwatch_limit_used": ("gauge", "How much of the kernel IPC limit is in use", ("resource", "namespace")),
    "ipcwatch_largest_object_bytes": (
        "gauge",
        "Size of the largest objects (only with --per-object N)",
        ("kind", "ref", "object"),
    ),
    "ipcwatch_stale_object_idle_seconds": (
        "gauge",
        "Seconds since the last recorded use of the longest idle stale objects (only with --per-object N)",
        ("kind", "ref", "object"),
    ),
    "ipcwatch_scan_duration_seconds": ("gauge", "Wall time of the scan these metrics come from", ()),
    "ipcwatch_scan_errors": ("gauge", "Entries the scan these metrics come from could not read", ()),
    "ipcwatch_snapshot_age_seconds": ("gauge", "Age of the scan these metrics come from", ()),
    "ipcwatch_scans": ("counter", "Scans run by this exporter", ()),
    "ipcwatch_last_scan_success": ("gauge", "1 if the last scan ended within the budget without an error", ()),
    "ipcwatch_scan_failures": (
        "counter",
        "Scans that failed (reason=error) or exceeded the time budget (reason=timeout)",
        ("reason",),
    ),
    "ipcwatch_build_info": ("gauge", "ipcwatch version (always 1)", ("version",)),
}


def family(name: str) -> Metric:
    """An empty family as SPEC declares it (describe() returns these; collect() fills them)."""
    kind, documentation, labels = SPEC[name]
    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    return cls(name, documentation, labels=list(labels))


def label(value: str | None) -> str:
    """A label value from a raw, attacker-controlled string (a name, a ref): escaped once, bounded in length."""
    text = escape(value)
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


@record
class BuildOptions:
    per_object: int = 0  # N largest and N longest idle stale objects; 0: none


def _fill_ratio(obj: IpcObject) -> float | None:
    fields = spec(obj.kind).fill
    if fields is None:
        return None
    num, den = obj.value(fields[0]), obj.value(fields[1])
    if not isinstance(num, int) or not isinstance(den, int) or den <= 0:
        return None
    return min(num / den, 1.0)


def _last_use(obj: IpcObject) -> int | None:
    times = [t for t in (obj.value(f) for f in spec(obj.kind).use_times) if isinstance(t, int) and t > 0]
    return max(times, default=None)


def namespace_labels(snapshot: Snapshot) -> dict[NsKey, str]:
    """The `namespace` label of each namespace: "host", else its container's name or its tag (escaped, bounded);
    at most NAMESPACES_MAX distinct values (the namespaces with the most objects), the rest "other"."""
    sizes = Counter(o.namespace.key for o in snapshot.objects if o.namespace is not None and not o.namespace.host)
    out: dict[NsKey, str] = {}
    named: set[str] = set()
    for ns in sorted(snapshot.namespaces, key=lambda n: (-sizes[n.key], n.type, n.inode)):
        if ns.host:
            out[ns.key] = HOST
            continue
        value = label(ns.label)
        if value not in named and len(named) >= NAMESPACES_MAX:
            value = OTHER_NAMESPACE
        named.add(value)
        out[ns.key] = value
    return out


def _object_families(snapshot: Snapshot, names: dict[NsKey, str]) -> Iterator[Metric]:
    count, size, stale, stale_size = (Counter[tuple[str, str]]() for _ in range(4))
    fill: dict[str, float] = dict.fromkeys((k for k in KINDS if spec(k).fill is not None), 0.0)
    for obj in snapshot.objects:
        key = (obj.kind, HOST if obj.namespace is None else names.get(obj.namespace.key, OTHER_NAMESPACE))
        count[key] += 1
        size[key] += obj.size or 0
        if obj.stale:
            stale[key] += 1
            stale_size[key] += obj.size or 0
        ratio = _fill_ratio(obj)
        if ratio is not None:
            fill[obj.kind] = max(fill.get(obj.kind, 0.0), ratio)
    # every kind in the host, even empty ones, and any the model adds; other namespaces where they have objects
    series = list(dict.fromkeys([*((kind, HOST) for kind in KINDS), *sorted(count)]))
    for name, values in (
        ("ipcwatch_objects", count),
        ("ipcwatch_object_bytes", size),
        ("ipcwatch_stale_objects", stale),
        ("ipcwatch_stale_bytes", stale_size),
    ):
        fam = family(name)
        for kind, where in series:
            fam.add_metric([kind, where], values[(kind, where)])
        yield fam
    fam = family("ipcwatch_queue_fill_ratio_max")
    for kind, ratio in fill.items():
        fam.add_metric([kind], ratio)
    yield fam


def _cycle_groups(blocked: list[BlockedThread]) -> int:
    """Groups of processes in wait cycles: connected components over who-could-wake-whom among them."""
    in_cycle = {b.pid for b in blocked if b.in_cycle}
    parent = {pid: pid for pid in in_cycle}

    def root(pid: int) -> int:
        while parent[pid] != pid:
            parent[pid] = parent[parent[pid]]
            pid = parent[pid]
        return pid

    for b in blocked:
        if b.pid in in_cycle:
            for w in b.wakers:
                if w.pid in in_cycle:
                    parent[root(b.pid)] = root(w.pid)
    return len({root(pid) for pid in in_cycle})


def _blocked_families(snapshot: Snapshot, blocked: list[BlockedThread]) -> Iterator[Metric]:
    by_kind_op = Counter[tuple[str, str]]()
    for b in blocked:
        kinds = {obj.kind for obj in (snapshot.get(ref) for ref in b.refs) if obj is not None}
        for kind in kinds or {OTHER_KIND}:
            by_kind_op[(kind, b.syscall)] += 1
    fam = family("ipcwatch_blocked_threads")
    for (kind, op), n in sorted(by_kind_op.items()):
        fam.add_metric([kind, label(op)], n)
    yield fam
    dead = family("ipcwatch_dead_partners")
    dead.add_metric([], sum(1 for b in blocked if b.dead_partner))
    yield dead
    cycles = family("ipcwatch_wait_cycles")
    cycles.add_metric([], _cycle_groups(blocked))
    yield cycles


def _limit_families(snapshot: Snapshot, uses: Iterable[LimitUse], names: dict[NsKey, str]) -> Iterator[Metric]:
    """The host's limits (`uses`), then each other IPC namespace's own that the scan read (not "other" ones)."""
    limit, used = family("ipcwatch_limit"), family("ipcwatch_limit_used")
    per_ns = [(HOST, list(uses))] + [
        (names[ns.key], limit_usage(snapshot, ns.limits, ns))
        for ns in snapshot.namespaces
        if not ns.host and ns.limits is not None and names.get(ns.key, OTHER_NAMESPACE) != OTHER_NAMESPACE
    ]
    for where, ns_uses in per_ns:
        for use in ns_uses:
            limit.add_metric([use.resource, where], use.limit)
            if use.used is not None:
                used.add_metric([use.resource, where], use.used)
    yield limit
    yield used


def _per_object_families(snapshot: Snapshot, n: int, now: float) -> Iterator[Metric]:
    n = min(n, PER_OBJECT_MAX)
    largest = family("ipcwatch_largest_object_bytes")
    sized = sorted((o for o in snapshot.objects if o.size), key=lambda o: (-(o.size or 0), o.ref))
    for obj in sized[:n]:
        largest.add_metric([obj.kind, label(obj.ref), label(obj.label)], obj.size or 0)
    yield largest
    idle = family("ipcwatch_stale_object_idle_seconds")
    stale = [(last, o) for o in snapshot.objects if o.stale and (last := _last_use(o)) is not None]
    stale.sort(key=lambda pair: (pair[0], pair[1].ref))
    for last, obj in stale[:n]:
        idle.add_metric([obj.kind, label(obj.ref), label(obj.label)], max(now - last, 0.0))
    yield idle


def snapshot_families(
    snapshot: Snapshot, blocked: list[BlockedThread], limits: list[LimitUse], options: BuildOptions
) -> list[Metric]:
    """Every family the snapshot yields (the scan-level ones are the collector's)."""
    names = namespace_labels(snapshot)
    families = [
        *_object_families(snapshot, names),
        *_blocked_families(snapshot, blocked),
        *_limit_families(snapshot, limits, names),
    ]
    if options.per_object > 0:
        families += _per_object_families(snapshot, options.per_object, time.time())
    errors = family("ipcwatch_scan_errors")
    errors.add_metric([], len(snapshot.errors))
    duration = family("ipcwatch_scan_duration_seconds")
    duration.add_metric([], snapshot.duration)
    return [*families, errors, duration]
