"""Clean up stale objects: list every removable stale object with reason, age, owner and size, then remove.

Objects used in the last minute start unselected: a stale verdict on something that just moved is more likely a
race than an abandoned object. Each removal re-checks the object's identity. An object's age comes only from times
that our own reads leave alone: never a file's atime (the scan's semaphore read and the hex view set it), and for a
POSIX queue only its mtime (reading /dev/mqueue/NAME, as every scan does, sets its atime and ctime; mq_send and
mq_receive set its mtime).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from ipcwatch.actions.outcome import Outcome, failed
from ipcwatch.actions.remove import entry_of, not_removable, remove
from ipcwatch.actions.verify import users
from ipcwatch.kinds import FILE_KINDS, spec
from ipcwatch.record import record
from ipcwatch.scan import IpcObject, ScanConfig, Snapshot, scan
from ipcwatch.scan.namespaces import in_other_namespace
from ipcwatch.scan.nsfilter import ALL, object_matches
from ipcwatch.text import ago, human_size

RECENT_SECONDS = 60.0


@record
class Candidate:
    obj: IpcObject
    last_touched: float | None  # seconds since the epoch; None when unknown
    age: float | None  # seconds since last touched
    selected: bool  # the default selection

    @property
    def ref(self) -> str:
        return self.obj.ref

    @property
    def reason(self) -> str:
        return self.obj.stale_reason or "stale"

    def line(self) -> str:
        """One raw line for a list: ref, reason, age, owner, size."""
        age = "age ?" if self.age is None else spec(self.obj.kind).age_text.format(age=ago(self.age))
        return f"{self.ref}: {self.reason}; {age}; owner {self.obj.owner}; size {human_size(self.obj.size)}"


@record
class CleanPlan:
    candidates: tuple[Candidate, ...]
    skipped: tuple[tuple[IpcObject, str], ...]  # stale but not removable now, with the reason

    def summary(self, selected: Iterable[Candidate]) -> str:
        """The dry-run sentence for a selection (raw)."""
        chosen = list(selected)
        total = sum(c.obj.size or 0 for c in chosen if not spec(c.obj.kind).size_is_count)
        return (
            f"would remove {len(chosen)} of {len(self.candidates)} stale object(s) ({human_size(total)}); "
            f"{len(self.skipped)} stale object(s) cannot be removed"
        )


def _use_times(obj: IpcObject, config: ScanConfig) -> list[float]:
    """The object's use times (its kind's `use_times`: SysV from /proc/sysvipc, where a segment's atime/dtime are its
    last attach/detach; files from lstat, never their atime, which our reads set), a file's re-read with lstat: it
    may have moved since the scan."""
    names = spec(obj.kind).use_times
    times = [float(t) for t in (obj.value(k) for k in names) if isinstance(t, (int, float))]
    if obj.kind in FILE_KINDS and not_removable(obj) is None and not in_other_namespace(obj.ref):
        directory, entry = entry_of(obj, config)
        try:
            st = os.lstat(os.path.join(directory, entry))
            times += [getattr(st, f"st_{k}") for k in names]
        except OSError:
            pass
    return [t for t in times if t > 0]


def plan_from(
    snapshot: Snapshot,
    config: ScanConfig | None = None,
    *,
    now: float | None = None,
    recent: float = RECENT_SECONDS,
    namespace: str = ALL,
) -> CleanPlan:
    """The stale objects of the namespaces `namespace` selects (nsfilter: host, all, a container, ipc:INODE)."""
    config = config or ScanConfig()
    now = time.time() if now is None else now
    candidates, skipped = [], []
    for obj in snapshot.objects:
        if not obj.stale or not object_matches(obj, namespace):
            continue
        reason = not_removable(obj) or ("in use: " + "; ".join(users(obj)) if users(obj) else None)
        if reason:
            skipped.append((obj, reason))
            continue
        touched = max(_use_times(obj, config), default=None)
        age = None if touched is None else max(0.0, now - touched)
        candidates.append(Candidate(obj, touched, age, selected=age is None or age >= recent))
    return CleanPlan(tuple(candidates), tuple(skipped))


def plan(
    config: ScanConfig | None = None, *, recent: float = RECENT_SECONDS, namespace: str = ALL
) -> CleanPlan | Outcome:
    """Scan and list the candidates (an Outcome only when the scan itself failed)."""
    try:
        return plan_from(scan(config), config, recent=recent, namespace=namespace)
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"could not scan for stale objects: {exc}")


def clean(selected: Iterable[Candidate], *, read_only: bool = False, config: ScanConfig | None = None) -> list[Outcome]:
    """Remove each selected candidate, each after its own identity re-check; one outcome per candidate."""
    return [remove(c.ref, c.obj.identity, read_only=read_only, config=config) for c in selected]
