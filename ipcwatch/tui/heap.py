"""The cyclic collector while the dashboard runs: off for the first scan (whose objects are then frozen out of its
walks), then on for the young generations only, with a full collection at most every FULL_EVERY seconds, run by
the scan worker before it scans.

Each scan builds a heap of acyclic objects (snapshot and rows) freed by reference counting when the next one is
shown. Left to itself, the collector walks the whole heap (every object of the last two scans) whenever a quarter
of it is new, i.e. about every scan: 45,000 objects, 90-240 ms holding the GIL, which any key pressed meanwhile
waited for (the slow keys and view switches under that load). Young collections (a few ms) still free most cyclic
garbage; what reaches the old generation waits for the next full collection.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

FULL_EVERY = 60.0  # seconds between full collections
NEVER = 2**31 - 1  # a gen-1 count the collector never reaches: no automatic full collection


class Collector:
    """`pause` before the first scan, `resume` once it is shown, `collect_if_due` in the scan worker, `restore` when
    the app ends (the collector as it was found, nothing frozen: tests run apps in-process)."""

    def __init__(self, every: float = FULL_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every, self.clock = every, clock
        self._found: tuple[bool, tuple[int, int, int]] | None = None  # (enabled, thresholds) before `pause`
        self._resumed = False  # `resume` acts once: a scan running elsewhere turns the collector off meanwhile too
        self._last_full = clock()

    @property
    def managed(self) -> bool:
        return self._found is not None

    def pause(self) -> None:
        """Off until the first scan is shown (its large acyclic heap would be walked again and again as it grows)."""
        if self._found is None and gc.isenabled():
            self._found = (True, gc.get_threshold())
            gc.disable()

    def resume(self) -> None:
        """On again, without automatic full collections. What the first scan left (every object made while the
        collector was off, all young) is frozen out of its walks first: the first young collection walked it all
        (45,000 objects: 57 + 54 ms just after the first paint, which held up writing that very frame). Its
        snapshot and rows are freed by reference counting as the next scan replaces them; a cycle made meanwhile
        is never freed, once. Only the first call acts: `gc.isenabled()` cannot tell, since any scan (the next
        one, an action's re-check) turns the collector off while it runs."""
        if self._found is not None and not self._resumed:
            self._resumed = True
            young, middle, _ = self._found[1]
            gc.freeze()
            gc.set_threshold(young, middle, NEVER)
            self._last_full = self.clock()
            gc.enable()

    def collect_if_due(self) -> None:
        """A full collection when the last is FULL_EVERY seconds old (call it off the UI thread, before scanning)."""
        if self._found is not None and gc.isenabled() and self.clock() - self._last_full >= self.every:
            gc.collect()
            self._last_full = self.clock()

    def restore(self) -> None:
        """The collector as found, the frozen objects thawed (the process ends, or a test's goes on)."""
        if self._found is not None:
            enabled, thresholds = self._found
            self._found, self._resumed = None, False
            gc.unfreeze()
            gc.set_threshold(*thresholds)
            if enabled:
                gc.enable()
