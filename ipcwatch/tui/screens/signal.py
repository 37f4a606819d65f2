"""Choose a signal for a process: the offered signals with a one-line meaning, and who the process is."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ipcwatch.actions.signals import DEFAULT_SIGNAL, SIGNALS
from ipcwatch.scan.model import Process
from ipcwatch.tui.screens.confirm import safe_text

READ_ONLY_REASON = "read-only mode: signals cannot be sent (restart without --read-only)"


class SignalScreen(ModalScreen[str | None]):
    """Dismisses with the chosen signal name (`TERM`, `KILL`, ...) or None. It does not send anything: the caller
    confirms and calls `ipcwatch.actions.signals.send_signal(pid, name, expect=process.identity)`."""

    DEFAULT_CSS = """
    SignalScreen { align: center middle; }
    SignalScreen > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    SignalScreen #signal-process { margin-bottom: 1; }
    SignalScreen #signal-reason { color: $warning; }
    SignalScreen OptionList { height: auto; max-height: 12; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, process: Process, *, read_only: bool = False, default: str = DEFAULT_SIGNAL) -> None:
        super().__init__()
        self.process = process
        self.read_only = read_only
        self.default = default

    def compose(self) -> ComposeResult:
        p = self.process
        with Vertical():
            yield Static(
                safe_text(f"Send a signal to pid {p.pid} ({p.identity}), user {p.user}", f"command: {p.command}"),
                id="signal-process",
                markup=False,
            )
            options = [Option(Text(f"{s.name:<5} {s.meaning}"), id=s.name) for s in SIGNALS]
            yield OptionList(*options, id="signal-list", disabled=self.read_only)
            yield Static(
                Text(READ_ONLY_REASON if self.read_only else "Enter: choose   Escape: cancel"),
                id="signal-reason",
                markup=False,
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        names = [s.name for s in SIGNALS]
        options.highlighted = names.index(self.default) if self.default in names else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if not self.read_only:
            self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
