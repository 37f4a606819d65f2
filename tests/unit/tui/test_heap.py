"""The dashboard's cyclic collector: off for the first scan, whose objects are then frozen, then no automatic full
collection, a full one when due (in the scan worker), and the collector as it was found once the app ends."""

from __future__ import annotations

import gc
import weakref

from ipcwatch.tui.heap import NEVER, Collector


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_full_collection_runs_only_when_due_and_the_collector_is_restored() -> None:
    found, now = (gc.isenabled(), gc.get_threshold()), [100.0]
    gc.enable()
    collector = Collector(every=60.0, clock=lambda: now[0])
    try:
        collector.pause()
        assert not gc.isenabled()
        kept = Cycle()  # alive while the first scan is shown: frozen, never walked
        collector.resume()
        assert gc.isenabled() and gc.get_threshold()[2] == NEVER and gc.get_freeze_count() > 0
        cycle = Cycle()
        gc.collect(1)
        gc.collect(1)  # survived the young generations: it is old now
        ref = weakref.ref(cycle)
        del cycle
        gc.collect(1)
        assert ref() is not None  # old cyclic garbage waits for a full collection
        now[0] += 59.0
        collector.collect_if_due()
        assert ref() is not None
        now[0] += 1.0
        collector.collect_if_due()
        assert ref() is None
        kept_ref = weakref.ref(kept)
        del kept
        gc.collect()
        assert kept_ref() is not None  # frozen
        collector.restore()
        assert gc.isenabled() and gc.get_threshold() == found[1] and gc.get_freeze_count() == 0
        gc.collect()
        assert kept_ref() is None  # thawed
    finally:
        gc.set_threshold(*found[1])
        (gc.enable if found[0] else gc.disable)()


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
    found = (gc.isenabled(), gc.get_threshold())
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
        gc.set_threshold(*found[1])
        (gc.enable if found[0] else gc.disable)()
