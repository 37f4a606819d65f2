"""A small menu: pick one of a few options (which holder to signal, what to do about a blocked thread)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ipcwatch.tui.screens.confirm import Line, safe_text


class ChoiceScreen(ModalScreen[str | None]):
    """Dismisses with the chosen option's id, or None on Escape. Titles and labels are raw str (escaped here)
    or safe `Text`."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    ChoiceScreen #choice-title { text-style: bold; margin-bottom: 1; }
    ChoiceScreen OptionList { height: auto; max-height: 16; }
    ChoiceScreen #choice-hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: Line, options: Sequence[tuple[str, Line]]) -> None:
        super().__init__()
        self.title_line = title
        self.options = list(options)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_text(self.title_line), id="choice-title", markup=False)
            yield OptionList(*(Option(safe_text(label), id=key) for key, label in self.options), id="choice-list")
            yield Static(Text("Enter: choose   Escape: cancel"), id="choice-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
