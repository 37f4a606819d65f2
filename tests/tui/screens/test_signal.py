"""The dashboard tells what a signal will do before it is sent (the chooser, the confirmation) and shows a
process's context and signal dispositions in its detail pane, read off the UI thread."""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
from collections.abc import Callable

from rich.text import Text
from textual.widgets import OptionList, Static

from ipcwatch.tui.app import IpcwatchApp
from ipcwatch.tui.screens.confirm import ConfirmScreen
from ipcwatch.tui.screens.signal import SignalScreen
from ipcwatch.tui.widgets.detail import DetailPane
from ipcwatch.tui.widgets.rows import PROCESSES
from tests.conftest import Child, Cleanup
from tests.live.commands.test_signals import start_signal_child
from tests.tui.screens.test_acting import escape_to_dashboard, on_screen, scanner, select, until
from tests.tui.test_app import SIZE, detail_text

HOSTILE_DIR = "cwd\x1b]2;x\x07[b]"


def prompts(screen: SignalScreen) -> dict[str, str]:
    options = screen.query_one(OptionList)
    out = {}
    for i in range(options.option_count):
        option = options.get_option_at_index(i)
        prompt = option.prompt
        out[str(option.id)] = prompt.plain if isinstance(prompt, Text) else str(prompt)
    return out


async def test_chooser_and_confirmation_say_what_will_happen(spawn: Callable[..., Child]) -> None:
    child = start_signal_child(spawn)
    app = IpcwatchApp(scanner("pipe"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, PROCESSES, str(child.pid))
        await pilot.press("k")
        chooser = await on_screen(pilot, SignalScreen)
        assert isinstance(chooser, SignalScreen)
        await until(pilot, lambda: chooser.state is not None)
        said = prompts(chooser)
        assert said["TERM"].endswith("ignored by this process — nothing will happen")
        assert "blocked by every thread — it will stay pending" in said["USR2"]
        assert said["USR1"].endswith("caught by a handler") and said["HUP"].endswith("terminates the process")
        assert "cannot be caught, blocked or ignored" in said["KILL"]
        assert not chooser.query_one("#signal-state", Static).display  # no error to show
        await pilot.press("enter")  # the default, TERM
        confirm = await on_screen(pilot, ConfirmScreen)
        details = str(confirm.query_one("#confirm-details").content)
        assert "SIGTERM: ignored by this process — nothing will happen" in details
        await escape_to_dashboard(pilot)
    assert child.proc.poll() is None  # nothing was sent


async def test_chooser_for_a_process_that_exited(spawn: Callable[..., Child]) -> None:
    child = start_signal_child(spawn)
    app = IpcwatchApp(scanner("pipe"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, PROCESSES, str(child.pid))
        child.stop()
        await pilot.press("k")
        chooser = await on_screen(pilot, SignalScreen)
        assert isinstance(chooser, SignalScreen)
        await until(pilot, lambda: chooser.state is not None)
        note = chooser.query_one("#signal-state", Static)
        assert note.display and f"pid {child.pid} has exited" in str(note.content)
        assert chooser.forecast("TERM") == f"SIGTERM: cannot tell what it will do: pid {child.pid} has exited"


async def test_process_pane_shows_context_and_dispositions(spawn: Callable[..., Child], cleanup: Cleanup) -> None:
    parent = tempfile.mkdtemp(prefix="ipcwt")
    cleanup.add(lambda: os.rmdir(parent))
    cwd = os.path.join(parent, HOSTILE_DIR)
    os.mkdir(cwd)
    cleanup.add(lambda: os.rmdir(cwd))
    child = start_signal_child(lambda code: spawn(f"import os\nos.chdir({cwd!r})\n" + textwrap.dedent(code)))
    app = IpcwatchApp(scanner("pipe"), interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await select(app, pilot, PROCESSES, str(child.pid))
        snapshot = app.dashboard.snapshot
        assert snapshot is not None
        await until(pilot, lambda: "Signals" in detail_text(app))  # the dashboard shows the selected process
        shown = detail_text(app)
        assert "\x1b" not in shown and "cwd\\x1b]2;x\\x07[b]" in shown  # escaped, and no markup was parsed
        assert "threads       2\n" in shown and f"exe           {os.path.realpath(sys.executable)}" in shown
        for label, value in (
            ("SIGTERM", "ignored by this process — nothing will happen"),
            ("pending", "SIGUSR2"),
            ("blocked (all)", "SIGUSR2"),
            ("caught", "SIGINT SIGUSR1 SIGRTMIN+1"),
        ):
            assert f"  {label:<14}{value}\n" in shown, label
        # the sigwaitinfo thread; CPU needs a second read (the dashboard may have read it twice already)
        assert "SIGRTMIN+3" in shown and ("measuring…" in shown or " %" in shown)
        app.dashboard.query_one(DetailPane).show_process(snapshot.processes[child.pid], snapshot)
        await until(pilot, lambda: " %" in detail_text(app))  # the same probe, read again: a CPU rate now

