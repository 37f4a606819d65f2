"""The action screens driven with the Textual pilot over real objects: confirm acts, cancel changes nothing,
read-only refuses, and a semaphore wait keeps the UI answering until it times out."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import App
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, OptionList, SelectionList, Static

from ipcwatch.actions import clean as cleaning
from ipcwatch.actions import signals
from ipcwatch.tui.screens.clean import CleanScreen
from ipcwatch.tui.screens.confirm import ConfirmScreen
from ipcwatch.tui.screens.queue import QueueScreen
from ipcwatch.tui.screens.semaphore import SemaphoreScreen
from ipcwatch.tui.screens.signal import SignalScreen
from tests.conftest import obj_of, scan_kinds

HOSTILE = "[@click=app.quit]x[/]\x1b]2;PWNED\x07"
UNSET = object()


class Host(App[None]):
    """Pushes one screen and records what it dismissed with."""

    def __init__(self, make: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make = make
        self.result: Any = UNSET

    def on_mount(self) -> None:
        self.push_screen(self.make(), self.finished)

    def finished(self, result: Any) -> None:
        self.result = result



async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def press(pilot, selector: str) -> None:
    """Press a button of the top screen (two quick clicks would count as a double click)."""
    pilot.app.screen.query_one(selector, Button).press()
    await pilot.pause()


def shown(app: App[None], selector: str) -> str:
    content = app.screen.query_one(selector, Static).content
    return content.plain if hasattr(content, "plain") else str(content)


# --- confirm ---------------------------------------------------------------------------------------------------


async def test_confirm_names_the_action_and_asks_twice_when_in_use():
    app = Host(lambda: ConfirmScreen(f"Remove {HOSTILE}", ["detail"], in_use=["pid 42 (evil)"]))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "\\x1b]2;PWNED\\x07" in shown(app, "#confirm-action")
        assert "[@click=app.quit]" in shown(app, "#confirm-action")
        await press(pilot, "#confirm")
        await pilot.pause()
        assert app.result is UNSET and "pid 42" in shown(app, "#confirm-in-use")
        await press(pilot, "#confirm")
        await pilot.pause()
    assert app.result is True


async def test_confirm_escape_cancels():
    app = Host(lambda: ConfirmScreen("Remove x"))
    async with app.run_test() as pilot:
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is False


# --- queue -----------------------------------------------------------------------------------------------------


async def test_queue_lists_messages_and_receive_confirmed_removes_one(sysv_msg):
    mq = sysv_msg()
    mq.send(b"first" + HOSTILE.encode(), type=3)
    mq.send(b"second", type=4)
    opened: list[tuple[bytes, str]] = []
    obj = obj_of(f"sysv-msg:{mq.id}")
    app = Host(lambda: QueueScreen(obj, open_bytes=lambda body, title: opened.append((body, title))))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2 and mq.current_messages == 2
        await pilot.press("enter")
        await pilot.pause()
        assert opened and opened[0][0] == b"first" + HOSTILE.encode()
        await press(pilot, "#receive")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "#confirm")
        await settle(pilot)
        assert mq.current_messages == 1 and mq.receive(block=False) == (b"second", 4)
        assert "received" in shown(app, "#queue-result")


async def test_queue_receive_cancelled_changes_nothing(sysv_msg):
    mq = sysv_msg()
    mq.send(b"keep", type=1)
    obj = obj_of(f"sysv-msg:{mq.id}")
    app = Host(lambda: QueueScreen(obj))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "#receive")
        await pilot.pause()
        await press(pilot, "#cancel")
        await settle(pilot)
        assert "cancelled" in shown(app, "#queue-result")
    assert mq.current_messages == 1


async def test_queue_read_only_refuses(posix_mq):
    name, mq = posix_mq()
    mq.send(b"keep")
    obj = obj_of(f"posix-mq:{name}")
    app = Host(lambda: QueueScreen(obj, read_only=True))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#receive", Button).disabled and screen.query_one("#send", Button).disabled
        assert "read-only" in shown(app, "#queue-reason")
        assert "current messages: 1" in shown(app, "#queue-attributes")
        screen.ask_receive()
        screen.do_send()
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert "read-only" in shown(app, "#queue-result")
    assert mq.current_messages == 1


async def test_queue_send_posix(posix_mq):
    name, mq = posix_mq()
    obj = obj_of(f"posix-mq:{name}")
    app = Host(lambda: QueueScreen(obj))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#send-data", Input).value = "hello"
        app.screen.query_one("#send-type", Input).value = "3"
        await press(pilot, "#send")
        await settle(pilot)
    assert mq.receive(0) == (b"hello", 3)


# --- semaphores ------------------------------------------------------------------------------------------------


async def test_semaphore_wait_times_out_while_the_ui_keeps_answering(sysv_sem):
    sem = sysv_sem(initial=0)
    obj = obj_of(f"sysv-sem:{sem.id}")
    app = Host(lambda: SemaphoreScreen(obj, timeout=4.0))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await press(pilot, "#wait")  # a wait takes tokens for good: it asks first
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        started = time.monotonic()
        await press(pilot, "#confirm")
        await pilot.pause()
        assert screen.busy and "waiting up to 4 s" in shown(app, "#sem-result")
        count = screen.query_one("#sem-count", Input)
        count.focus()
        count.value = ""
        await pilot.press("4", "2")  # processed during the wait
        assert count.value == "42" and screen.busy  # the wait is still running
        await settle(pilot)
        assert not screen.busy and "timed out" in shown(app, "#sem-result")
        assert time.monotonic() - started >= 3.9
    assert sem.value == 0


async def test_semaphore_post_and_confirmed_set(sysv_sem):
    sem = sysv_sem(initial=0)
    obj = obj_of(f"sysv-sem:{sem.id}")
    app = Host(lambda: SemaphoreScreen(obj))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#sem-count", Input).value = "3"
        await press(pilot, "#post")
        await settle(pilot)
        assert sem.value == 3
        app.screen.query_one("#sem-count", Input).value = "8"
        await press(pilot, "#set")
        await pilot.pause()
        await press(pilot, "#cancel")
        await settle(pilot)
        assert sem.value == 3
        await press(pilot, "#set")
        await pilot.pause()
        await press(pilot, "#confirm")
        await settle(pilot)
        assert sem.value == 8
        await press(pilot, "#post")  # the screen adopted the set's new identity (SETVAL changes ctime)
        await settle(pilot)
        assert sem.value == 16
        assert app.screen.query_one(DataTable).get_cell_at((0, 1)) == Text("16")


async def test_semaphore_read_only(posix_sem):
    name, sem = posix_sem(initial=1)
    obj = obj_of(f"posix-sem:{name}")
    app = Host(lambda: SemaphoreScreen(obj, read_only=True))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#post", Button).disabled and app.screen.query_one("#wait", Button).disabled
        assert "read-only" in shown(app, "#sem-reason")
        app.screen.operate("post")
        await settle(pilot)
        assert "read-only" in shown(app, "#sem-result")
    assert sem.value == 1


# --- signals ---------------------------------------------------------------------------------------------------


async def test_signal_screen_returns_the_choice_which_reaches_the_process(spawn):
    child = spawn('print("READY", flush=True)\nimport sys\nsys.stdin.read()\n')
    info = signals.process_info(child.pid)
    app = Host(lambda: SignalScreen(info))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert str(child.pid) in shown(app, "#signal-process") and "sys.stdin.read" in shown(app, "#signal-process")
        await pilot.press("down", "enter")  # TERM is highlighted; one down is KILL
        await pilot.pause()
    assert app.result == "KILL"
    assert signals.send_signal(child.pid, app.result, expect=info.identity).ok
    assert child.proc.wait(timeout=10) < 0


async def test_signal_screen_read_only(spawn):
    child = spawn('print("READY", flush=True)\nimport sys\nsys.stdin.read()\n')
    app = Host(lambda: SignalScreen(signals.process_info(child.pid), read_only=True))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert app.screen.query_one(OptionList).disabled and "read-only" in shown(app, "#signal-reason")
        await pilot.press("enter")
        await pilot.pause()
        assert app.result is UNSET
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None and child.proc.poll() is None


# --- clean -----------------------------------------------------------------------------------------------------


def only(names: set[str], recent: float) -> Callable[[], cleaning.CleanPlan]:
    """A plan over the real host restricted to this test's objects (other tests create stale objects too)."""

    def make() -> cleaning.CleanPlan:
        plan = cleaning.plan_from(scan_kinds("posix-shm"), recent=recent)
        return cleaning.CleanPlan(tuple(c for c in plan.candidates if c.obj.name in names), ())

    return make


async def test_clean_confirmed_removes_the_checked(posix_shm):
    names = {posix_shm()[0], posix_shm()[0]}
    app = Host(lambda: CleanScreen(plan=only(names, recent=0)))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        selection = app.screen.query_one(SelectionList)
        assert len(selection.selected) == 2
        assert "would remove 2 of 2" in shown(app, "#clean-summary")
        selection.deselect(0)
        await pilot.pause()
        assert "would remove 1 of 2" in shown(app, "#clean-summary")
        await press(pilot, "#remove")
        await pilot.pause()
        await press(pilot, "#confirm")
        await settle(pilot)
        assert "removed 1 of 1" in shown(app, "#clean-result")
        await pilot.press("escape")
        await pilot.pause()
    assert isinstance(app.result, list) and [o.ok for o in app.result] == [True]
    assert sum(os.path.exists(f"/dev/shm/{n}") for n in names) == 1


async def test_clean_recent_unchecked_cancel_and_read_only(posix_shm):
    names = {posix_shm()[0]}
    app = Host(lambda: CleanScreen(plan=only(names, recent=60)))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.screen.query_one(SelectionList).selected == []  # touched in the last minute
        app.screen.query_one(SelectionList).select_all()
        await press(pilot, "#remove")
        await pilot.pause()
        await press(pilot, "#cancel")
        await settle(pilot)
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None
    read_only = Host(lambda: CleanScreen(plan=only(names, recent=0), read_only=True))
    async with read_only.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert read_only.screen.query_one("#remove", Button).disabled
        assert "read-only" in shown(read_only, "#clean-reason")
    assert all(os.path.exists(f"/dev/shm/{n}") for n in names)


async def test_queue_message_opens_in_the_hex_viewer(sysv_msg):
    mq = sysv_msg()
    mq.send(b"bytes to inspect", type=2)
    obj = obj_of(f"sysv-msg:{mq.id}")
    app = Host(lambda: QueueScreen(obj))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "HexViewScreen"
    assert mq.current_messages == 1
