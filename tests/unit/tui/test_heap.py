"""The dashboard's cyclic collector: off for the first scan, whose objects are then frozen, then no automatic full
collection, off while each later scan is built (a big one then frozen), a sweep of what is not frozen every few
seconds and a full one, everything thawed, when due (both in the scan worker), and the collector as it was found once
the app ends."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from textual._styles_cache import StylesCache
from textual.color import Color

from ipcwatch.tui.heap import GROWTH, NEVER, SWEEP_EVERY, Collector


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def process_collector() -> Iterator[None]:
    """Every test here leaves the process's collector as it found it: on or off, and its thresholds."""
    found = (gc.isenabled(), gc.get_threshold())
    yield
    gc.set_threshold(*found[1])
    (gc.enable if found[0] else gc.disable)()


@pytest.fixture
def clock() -> list[float]:
    return [100.0]


@pytest.fixture
def collector(clock: list[float]) -> Iterator[Collector]:
    """A collector paused and resumed (the first scan shown), every build frozen (as a big scan's), a sweep every
    10 s; the process's collector as found afterwards."""
    gc.enable()
    managed = Collector(every=60.0, clock=lambda: clock[0], latest=600.0, sweep=10.0, freeze_above=0)
    try:
        managed.pause()
        managed.resume()
        yield managed
    finally:
        managed.restore()


def old_garbage() -> weakref.ref[Cycle]:
    """A cycle that survived the young generations, then dropped: only a full collection or a sweep frees it."""
    cycle = Cycle()
    gc.collect(1)
    gc.collect(1)
    ref = weakref.ref(cycle)
    del cycle
    gc.collect(1)
    assert ref() is not None
    return ref


def frozen_garbage() -> weakref.ref[Cycle]:
    """A cycle frozen while alive (with a scan), then dropped: only a full collection, which thaws, frees it."""
    cycle = Cycle()
    gc.freeze()
    ref = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert ref() is not None
    return ref


def test_a_full_collection_waits_for_latest_when_the_heap_has_not_grown_and_restore_thaws(clock: list[float]) -> None:
    found, now = (gc.isenabled(), gc.get_threshold()), clock
    gc.enable()
    collector = Collector(every=60.0, clock=lambda: now[0], latest=600.0)
    try:
        collector.pause()
        assert not gc.isenabled()
        kept = Cycle()  # alive while the first scan is shown: frozen, never walked
        collector.resume()
        assert gc.isenabled() and gc.get_threshold()[2] == NEVER and gc.get_freeze_count() > 0
        ref = frozen_garbage()
        now[0] += 599.0
        collector.collect_if_due()  # not grown: not due before `latest` (a sweep leaves the frozen heap alone)
        assert ref() is not None
        now[0] += 1.0
        collector.collect_if_due()
        assert ref() is None
        kept_ref = weakref.ref(kept)
        del kept
        gc.collect()
        assert kept_ref() is not None  # frozen, even after the full collection (which froze the heap again)
        collector.restore()
        assert gc.isenabled() and gc.get_threshold() == found[1] and gc.get_freeze_count() == 0
        gc.collect()
        assert kept_ref() is None  # thawed
    finally:
        collector.restore()  # again when an assertion failed before it: no frozen heap left to the next test


def test_a_big_scan_is_built_with_the_collector_off_then_frozen_and_it_is_on_again(clock: list[float]) -> None:
    gc.enable()
    collector = Collector(clock=lambda: clock[0], freeze_above=2000)
    try:
        collector.pause()
        collector.resume()
        frozen = gc.get_freeze_count()
        with collector.building():
            assert not gc.isenabled()
            built = [[i] for i in range(2000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + 2000  # out of the young collections' walks
        assert gc.get_count()[0] < 2000
        with collector.building():
            small = [[i] for i in range(500)]
        assert gc.get_freeze_count() < frozen + 2500  # left to the young collections
        assert gc.isenabled() and gc.get_count()[0] >= 500
        del built, small
    finally:
        collector.restore()


def test_the_ui_garbage_made_while_a_small_scan_is_built_is_freed_by_the_next_sweep(clock: list[float]) -> None:
    """The UI drops cycles all the time (every line textual renders caches itself); made while a small scan is
    built, they are not frozen with it, and a sweep (no thaw) frees those that outlived the young collections
    within SWEEP_EVERY seconds. What is frozen is left to full collections."""
    gc.enable()
    collector = Collector(clock=lambda: clock[0])  # the dashboard's own schedule
    try:
        collector.pause()
        collector.resume()
        frozen = frozen_garbage()
        with collector.building():
            scan = [[i] for i in range(100)]
            cycle = Cycle()  # made by the UI thread while the scan was built (a line rendered), dropped later
        gc.collect(1)
        gc.collect(1)  # it outlived the young collections
        made = weakref.ref(cycle)
        del cycle
        gc.collect(1)
        clock[0] += SWEEP_EVERY - 1
        collector.collect_if_due()
        assert made() is not None  # no sweep yet
        clock[0] += 1
        collector.collect_if_due()
        assert made() is None
        assert frozen() is not None  # a sweep does not thaw
        del scan
    finally:
        collector.restore()


def test_a_sweep_freezes_what_survived_it(collector: Collector, clock: list[float]) -> None:
    """The next sweep walks only what is new: the survivors of the last one are frozen (and a full collection
    thaws them)."""
    frozen = gc.get_freeze_count()
    kept = [Cycle() for _ in range(300)]
    clock[0] += 10.0
    collector.collect_if_due()
    assert gc.get_freeze_count() >= frozen + 300
    refs = [weakref.ref(c) for c in kept]
    del kept
    gc.collect()
    assert all(ref() is not None for ref in refs)  # frozen cycles: the sweeps leave them
    clock[0] += 600.0
    collector.collect_if_due()
    assert all(ref() is None for ref in refs)


def test_a_raising_scan_leaves_the_collector_on(collector: Collector) -> None:
    with pytest.raises(OSError), collector.building():
        raise OSError("scan failed")
    assert gc.isenabled()


def test_a_build_during_another_scan_leaves_the_collector_to_that_scan(collector: Collector) -> None:
    gc.disable()  # an action's re-check scan, running in another worker
    try:
        with collector.building():
            pass
        assert not gc.isenabled()  # that scan turns it on again when it ends
    finally:
        gc.enable()


def test_the_first_scan_is_left_to_pause_and_resume() -> None:
    gc.enable()
    collector, frozen = Collector(), gc.get_freeze_count()
    try:
        collector.pause()
        with collector.building():
            pass
        assert not gc.isenabled() and gc.get_freeze_count() == frozen
    finally:
        collector.restore()


def test_cyclic_garbage_frozen_with_a_scan_is_freed_once_the_heap_has_grown(
    collector: Collector, clock: list[float]
) -> None:
    """Cycles the UI made and dropped while a scan was built are frozen with it; the full collection thaws and
    frees them once the frozen heap has grown by GROWTH (here: a bigger scan) and `every` seconds have passed."""
    ref = old_garbage()
    with collector.building():
        scan = [[0]]  # the first scan since the last full collection: the size to compare with
    with collector.building():
        cycle = Cycle()  # made and dropped by another thread while the scan was built
        young = weakref.ref(cycle)
        del cycle
        scan = [[i] for i in range(int(gc.get_freeze_count() * (GROWTH - 1)) + 100)]
    gc.collect(1)
    assert young() is not None and ref() is not None  # frozen, old: out of young collections' reach
    clock[0] += 59.0
    collector.collect_if_due()
    assert young() is not None  # grown, but the last full collection is too recent
    clock[0] += 1.0
    collector.collect_if_due()
    assert young() is None and ref() is None
    assert gc.get_freeze_count() >= len(scan)  # the live scan frozen again
    del scan


def test_a_collector_found_off_is_left_alone() -> None:
    found = gc.get_threshold()
    gc.disable()
    try:
        collector = Collector(every=0.0)
        collector.pause()
        collector.resume()
        collector.collect_if_due()
        collector.restore()
        assert not gc.isenabled() and gc.get_threshold() == found
    finally:
        gc.enable()


def test_resume_acts_once_even_when_a_scan_has_the_collector_off_again() -> None:
    """A later scan turns the collector off while it runs (scan() does): a resume queued meanwhile must not freeze
    that scan's heap out of the collector's reach for good."""
    gc.enable()
    collector = Collector(every=60.0)
    try:
        collector.pause()
        collector.resume()
        frozen = gc.get_freeze_count()
        gc.disable()  # a scan running in a worker
        later = [Cycle() for _ in range(100)]
        collector.resume()
        assert gc.get_freeze_count() == frozen and not gc.isenabled()  # left to the scan that turned it off
        gc.enable()
        del later
    finally:
        collector.restore()


def test_scans_of_a_steady_size_wait_for_latest(collector: Collector, clock: list[float]) -> None:
    ref = frozen_garbage()
    for _ in range(3):
        with collector.building():
            scan = [[i] for i in range(1000)]
        clock[0] += 100.0
        collector.collect_if_due()
        assert ref() is not None
    clock[0] += 300.0
    collector.collect_if_due()
    assert ref() is None
    del scan


def test_a_sweep_lets_go_of_the_styles_cache_of_a_widget_gone(collector: Collector, clock: list[float]) -> None:
    """textual memoizes `StylesCache.get_inner_outer` with the cache itself in the key: the styles cache of a widget
    gone (with every line it rendered) stays alive until 1,024 later calls push it out, or a sweep clears it."""
    cache = StylesCache()  # a widget's, which painted once
    cache.get_inner_outer(Color(10, 20, 30), Color(40, 50, 60))
    ref = weakref.ref(cache)
    del cache  # the widget is gone
    gc.collect()
    clock[0] += 9.0
    collector.collect_if_due()
    assert ref() is not None  # held by textual's memo
    clock[0] += 1.0
    collector.collect_if_due()
    assert ref() is None
