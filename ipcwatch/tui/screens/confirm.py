"""The confirmation every mutating action goes through, and the helper that runs actions off the UI thread.

Everything shown is escaped and reaches widgets as `rich.text.Text`, never as markup. A `Text` handed in is
taken as escaped already (`with_ref` built it): never escaped twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Button, Static
from textual.worker import Worker

from ipcwatch.actions.verify import describe
from ipcwatch.scan import IpcObject
from ipcwatch.text import escape

T = TypeVar("T")
Line = str | Text  # a raw str (escaped here) or a Text that is safe already


def safe_text(*lines: Line) -> Text:
    """Raw lines (names, messages, cmdlines) as one escaped Text; `Text` lines are kept as they are."""
    return Text("\n").join(line if isinstance(line, Text) else Text(escape(line)) for line in lines)


def with_ref(before: str, ref: str, after: str = "") -> Text:
    """`before` + a ref + `after` (all raw) as one escaped Text."""
    return safe_text(before + ref + after)


def described(obj: IpcObject) -> Text:
    """`verify.describe` (the object in one line), escaped; outside the host's namespaces, where it lives
    (`in container web's ipc namespace`): the ref alone does not say it to a person."""
    ns = obj.namespace
    where = ""
    if ns is not None and not ns.host:
        box = f"container {ns.label}'s " if ns.container is not None else ""
        where = f" in {box}{ns.type} namespace {ns.inode}"
    return Text(escape(describe(obj) + where))


def run_in_thread(node: DOMNode, call: Callable[[], T], then: Callable[[T], None], group: str = "action") -> Worker[T]:
    """Run `call` in a thread worker and hand its result to `then` on the UI thread (dropped if `node` closed)."""

    def deliver(result: T) -> None:
        if node.is_attached:
            then(result)

    def job() -> T:
        result = call()
        node.app.call_from_thread(deliver, result)
        return result

    return node.run_worker(job, thread=True, group=group, exit_on_error=False)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before acting. Dismisses True only after the confirmation, and after a second one naming the users
    when the object is in use (`in_use` lines); False on cancel or Escape."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $error; background: $surface; padding: 1 2;
    }
    ConfirmScreen #confirm-action { text-style: bold; margin-bottom: 1; }
    ConfirmScreen #confirm-details { margin-bottom: 1; }
    ConfirmScreen #confirm-in-use { color: $warning; margin-bottom: 1; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        action: Line,
        details: Sequence[Line] = (),
        *,
        in_use: Sequence[str] = (),
        confirm_label: str = "Confirm",
    ) -> None:
        super().__init__()
        self.action_text = action
        self.details = tuple(details)
        self.in_use = tuple(in_use)
        self.confirm_label = confirm_label
        self.stage = 0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_text(self.action_text), id="confirm-action", markup=False)
            if self.details:
                yield Static(safe_text(*self.details), id="confirm-details", markup=False)
            yield Static("", id="confirm-in-use", markup=False)
            with Horizontal():
                yield Button(Text(self.confirm_label), variant="error", id="confirm")
                yield Button(Text("Cancel"), variant="primary", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm-in-use", Static).display = False
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.dismiss(False)
        elif self.in_use and self.stage == 0:
            self.stage = 1
            warning = self.query_one("#confirm-in-use", Static)
            warning.update(safe_text("It is IN USE by:", *(f"  {line}" for line in self.in_use), "Act anyway?"))
            warning.display = True
            self.query_one("#confirm", Button).label = Text(f"{self.confirm_label} anyway (in use)")
            self.query_one("#cancel", Button).focus()
        else:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
