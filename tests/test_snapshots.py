"""Screen snapshots of the dashboard over a recorded snapshot and a fixed clock (never the host's objects)."""

from __future__ import annotations

from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.widgets.filter_bar import FilterBar

from .tui_fixtures import fixed_clock, namespaced_snapshot, recorded_objects, recorded_snapshot, sequence_scanner


def make_app() -> IpcwatchApp:
    return IpcwatchApp(recorded_snapshot, interval=2.0, clock=fixed_clock)


async def scanned(pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait until the first scan is on screen; no further scan while the snapshot is taken."""
    pilot.app.paused = True
    while pilot.app.dashboard.rows is None:
        await pilot.pause(0.01)
    await pilot.app.workers.wait_for_complete()
    pilot.app.dashboard.query_one(FilterBar).cursor_blink = False
    await pilot.pause()


class TestMainView:
    def test_all_objects(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        assert snap_compare(make_app(), run_before=scanned, terminal_size=(120, 40))

    def test_tiny_terminal(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        assert snap_compare(make_app(), run_before=scanned, terminal_size=(80, 24))


class TestDetail:
    def test_semaphore_set_detail(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("3")

        assert snap_compare(make_app(), run_before=run_before, terminal_size=(120, 40))

    def test_hostile_names(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("4")

        assert snap_compare(make_app(), run_before=run_before, terminal_size=(120, 40))


class TestProcessView:
    def test_jump_to_holder(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("1", "p")
            await pilot.app.workers.wait_for_complete()  # the process pane's context is read in a worker
            await pilot.pause()

        assert snap_compare(make_app(), run_before=run_before, terminal_size=(120, 40))


class TestFilter:
    def test_filter_and_sort(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("slash", *"post", "enter", "s", "s", "s")

        assert snap_compare(make_app(), run_before=run_before, terminal_size=(120, 40))


class TestChanges:
    def test_appeared_and_vanished_rows(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        objects = recorded_objects()
        before = recorded_snapshot(objects[1:])  # the first object appears, the last vanishes
        after = recorded_snapshot(objects[:-1])
        app = IpcwatchApp(sequence_scanner(before, after), interval=60, clock=fixed_clock)

        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            pilot.app.action_refresh_now()
            await scanned(pilot)

        assert snap_compare(app, run_before=run_before, terminal_size=(120, 40))


class TestHelp:
    def test_every_key(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("question_mark")

        assert snap_compare(make_app(), run_before=run_before, terminal_size=(100, 40))


class TestBlocked:
    def test_blocked_view(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("w")

        assert snap_compare(make_app(), run_before=run_before, terminal_size=(120, 40))


class TestActions:
    def test_remove_confirmation(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("1", "down", "x")  # the stale segment sysv-shm:7
            await pilot.pause()

        assert snap_compare(make_app(), run_before=run_before, terminal_size=(120, 40))


class TestContainers:
    def test_containers_view(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("n", "down")  # the web container's IPC namespace
            await pilot.pause()

        app = IpcwatchApp(namespaced_snapshot, interval=2.0, clock=fixed_clock)
        assert snap_compare(app, run_before=run_before, terminal_size=(120, 40))

    def test_colliding_ids_in_a_small_terminal(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press("1")
            await pilot.pause()

        app = IpcwatchApp(namespaced_snapshot, interval=2.0, clock=fixed_clock)
        assert snap_compare(app, run_before=run_before, terminal_size=(80, 24))
