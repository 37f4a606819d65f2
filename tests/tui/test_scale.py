"""The dashboard at scale: every view's rows are prepared by the scan worker and the hidden tables take them once
the visible one is painted (a switch only switches tables); an object row's cells are built only when drawn; the
cyclic collector paused for the first scan comes back on."""

from __future__ import annotations

import gc
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from rich.text import Text
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.screen import Screen
from textual.strip import Strip
from textual.visual import Visual
from textual.worker import get_current_worker

from ipcwatch.kinds import KINDS
from ipcwatch.scan import Snapshot
from ipcwatch.tui.app import SWITCH_INTERVAL, IpcwatchApp
from ipcwatch.tui.heap import NEVER
from ipcwatch.tui.widgets.detail import DetailPane
from ipcwatch.tui.widgets.keyed_table import KeyedTable
from ipcwatch.tui.widgets.rows import ALL
from tests.tui_fixtures import fixed_clock, synthetic_snapshot

SIZE = (120, 40)


@asynccontextmanager
async def scanned(snapshot: Snapshot, size: tuple[int, int] = SIZE) -> AsyncIterator[tuple[IpcwatchApp, Pilot]]:
    """The dashboard on `snapshot` (every scan gives it), its first scan shown, every view's table filled."""
    app = IpcwatchApp(lambda: snapshot, interval=60, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()  # the views the first scan left for after its first frame
        await pilot.pause()
        yield app, pilot


async def test_hidden_views_are_filled_before_they_are_shown_and_only_drawn_rows_build_cells() -> None:
    snapshot, thresholds, switch = synthetic_snapshot(900, 30), gc.get_threshold(), sys.getswitchinterval()
    async with scanned(snapshot) as (app, pilot):
        await pilot.pause()
        assert sys.getswitchinterval() == SWITCH_INTERVAL < switch  # the UI thread gets the GIL back sooner
        assert gc.isenabled()  # paused for the first scan only
        assert gc.get_threshold()[2] == NEVER  # full collections only when the scan worker runs one
        for kind in KINDS:  # never shown, already filled
            assert set(app.dashboard.table(kind).rows) == {o.ref for o in snapshot.of_kind(kind)}
        rows = app.dashboard.rows
        assert rows is not None
        drawn = [r.key for r in rows.objects[ALL] if r.given is not None]
        assert 0 < len(drawn) < SIZE[1]  # the lines on screen, not 900
        kind = KINDS[2]
        assert all(r.given is None for r in rows.objects[kind])
        app.dashboard.show_view(kind)
        await pilot.pause()
        table = app.dashboard.table(kind)
        assert table.selected_key == snapshot.of_kind(kind)[0].ref
        assert 0 < sum(r.given is not None for r in rows.objects[kind]) < SIZE[1]
        screen = "".join(table.render_line(y).text for y in range(table.size.height))
        assert rows.objects[kind][0].cells[0] in screen  # its key, 0x00000002
    assert gc.get_threshold() == thresholds and sys.getswitchinterval() == switch  # as found, once the app ended


async def test_an_app_that_ends_before_its_first_scan_turns_the_collector_back_on() -> None:
    snapshot, release = synthetic_snapshot(90, 3), threading.Event()

    def waiting() -> Snapshot:
        release.wait(10)
        return snapshot

    app = IpcwatchApp(waiting, interval=60, clock=fixed_clock)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.scanning and not gc.isenabled()  # off while the first scan runs
    finally:
        release.set()
    assert gc.isenabled()


async def test_a_jump_into_a_table_filled_while_hidden_brings_its_cursor_into_view() -> None:
    snapshot = synthetic_snapshot(900, 300)
    async with scanned(snapshot, (80, 24)) as (app, pilot):
        await pilot.press("7", "end", "p")  # the last FIFO's holder: far down the process table, never shown yet
        await pilot.pause()
        await pilot.pause()
        table = app.dashboard.table("processes")
        index = table.index_of(table.selected_key or "")
        top, height = round(table.scroll_offset.y), table.scrollable_content_region.height - 1
        assert index is not None and index > height and top <= index < top + height


def counted_layouts(screen: Screen) -> list[tuple[object, ...]]:
    """A list that gets an entry each time `screen` lays itself out from now on (clear it to start counting)."""
    layouts: list[tuple[object, ...]] = []
    relayout = screen._refresh_layout

    def counted(*args: object, **kwargs: object) -> None:
        layouts.append(args)
        relayout(*args, **kwargs)  # type: ignore[arg-type]

    screen._refresh_layout = counted  # type: ignore[method-assign]
    return layouts


async def test_a_view_switch_lays_the_screen_out_once_even_when_the_detail_text_changes_height() -> None:
    snapshot = synthetic_snapshot(90, 3)
    async with scanned(snapshot) as (app, pilot):
        screen = app.dashboard
        layouts = counted_layouts(screen)
        pane = screen.query_one(DetailPane)
        await pilot.press("3", "0")  # each table shown once (its first showing sizes it)
        await pilot.pause()
        for key in ("3", "0"):  # a semaphore set (with its values), then a segment: texts of other heights
            before, layouts[:] = pane.virtual_size.height, []
            await pilot.press(key)
            for _ in range(4):
                await pilot.pause(0.05)
            assert pane.virtual_size.height != before
            assert len(layouts) == 1  # the switch's; a Static in a VerticalScroll took a second for its scrollbar


async def test_the_detail_pane_wraps_its_text_and_scrolls_it() -> None:
    snapshot = synthetic_snapshot(90, 3)
    async with scanned(snapshot) as (app, pilot):
        pane = app.dashboard.query_one(DetailPane)
        wraps, strips = [], pane._strips

        def counted(visual: Visual, width: int) -> list[Strip]:
            wraps.append(width)
            return strips(visual, width)

        pane._strips = counted  # type: ignore[method-assign]
        pane.show(Text("x" * 500 + "\n" + "\n".join(f"line {i}" for i in range(40)) + "\nlast"))
        await pilot.pause()
        width = pane.scrollable_content_region.width
        assert wraps == [width]  # more lines than the room: wrapped once, for the room the scrollbar leaves
        assert width < pane.container_size.width  # the scrollbar's room is left
        assert pane.virtual_size.height == -(-500 // width) + 41
        pane.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        bottom = pane.render_line(pane.scrollable_content_region.height - 1).text
        assert bottom.strip() == "last"


async def test_a_shown_scan_is_freed_by_reference_counting_once_the_next_is_shown() -> None:
    """The scan worker's result is handed over, not kept by the finished worker (which lives until a full cyclic
    collection); the one a scan replaced is freed by the next scan worker, off the UI thread: with the collector
    off, every snapshot but the last two shown goes at once."""
    alive: list[weakref.ref[Snapshot]] = []

    def scanner() -> Snapshot:
        snapshot = synthetic_snapshot(90, 3, salt=len(alive) % 2)
        alive.append(weakref.ref(snapshot))
        return snapshot

    app = IpcwatchApp(scanner, interval=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        gc.disable()
        try:
            for _ in range(4):
                app.action_refresh_now()
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert len(alive) == 5
            assert [ref() is not None for ref in alive[:3]] == [False] * 3
            assert alive[-1]() is app.dashboard.snapshot
        finally:
            gc.enable()


async def test_a_first_switch_to_each_view_lays_the_screen_out_once_and_resizes_no_table() -> None:
    """Every view's table is laid out at full size from the start (ViewStack): a table shown for the first time is
    not resized, so no scrollbar appears a layout later (ContentSwitcher sized it only when shown: 2-3 layouts)."""
    snapshot = synthetic_snapshot(900, 30)
    async with scanned(snapshot) as (app, pilot):
        screen = app.dashboard
        layouts = counted_layouts(screen)
        top = screen.table(ALL).region.y
        for kind in KINDS[:4]:
            table = screen.table(kind)
            size, scrollbar = table.size, table.show_vertical_scrollbar
            assert size == screen.table(ALL).size and scrollbar  # sized while never shown, 100 rows: scrollable
            layouts[:] = []
            screen.show_view(kind)
            for _ in range(4):
                await pilot.pause(0.05)
            assert len(layouts) == 1
            assert table.size == size and table.region.y == top


async def test_only_the_shown_views_tables_take_focus() -> None:
    snapshot = synthetic_snapshot(90, 3)
    async with scanned(snapshot) as (app, pilot):
        screen = app.dashboard
        for key, shown in (("1", {screen.table(KINDS[0])}), ("p", {screen.table("processes"), screen.held_table})):
            await pilot.press(key)
            await pilot.pause()
            tables = {w for w in screen.focus_chain if isinstance(w, KeyedTable)}
            assert tables == shown
            stack = screen.query_one("#switcher").region
            assert screen.get_widget_at(stack.x + 1, stack.y + 1)[0] in shown  # a click lands on it


async def test_a_view_switch_paints_its_detail_pane_with_its_layout_and_never_the_whole_screen() -> None:
    snapshot = synthetic_snapshot(90, 3)
    async with scanned(snapshot) as (app, pilot):
        screen = app.dashboard
        painted: list[set[str]] = []
        paint = screen._compositor_refresh

        def counted() -> None:
            painted.append({type(w).__name__ for w in screen._dirty_widgets})
            paint()

        screen._compositor_refresh = counted  # type: ignore[method-assign]
        layouts = counted_layouts(screen)
        await pilot.press("3", "0")
        await pilot.pause()
        for key in ("3", "0"):  # each changes the detail text and moves the focus to another table
            before, painted[:], layouts[:] = screen.query_one(DetailPane).text, [], []
            await pilot.press(key)
            for _ in range(4):
                await pilot.pause(0.05)
            assert screen.query_one(DetailPane).text != before
            assert len(layouts) == 1 and "DetailPane" in painted[0]  # the layout's paint drew the new text
            assert all("DashboardScreen" not in dirty for dirty in painted)  # a focus move repainted everything


async def test_a_switch_to_the_process_view_restyles_the_view_not_everything_inside_it() -> None:
    snapshot = synthetic_snapshot(90, 3)
    async with scanned(snapshot) as (app, pilot):
        restyled: list[str | None] = []
        update = app.stylesheet.update_nodes

        def counted(nodes: Iterable[DOMNode], animate: bool = False) -> None:
            nodes = list(nodes)
            restyled.extend(node.id for node in nodes)
            update(nodes, animate=animate)

        app.stylesheet.update_nodes = counted  # type: ignore[method-assign]
        app.dashboard.show_view("processes")
        await pilot.pause()
        view = app.dashboard.query_one("#view-processes")
        assert "view-processes" in restyled and "view-all" in restyled  # the two that moved
        assert "held-table" not in restyled and "held-title" not in restyled  # set_class restyled every descendant
        assert view.region.y == app.dashboard.query_one("#switcher").region.y  # in sight


async def test_the_collector_runs_between_scans_never_during_one() -> None:
    """A sweep or full collection holds the GIL for up to ~200 ms: it runs in a worker of its own between scans, once
    a scan is shown (never in the scan's worker, stacked on its cost), and a scan waits for one still running."""
    snapshot, collecting = synthetic_snapshot(90, 3), threading.Event()
    scans: list[bool] = []  # per scan: a collection was running
    collects: list[str] = []  # per collection: the group of the worker it ran in

    def scanner() -> Snapshot:
        scans.append(collecting.is_set())
        return snapshot

    def collect() -> None:
        collects.append(get_current_worker().group)
        collecting.set()
        time.sleep(0.05)
        collecting.clear()

    app = IpcwatchApp(scanner, interval=0.2, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        app.collector.collect_if_due = collect  # type: ignore[method-assign]
        for _ in range(15):
            await pilot.pause(0.1)
    assert len(scans) >= 4 and not any(scans)
    assert collects and set(collects) == {"collect"}  # never in the scan's own worker
