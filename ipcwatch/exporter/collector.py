"""The custom collector: a cached scan shared by concurrent scrapes (single flight), with a time budget per scan.

`describe()` lists the families without scanning, so registering is free. A scrape serves the cached families
while they are younger than `max_age`; otherwise it starts a scan (unless one is running already: every scrape
waits for that one) and waits at most until `budget` seconds after the scan began. A scan that fails or runs
over budget is counted in `ipcwatch_scan_failures_total` and the previous families are served (with their age);
a late scan still fills the cache when it ends. Nothing here raises into the HTTP server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from ipcwatch import __version__
from ipcwatch.exporter import DEFAULT_BUDGET, DEFAULT_MAX_AGE
from ipcwatch.exporter.metrics import SPEC, BuildOptions, family, snapshot_families
from ipcwatch.record import record
from ipcwatch.scan import Snapshot, scan
from ipcwatch.scan.limits import limit_usage, read_limits
from ipcwatch.scan.waits import blocked_threads

TIMEOUT, ERROR = "timeout", "error"


@record
class _Cached:
    families: list[Metric]
    finished: float  # time.monotonic() when the scan ended


class _Flight:
    """One scan in progress; every scrape that needs fresh data waits on the same one."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.done = threading.Event()
        self.timed_out = False  # counted once, however many scrapes gave up on it


class SnapshotCollector(Collector):
    """Serves the metric families of a recent scan; see the module docstring for the caching rules."""

    def __init__(
        self,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        budget: float = DEFAULT_BUDGET,
        options: BuildOptions | None = None,
        scanner: Callable[[], Snapshot] = scan,
    ) -> None:
        self.max_age = max_age
        self.budget = budget
        self.options = options or BuildOptions()
        self._scanner = scanner
        self._lock = threading.Lock()
        self._cached: _Cached | None = None
        self._flight: _Flight | None = None
        self.scans = 0
        self.failures = {TIMEOUT: 0, ERROR: 0}
        self.last_ok: bool | None = None  # None: no scan has ended or run over budget yet
        self.last_error: str | None = None

    def describe(self) -> list[Metric]:
        return [family(name) for name in SPEC]

    def collect(self) -> Iterator[Metric]:
        cached = self.refresh()
        if cached is not None:
            yield from cached.families
        yield from self._own_families(cached)

    def refresh(self) -> _Cached | None:
        """The families to serve now: cached, or from a scan that ended within the budget."""
        with self._lock:
            cached, flight = self._cached, self._flight
            if cached is not None and time.monotonic() - cached.finished <= self.max_age:
                return cached
            if flight is None:
                flight = self._flight = _Flight()
                threading.Thread(target=self._run, args=(flight,), name="ipcwatch-scan", daemon=True).start()
        if not flight.done.wait(max(flight.started + self.budget - time.monotonic(), 0.0)):
            with self._lock:
                if not flight.timed_out:
                    flight.timed_out = True
                    self.failures[TIMEOUT] += 1
                    self.last_ok = False
        with self._lock:
            return self._cached

    def _run(self, flight: _Flight) -> None:
        families: list[Metric] | None = None
        error: str | None = None
        try:
            snapshot = self._scanner()
            families = snapshot_families(
                snapshot, blocked_threads(snapshot), limit_usage(snapshot, read_limits()), self.options
            )
        except Exception as exc:  # a failed scan is a metric, never a crash of the server
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.scans += 1
            self._flight = None
            if families is None:
                self.failures[ERROR] += 1
                self.last_ok = False
                self.last_error = error
            else:
                self.last_ok = not flight.timed_out
                self._cached = _Cached(families, time.monotonic())
        flight.done.set()

    def _own_families(self, cached: _Cached | None) -> Iterator[Metric]:
        with self._lock:
            scans, failures, last_ok = self.scans, dict(self.failures), self.last_ok
        total = family("ipcwatch_scans")
        total.add_metric([], scans)
        yield total
        if last_ok is not None:
            success = family("ipcwatch_last_scan_success")
            success.add_metric([], 1 if last_ok else 0)
            yield success
        failed = family("ipcwatch_scan_failures")
        for reason, n in failures.items():
            failed.add_metric([reason], n)
        yield failed
        if cached is not None:
            age = family("ipcwatch_snapshot_age_seconds")
            age.add_metric([], time.monotonic() - cached.finished)
            yield age
        info = family("ipcwatch_build_info")
        info.add_metric([__version__], 1)
        yield info
