"""Choose a signal for a process: the offered signals with a one-line meaning and what each would do to it now
(its dispositions, read by a thread worker through the pid@start the scan saw), and who the process is."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ipcwatch.actions.signals import DEFAULT_SIGNAL, SIGNALS, SignalChoice, dispositions_of, forecast
from ipcwatch.scan.dispositions import Dispositions
from ipcwatch.scan.model import Process
from ipcwatch.text import escape
from ipcwatch.tui.screens.confirm import safe_text

READ_ONLY_REASON = "read-only mode: signals cannot be sent (restart without --read-only)"
KEYS = "Enter: choose   Escape: cancel"
WARN_EFFECTS = frozenset({"discarded", "pending", "taken"})  # a signal that will not do what its name says


def _prompt(choice: SignalChoice, state: Dispositions | str | None) -> Content:
    """The signal and its meaning; once known, what it would do to this process (a warning when it would not do
    what its name says)."""
    text = Content(f"{choice.name:<5} {choice.meaning}")
    if isinstance(state, Dispositions):
        verdict = state.verdict(int(choice.number))
        style = "bold $text-warning" if verdict.effect in WARN_EFFECTS else "dim"
        text = Content.assemble(text, (f"\n      {verdict.says}", style))
    return text


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
    SignalScreen OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, process: Process, *, read_only: bool = False, default: str = DEFAULT_SIGNAL) -> None:
        super().__init__()
        self.process = process
        self.read_only = read_only
        self.default = default
        self.state: Dispositions | str | None = None  # None until the worker has read it

    def compose(self) -> ComposeResult:
        p = self.process
        with Vertical():
            yield Static(
                safe_text(f"Send a signal to pid {p.pid} ({p.identity}), user {p.user}", f"command: {p.command}"),
                id="signal-process",
                markup=False,
            )
            options = [Option(_prompt(s, None), id=s.name) for s in SIGNALS]
            yield OptionList(*options, id="signal-list", disabled=self.read_only)
            yield Static(Text("reading what each signal would do…"), id="signal-state", markup=False)
            yield Static(Text(READ_ONLY_REASON if self.read_only else KEYS), id="signal-reason", markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        names = [s.name for s in SIGNALS]
        options.highlighted = names.index(self.default) if self.default in names else 0
        options.focus()
        self._read_state()

    @work(thread=True, exclusive=True, group="signal-state", exit_on_error=False)
    def _read_state(self) -> None:
        state = dispositions_of(self.process.pid, self.process.start)
        self.app.call_from_thread(self._state_read, state)

    def _state_read(self, state: Dispositions | str) -> None:
        if not self.is_attached:
            return
        self.state = state
        options = self.query_one(OptionList)
        for choice in SIGNALS:
            options.replace_option_prompt(choice.name, _prompt(choice, state))
        note = f"cannot tell what each signal would do: {escape(state)}" if isinstance(state, str) else ""
        shown = self.query_one("#signal-state", Static)
        shown.update(Text(note))
        shown.display = bool(note)

    def forecast(self, name: str) -> str | None:
        """`SIGTERM: ignored by this process — nothing will happen` for a choice; None until it is known."""
        choice = next((s for s in SIGNALS if s.name == name), None)
        return None if choice is None or self.state is None else forecast(choice, self.state)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if not self.read_only:
            self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
