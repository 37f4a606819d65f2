"""Acting from the dashboard over real objects: remove (confirm, cancel, read-only), signal a process or a
holder, peek a queue, post a semaphore, clean up stale objects; every modal closes with Escape."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from textual.screen import Screen
from textual.widgets import Button, DataTable, OptionList, SelectionList

from ipcwatch.actions import clean as cleaning
from ipcwatch.scan import ScanConfig, Snapshot, scan
from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.commands import DashboardCommands
from ipcwatch.tui.screens.choose import ChoiceScreen
from ipcwatch.tui.screens.clean import CleanScreen
from ipcwatch.tui.screens.confirm import ConfirmScreen
from ipcwatch.tui.screens.dashboard import DashboardScreen
from ipcwatch.tui.screens.queue import QueueScreen
from ipcwatch.tui.screens.semaphore import SemaphoreScreen
from ipcwatch.tui.screens.signal import SignalScreen
from ipcwatch.tui.widgets.rows import PROCESSES
from tests.conftest import Child, Cleanup, unique_name
from tests.tui.test_app import HOLD_SHM, SIZE, make_shm, settle

RECENT = 0.8  # seconds: touched more recently than this, a stale object starts unchecked


def scanner(*kinds: str) -> Callable[[], Snapshot]:
    return lambda: scan(ScanConfig(kinds=frozenset(kinds), waiters=False))


async def until(pilot, predicate: Callable[[], object], timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.02)


async def on_screen(pilot, kind: type[Screen]) -> Screen:  # type: ignore[no-untyped-def, type-arg]
    await until(pilot, lambda: isinstance(pilot.app.screen, kind))
    return pilot.app.screen


async def click(pilot, selector: str) -> None:  # type: ignore[no-untyped-def]
    pilot.app.screen.query_one(selector, Button).press()
    await pilot.pause()


async def select(app: IpcwatchApp, pilot, view: str, key: str) -> None:  # type: ignore[no-untyped-def]
    await settle(app, pilot)
    app.dashboard.show_view(view)
    await until(pilot, lambda: app.dashboard.table(view).select_key(key))  # a kind's rows are built off-thread
    await pilot.pause()


async def escape_to_dashboard(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("escape")
    await on_screen(pilot, DashboardScreen)


def notes(app: IpcwatchApp) -> str:
    return " | ".join(str(n.message) for n in app._notifications)


def shm_exists(name: str) -> bool:
    return os.path.exists(f"/dev/shm/{name}")


# --- remove -------------------------------------------------------------------------------------------------------


async def test_remove_a_stale_shm_after_confirmation(cleanup: Cleanup) -> None:
    name = unique_name()
    ref = make_shm(cleanup, name)
    app = IpcwatchApp(scanner("posix-shm"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, "posix-shm", ref)
        await pilot.press("x")
        confirm = await on_screen(pilot, ConfirmScreen)
        assert ref in str(confirm.query_one("#confirm-action").content)
        assert f"unlink /dev/shm/{name}" in str(confirm.query_one("#confirm-details").content)
        assert shm_exists(name)  # nothing happens before the confirmation
        await click(pilot, "#confirm")
        await until(pilot, lambda: f"removed {ref}" in notes(app))
        assert not shm_exists(name)
        await until(pilot, lambda: ref not in app.dashboard.table("posix-shm").rows or app.dashboard.table(
            "posix-shm").is_gone(ref))  # the refresh that follows shows it gone


async def test_remove_cancelled_keeps_it(cleanup: Cleanup) -> None:
    name = unique_name()
    ref = make_shm(cleanup, name)
    app = IpcwatchApp(scanner("posix-shm"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, "all", ref)
        await pilot.press("delete")
        await on_screen(pilot, ConfirmScreen)
        await escape_to_dashboard(pilot)
        await settle(app, pilot)
        assert shm_exists(name) and "removed" not in notes(app)


async def test_read_only_refuses_to_remove(cleanup: Cleanup) -> None:
    name = unique_name()
    ref = make_shm(cleanup, name)
    app = IpcwatchApp(scanner("posix-shm"), interval=60, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, "posix-shm", ref)
        await pilot.press("x")
        await until(pilot, lambda: "read-only" in notes(app))
        assert isinstance(app.screen, DashboardScreen)  # refused before anything was asked
        assert shm_exists(name)


# --- signals ------------------------------------------------------------------------------------------------------


async def test_signal_a_process_from_the_process_view(cleanup: Cleanup, spawn: Callable[..., Child]) -> None:
    name = unique_name()
    make_shm(cleanup, name)
    child = spawn(HOLD_SHM.format(name=name))
    app = IpcwatchApp(scanner("posix-shm"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, PROCESSES, str(child.pid))
        await pilot.press("k")
        await on_screen(pilot, SignalScreen)
        await escape_to_dashboard(pilot)  # closable, nothing sent
        assert child.proc.poll() is None
        await pilot.press("k")
        await on_screen(pilot, SignalScreen)
        await pilot.press("down", "down", "enter")  # TERM, KILL, HUP
        confirm = await on_screen(pilot, ConfirmScreen)
        details = str(confirm.query_one("#confirm-details").content)
        assert "SIGHUP" in str(confirm.query_one("#confirm-action").content) and "posix_ipc" in details
        await click(pilot, "#confirm")
        await until(pilot, lambda: child.proc.poll() is not None)
        assert child.proc.returncode == -1  # SIGHUP
        await until(pilot, lambda: "sent SIGHUP" in notes(app))


async def test_signal_a_holder_picked_from_the_list(cleanup: Cleanup, spawn: Callable[..., Child]) -> None:
    name = unique_name()
    ref = make_shm(cleanup, name)
    first, second = spawn(HOLD_SHM.format(name=name)), spawn(HOLD_SHM.format(name=name))
    app = IpcwatchApp(scanner("posix-shm"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, "posix-shm", ref)
        await pilot.press("k")
        choice = await on_screen(pilot, ChoiceScreen)
        options = choice.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert set(ids) == {str(first.pid), str(second.pid)}
        options.highlighted = ids.index(str(second.pid))
        await pilot.press("enter")
        await on_screen(pilot, SignalScreen)
        await pilot.press("enter")  # the default, TERM
        await on_screen(pilot, ConfirmScreen)
        await click(pilot, "#confirm")
        await until(pilot, lambda: second.proc.poll() is not None)
        assert second.proc.returncode == -15 and first.proc.poll() is None


# --- queues and semaphores ----------------------------------------------------------------------------------------


async def test_peek_a_sysv_queue_leaves_it_unchanged(sysv_msg) -> None:  # type: ignore[no-untyped-def]
    mq = sysv_msg()
    mq.send(b"hello", type=2)
    mq.send(b"world", type=3)
    ref = f"sysv-msg:{mq.id}"
    app = IpcwatchApp(scanner("sysv-msg"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, "sysv-msg", ref)
        for keys in (("m",), ("enter",)):
            await pilot.press(*keys)
            screen = await on_screen(pilot, QueueScreen)
            table = screen.query_one(DataTable)
            await until(pilot, lambda t=table: t.row_count == 2)  # type: ignore[misc]
            assert [table.get_row_at(i)[3].plain for i in range(2)] == ["hello", "world"]
            await escape_to_dashboard(pilot)
        assert mq.current_messages == 2


async def test_post_a_semaphore_from_the_dashboard(sysv_sem) -> None:  # type: ignore[no-untyped-def]
    sem = sysv_sem(initial=0)
    ref = f"sysv-sem:{sem.id}"
    app = IpcwatchApp(scanner("sysv-sem"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, "sysv-sem", ref)
        await pilot.press("v")
        await on_screen(pilot, SemaphoreScreen)
        await settle(app, pilot)
        await click(pilot, "#post")
        await until(pilot, lambda: sem.value == 1)
        await escape_to_dashboard(pilot)
        await pilot.press("m")  # not a queue: nothing opens
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


# --- clean-up -----------------------------------------------------------------------------------------------------


async def test_clean_removes_a_stale_object_and_keeps_a_fresh_one(cleanup: Cleanup) -> None:
    old, fresh = unique_name("old"), unique_name("fresh")
    old_ref = make_shm(cleanup, old)
    time.sleep(RECENT * 1.5)  # a file's ctime cannot be set back: let it age instead, with a short "recent"
    fresh_ref = make_shm(cleanup, fresh)
    # Ages are measured at this instant, not when the (possibly slow, loaded) dashboard gets round to planning.
    created = time.time()
    config = ScanConfig(kinds=frozenset({"posix-shm"}))
    app = IpcwatchApp(scanner("posix-shm"), interval=60)
    app.flows.clean_plan = lambda: cleaning.plan_from(scan(config), config, now=created, recent=RECENT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("C")
        screen = await on_screen(pilot, CleanScreen)
        await until(pilot, lambda: screen.plan is not None)
        assert isinstance(screen, CleanScreen) and screen.plan is not None
        refs = [c.ref for c in screen.plan.candidates]
        assert {old_ref, fresh_ref} <= set(refs)
        assert screen.plan.candidates[refs.index(old_ref)].selected
        assert not screen.plan.candidates[refs.index(fresh_ref)].selected  # touched in the last minute
        chooser = screen.query_one(SelectionList)
        chooser.deselect_all()  # this host's other stale objects are none of this test's business
        chooser.select(refs.index(old_ref))
        await pilot.pause()
        await click(pilot, "#remove")
        await on_screen(pilot, ConfirmScreen)
        await click(pilot, "#confirm")
        await until(pilot, lambda: screen.outcomes is not None)
        await escape_to_dashboard(pilot)
        await until(pilot, lambda: "removed 1 of 1" in notes(app))
        assert not shm_exists(old) and shm_exists(fresh)


async def test_palette_offers_only_what_applies(cleanup: Cleanup) -> None:
    ref = make_shm(cleanup, unique_name())
    app = IpcwatchApp(scanner("posix-shm"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, "posix-shm", ref)
        names = {name for name, _, _ in DashboardCommands(app.screen)._commands()}
        assert {"Remove", "Clean up stale", "Holder process"} <= names
        assert not names & {"Signal", "Messages", "Semaphore", "Actions"}  # nobody holds it; not a queue nor a sem
