"""Per-namespace figures of one snapshot (the `namespaces` command and the dashboard): objects, stale ones,
blocked threads, limit use. Pure data."""

from __future__ import annotations

from ipcwatch.record import record
from ipcwatch.scan.limits import LimitUse, limit_usage
from ipcwatch.scan.model import Snapshot
from ipcwatch.scan.namespaces import Namespace
from ipcwatch.text import escape

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any


@record
class NamespaceSummary:
    namespace: Namespace
    objects: dict[str, int]  # kind -> count of its objects in this namespace
    stale: int
    blocked: int  # threads waiting on its objects
    limits: tuple[LimitUse, ...]  # an IPC namespace's limits whose use can be measured

    @property
    def total(self) -> int:
        return sum(self.objects.values())

    def to_json(self) -> dict[str, Any]:
        return {
            **self.namespace.to_json(),
            "objects": dict(self.objects),
            "stale": self.stale,
            "blocked": self.blocked,
            "limit_use": [{"resource": u.resource, "limit": u.limit, "used": u.used} for u in self.limits],
        }

    def busiest_limit(self) -> str:
        """`shmmni 3/4096 (0%)`, the measured limit nearest to exhaustion; "" when none."""
        measured = [u for u in self.limits if u.ratio is not None]
        if not measured:
            return ""
        top = max(measured, key=lambda u: u.ratio or 0.0)
        return f"{escape(top.resource)} {top.used}/{top.limit} ({(top.ratio or 0.0):.0%})"


def summarize(snapshot: Snapshot) -> list[NamespaceSummary]:
    """One summary per namespace of the snapshot, in its order (host first, by type)."""
    out = []
    for ns in snapshot.namespaces:
        mine = snapshot.in_namespace(ns)
        counts: dict[str, int] = {}
        for obj in mine:
            counts[obj.kind] = counts.get(obj.kind, 0) + 1
        uses = () if ns.limits is None else tuple(u for u in limit_usage(snapshot, ns.limits, ns) if u.used is not None)
        out.append(NamespaceSummary(ns, counts, sum(o.stale for o in mine), sum(len(o.waiters) for o in mine), uses))
    return out
