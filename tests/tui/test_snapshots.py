"""Screen snapshots of the dashboard over a recorded snapshot and a fixed clock (never the host's objects), at
80x24, 120x40 and 200x50: which columns each width keeps, names elided in the middle, pipes and sockets named by
their ends."""

from __future__ import annotations

import pytest

from ipcwatch.scan import IpcObject, Snapshot
from ipcwatch.scan.info import PipeInfo, UnixInfo
from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.widgets.filter_bar import FilterBar
from tests.tui_fixtures import (
    _holder,
    _obj,
    fixed_clock,
    namespaced_snapshot,
    recorded_objects,
    recorded_snapshot,
    sequence_scanner,
)

SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x50": (200, 50)}
LONG_PATH = "/run/user/1000/app-runtime/instance-7f3a9c/control/rpc.sock"


def make_app() -> IpcwatchApp:
    return IpcwatchApp(recorded_snapshot, interval=2.0, clock=fixed_clock)


def ends_snapshot() -> Snapshot:
    """The recorded host plus a connected socket pair (nginx <-> two postgres processes), a pipe from the process
    with a hostile comm to two readers, and a socket bound to a long path."""
    pair = (8101, 8102)
    ends = [_holder(201, 5)], [_holder(101, 7), _holder(102, 7)]
    extra: list[IpcObject] = [
        _obj(
            "unix",
            str(inode),
            id=inode,
            mode=None,
            size=0,
            holders=tuple(mine),
            info=UnixInfo(
                "stream", "connected", None, peer=peer, peer_holders=tuple(theirs), recv_queue=0, send_queue=0
            ),
        )
        for inode, peer, mine, theirs in ((pair[0], pair[1], *ends), (pair[1], pair[0], *reversed(ends)))
    ]
    extra.append(
        _obj(
            "pipe",
            "9002",
            id=9002,
            mode=None,
            size=0,
            holders=(_holder(301, 1, "w"), _holder(101, 0, "r"), _holder(401, 0, "r")),
            info=PipeInfo(2, 1, 0, 65536),
        )
    )
    extra.append(
        _obj(
            "unix", "7002", id=7002, name=LONG_PATH, mode=None, size=None, holders=(_holder(401, 4),),
            info=UnixInfo("stream", "listen", LONG_PATH, pending_connections=0, backlog=4096, waiting_clients=()),
        )
    )  # fmt: skip
    return recorded_snapshot([*recorded_objects(), *extra])


async def scanned(pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait until the first scan is on screen; no further scan while the snapshot is taken."""
    pilot.app.paused = True
    while pilot.app.dashboard.rows is None:
        await pilot.pause(0.01)
    await pilot.app.workers.wait_for_complete()
    pilot.app.dashboard.query_one(FilterBar).cursor_blink = False
    await pilot.pause()


class TestMainView:
    @pytest.mark.parametrize("size", SIZES)
    def test_all_objects(self, snap_compare, size: str) -> None:  # type: ignore[no-untyped-def]
        """80 columns: KIND, NAME, OWNER, SIZE, HOLDERS and the ! mark; 120: PERMS and the stale reason; 200: REF."""
        assert snap_compare(make_app(), run_before=scanned, terminal_size=SIZES[size])


class TestEnds:
    """Pipes by writer and reader, connected sockets by both ends, a long socket path elided in the middle."""

    @pytest.mark.parametrize("size", SIZES)
    def test_all_view(self, snap_compare, size: str) -> None:  # type: ignore[no-untyped-def]
        app = IpcwatchApp(ends_snapshot, interval=2.0, clock=fixed_clock)
        assert snap_compare(app, run_before=scanned, terminal_size=SIZES[size])

    @pytest.mark.parametrize(("key", "size"), [("8", "80x24"), ("9", "80x24"), ("9", "120x40")])
    def test_kind_view(self, snap_compare, key: str, size: str) -> None:  # type: ignore[no-untyped-def]
        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await scanned(pilot)
            await pilot.press(key, "d")  # the pipe or unix view, detail pane hidden: room for the rows
            await pilot.pause()

        app = IpcwatchApp(ends_snapshot, interval=2.0, clock=fixed_clock)
        assert snap_compare(app, run_before=run_before, terminal_size=SIZES[size])


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
