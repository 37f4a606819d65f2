"""The cyclic collector while the dashboard runs: off for the first scan, then on for the young generations only,
off again while each scan and its rows are built (a big one then frozen out of its walks), with a worker between
scans sweeping what is not frozen every SWEEP_EVERY seconds and thawing everything for a full collection when
garbage may have piled up in the frozen heap (between scans: at a scan's start, a sweep's stall added to the scan's
own, and the keys it met on an idle host took 60 ms and more).

Each scan builds a heap of acyclic objects (snapshot and rows) freed by reference counting when the next one is
shown. Left to itself, the collector walks the whole heap (every object of the last two scans) whenever a quarter
of it is new, i.e. about every scan: 45,000 objects, 90-240 ms holding the GIL, which any key pressed meanwhile
waited for (the slow keys and view switches under that load). Even the young collections walked a whole scan once
it was built with the collector off (scan() turns it off): the first gen-0 and gen-1 collections after it, in the
scan worker, 100-172 ms and 51-144 ms at 54,000 objects; hence the freeze of a build that left FREEZE_ABOVE young
objects or more (9,000 objects: 42,000-105,000 a build; the churn soak's 150: 1,000-4,500).

A freeze takes the UI's live objects with it, and the UI makes cyclic garbage at a steady rate whatever the host:
every line textual renders is a Strip that caches itself (a reference cycle), dropped at the next refresh or cache
eviction, besides dialogs, workers and timers. Frozen at every scan (the 10-minute churn soak, 150 objects, a scan
a second), 2-3,000 such objects a second waited for a thaw: each full collection, once a minute, freed 120-190,000
and took 270-550 ms holding the GIL. So a small build is not frozen (the young collections walk it in a few ms),
and a sweep, a full collection WITHOUT thawing, frees every SWEEP_EVERY seconds the cycles that outlived the young
generations since the last freeze, then freezes what survived (the next sweep walks only what is new). Under a big
scan every build is frozen and a sweep finds little (9,000 objects: 15-37 ms). What is frozen and dies later waits
for a full collection that thaws everything first: when the frozen heap (as a freeze leaves it) has grown by a
quarter over its smallest size since the last one (as CPython's own rule for full collections) and FULL_EVERY
seconds have passed, or in any case after FULL_LATEST seconds. Each sweep also clears textual's memo that kept the
styles cache of every widget gone (with the lines it rendered) alive: the soak's live heap grew from 141,000 to
289,000 objects in 8 minutes, and from 110,000 to 124,000 with the clear. The soak (isolated, seed 2027), RSS
after warm-up -> end: +20.5 % (89 -> 107 MB) before; sweeps alone +33.1 % and +29.4 % (70 -> 93 MB: the early
garbage peaks were gone, the memo's growth was not); with the clear +5.9, +3.5, +4.6 and +9.1 % (65-66 -> 68-72
MB). There (three soaks sharing two cores), sweeps took 52 ms (median; 73 at p90) and full collections 76-201 ms,
every 60-80 s.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator

try:  # a private module of textual (>=8.2,<9 in pyproject.toml): a textual without it leaves nothing to clear
    from textual._styles_cache import StylesCache
except ImportError:  # pragma: no cover - the pinned textual has it (test_heap checks it)
    StylesCache = None  # type: ignore[assignment,misc]

FREEZE_ABOVE = 20_000  # a build that left this many young objects is frozen (the young walks would take 10 ms+)
SWEEP_EVERY = 10.0  # seconds between sweeps: full collections of what is not frozen
FULL_EVERY = 60.0  # seconds at least between full collections (everything thawed)
FULL_LATEST = 600.0  # seconds at most between full collections
GROWTH = 1.25  # a full collection is due when the frozen heap has grown by this factor over its lowest since the last
NEVER = 2**31 - 1  # a gen-1 count the collector never reaches: no automatic full collection
# functools.lru_cache(1024) on a method: its key holds the widget's cache (None: not there in this textual)
STYLES_MEMO = getattr(getattr(StylesCache, "get_inner_outer", None), "cache_clear", None)


class Collector:
    """`pause` before the first scan, `resume` once it is shown, `collect_if_due` in a worker between scans,
    `building` in the scan worker, `restore` when the app ends (the collector as it was found, nothing frozen: tests
    run apps in-process)."""

    def __init__(
        self,
        every: float = FULL_EVERY,
        clock: Callable[[], float] = time.monotonic,
        latest: float = FULL_LATEST,
        sweep: float = SWEEP_EVERY,
        freeze_above: int = FREEZE_ABOVE,
    ) -> None:
        self.every, self.latest, self.sweep, self.freeze_above, self.clock = every, latest, sweep, freeze_above, clock
        self._found: tuple[bool, tuple[int, int, int]] | None = None  # (enabled, thresholds) before `pause`
        self._resumed = False  # `resume` acts once: a scan running elsewhere turns the collector off meanwhile too
        self._last_full = self._last_sweep = clock()
        self._frozen = self._lowest = 0  # the frozen heap's size as the last freeze left it, its smallest since the
        # last full collection (0: no freeze since)

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
            self._last_full = self._last_sweep = self.clock()
            gc.enable()

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        """Around a scan and its rows (in the scan worker, once the first scan is shown): the collector off (in
        every thread, as scan() does), then, if the build left `freeze_above` young objects or more, everything
        alive frozen out of its walks, the collector as it was. The frozen scan is acyclic: reference counting
        frees it as the next one replaces it."""
        if not self._resumed:  # the first scan: the collector is already off, `resume` freezes
            yield
            return
        enabled = gc.isenabled()  # False while another scan (an action's re-check) runs: it turns it on again
        gc.disable()
        try:
            yield
        finally:
            if gc.get_count()[0] >= self.freeze_above:
                self._freeze()
            if enabled:
                gc.enable()

    def collect_if_due(self) -> None:
        """A full collection, everything thawed first, or else a sweep, when due (see the module): call it off the
        UI thread, between scans."""
        if not self._resumed or not gc.isenabled():
            return
        now = self.clock()
        age = now - self._last_full
        grown = self._lowest and self._frozen >= self._lowest * GROWTH
        full = age >= self.latest or (age >= self.every and grown)
        if not full and now - self._last_sweep < self.sweep:
            return
        # textual memoizes a method on every widget's styles cache (`self` in the key, 1,024 entries): a widget gone
        # (a dialog, a filter bar, a toast) kept its cache and every line it rendered alive until pushed out
        if STYLES_MEMO is not None:
            STYLES_MEMO()
        if full:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._last_full = self._last_sweep = now
            self._lowest = 0
        else:
            gc.collect()  # the frozen heap is left out of its walk
            self._freeze()
            self._last_sweep = now

    def _freeze(self) -> None:
        """Everything alive out of the collector's walks, the frozen heap's size noted."""
        gc.freeze()
        self._frozen = gc.get_freeze_count()
        self._lowest = min(self._lowest, self._frozen) if self._lowest else self._frozen

    def restore(self) -> None:
        """The collector as found, the frozen objects thawed (the process ends, or a test's goes on)."""
        if self._found is not None:
            enabled, thresholds = self._found
            self._found, self._resumed = None, False
            gc.unfreeze()
            gc.set_threshold(*thresholds)
            if enabled:
                gc.enable()
