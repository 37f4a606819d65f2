"""Clean up stale objects: list every removable stale object with reason, age, owner and size, then remove.

Objects touched in the last minute (any of their times) start unselected: a stale verdict on something that
just moved is more likely a race than an abandoned object. Each removal re-checks the object's identity.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ipcwatch.actions.outcome import Outcome, failed
from ipcwatch.actions.remove import entry_of, not_removable, remove
from ipcwatch.actions.verify import users
from ipcwatch.scan import IpcObject, ScanConfig, Snapshot, scan
from ipcwatch.text import ago, human_size

RECENT_SECONDS = 60.0
TOUCH_FIELDS = ("mtime", "ctime", "atime", "dtime", "stime", "rtime", "otime")
FILE_KINDS = frozenset({"posix-shm", "posix-sem", "posix-mq", "fifo", "unix"})


@dataclass(frozen=True)
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
        age = "age ?" if self.age is None else f"touched {ago(self.age)} ago"
        return f"{self.ref}: {self.reason}; {age}; owner {self.obj.owner}; size {human_size(self.obj.size)}"


@dataclass(frozen=True)
class CleanPlan:
    candidates: tuple[Candidate, ...]
    skipped: tuple[tuple[IpcObject, str], ...]  # stale but not removable now, with the reason

    def summary(self, selected: Iterable[Candidate]) -> str:
        """The dry-run sentence for a selection (raw)."""
        chosen = list(selected)
        total = sum(c.obj.size or 0 for c in chosen if c.obj.kind not in ("sysv-sem",))
        return (
            f"would remove {len(chosen)} of {len(self.candidates)} stale object(s) ({human_size(total)}); "
            f"{len(self.skipped)} stale object(s) cannot be removed"
        )


def _touch_times(obj: IpcObject, config: ScanConfig) -> list[float]:
    times = [float(obj.fields[k]) for k in TOUCH_FIELDS if isinstance(obj.fields.get(k), (int, float))]
    if obj.kind in FILE_KINDS and not_removable(obj) is None:
        directory, entry = entry_of(obj, config)
        try:
            st = os.lstat(os.path.join(directory, entry))
            times += [st.st_mtime, st.st_ctime, st.st_atime]
        except OSError:
            pass
    return [t for t in times if t > 0]


def plan_from(snapshot: Snapshot, config: ScanConfig | None = None, *, now: float | None = None,
              recent: float = RECENT_SECONDS) -> CleanPlan:
    config = config or ScanConfig()
    now = time.time() if now is None else now
    candidates, skipped = [], []
    for obj in snapshot.objects:
        if not obj.stale:
            continue
        reason = not_removable(obj) or ("in use: " + "; ".join(users(obj)) if users(obj) else None)
        if reason:
            skipped.append((obj, reason))
            continue
        touched = max(_touch_times(obj, config), default=None)
        age = None if touched is None else max(0.0, now - touched)
        candidates.append(Candidate(obj, touched, age, selected=age is None or age >= recent))
    return CleanPlan(tuple(candidates), tuple(skipped))


def plan(config: ScanConfig | None = None, *, recent: float = RECENT_SECONDS) -> CleanPlan | Outcome:
    """Scan and list the candidates (an Outcome only when the scan itself failed)."""
    try:
        return plan_from(scan(config), config, recent=recent)
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"could not scan for stale objects: {exc}")


def clean(selected: Iterable[Candidate], *, read_only: bool = False, config: ScanConfig | None = None) -> list[Outcome]:
    """Remove each selected candidate, each after its own identity re-check; one outcome per candidate."""
    return [remove(c.ref, c.obj.identity, read_only=read_only, config=config) for c in selected]
