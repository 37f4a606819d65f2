"""A message queue up close: SysV messages listed by peek (nothing removed), POSIX attributes; send and receive.

Receiving is destructive (the message leaves the queue) and goes through ConfirmScreen; sending does not ask.
Back-end calls run in thread workers; every shown byte is escaped.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Static

from ipcwatch.actions import queues
from ipcwatch.actions.outcome import Outcome
from ipcwatch.actions.verify import lookup
from ipcwatch.kinds import Kind
from ipcwatch.scan import IpcObject
from ipcwatch.shmread import BytesSource
from ipcwatch.text import escape
from ipcwatch.tui.screens.confirm import ConfirmScreen, described, run_in_thread, safe_text, with_ref
from ipcwatch.tui.screens.hexview import HexViewScreen

READ_ONLY_REASON = "read-only mode: send and receive are disabled (restart without --read-only)"
OpenBytes = Callable[[bytes, str], None]


SHOWN_MESSAGES = 1000

class QueueScreen(ModalScreen[None]):
    """Dismisses with None. `open_bytes(body, title)` opens one message's bytes (default: the hex viewer)."""

    DEFAULT_CSS = """
    QueueScreen { align: center middle; }
    QueueScreen > Vertical { width: 95%; height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    QueueScreen #queue-title { text-style: bold; }
    QueueScreen DataTable { height: 1fr; }
    QueueScreen #queue-attributes { height: 1fr; }
    QueueScreen Horizontal { height: auto; }
    QueueScreen #send-data { width: 1fr; }
    QueueScreen #send-type { width: 14; }
    QueueScreen #queue-reason { color: $warning; }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("f5", "refresh", "Refresh")]

    def __init__(
        self,
        obj: IpcObject,
        *,
        read_only: bool = False,
        peek: Callable[[IpcObject], Outcome] = queues.peek,
        send: Callable[..., Outcome] = queues.send,
        receive: Callable[..., Outcome] = queues.receive,
        find: Callable[[str], IpcObject | None | Outcome] = lookup,
        open_bytes: OpenBytes | None = None,
    ) -> None:
        super().__init__()
        self.obj = obj
        self.read_only = read_only
        self.peek, self.send, self.receive, self.find = peek, send, receive, find
        self.open_bytes = open_bytes or self.open_in_hexview
        self.messages: dict[str, queues.Message] = {}
        self.sysv = obj.kind == Kind.SYSV_MSG

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(described(self.obj), id="queue-title", markup=False)
            yield Static("", id="queue-status", markup=False)
            if self.sysv:
                yield DataTable(id="queue-messages", cursor_type="row", zebra_stripes=True)
            else:
                yield Static("", id="queue-attributes", markup=False)
            with Horizontal():
                yield Input(placeholder="message text (or hex digits)", id="send-data", disabled=self.read_only)
                yield Checkbox(Text("hex"), id="send-hex", disabled=self.read_only)
                yield Input(
                    placeholder="type" if self.sysv else "priority",
                    value="1" if self.sysv else "0",
                    type="integer",
                    id="send-type",
                    disabled=self.read_only,
                )
                yield Button(Text("Send"), id="send", disabled=self.read_only)
            with Horizontal():
                yield Button(Text("Receive one (removes it)"), variant="error", id="receive", disabled=self.read_only)
                yield Button(Text("Refresh"), id="refresh")
                yield Button(Text("Close"), id="close")
            yield Static(Text(READ_ONLY_REASON if self.read_only else ""), id="queue-reason", markup=False)
            yield Static("", id="queue-result", markup=False)

    def on_mount(self) -> None:
        if self.sysv:
            table = self.query_one(DataTable)
            table.add_columns("#", "type", "size", "text", "hex")
            table.focus()
        self.action_refresh()

    # --- reading -----------------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        def call() -> tuple[IpcObject, Outcome]:
            found = self.find(self.obj.ref)
            obj = found if isinstance(found, IpcObject) and found.identity == self.obj.identity else self.obj
            return obj, self.peek(obj)

        run_in_thread(self, call, self.show_peek, group="peek")

    def show_peek(self, result: tuple[IpcObject, Outcome]) -> None:
        self.obj, outcome = result
        self.query_one("#queue-status", Static).update(safe_text(outcome.message))
        if not outcome.ok:
            return
        view: queues.QueueView = outcome.data
        if self.sysv:
            table = self.query_one(DataTable)
            table.clear()
            self.messages = {}
            for message in view.messages[:SHOWN_MESSAGES]:
                key = str(message.index)
                self.messages[key] = message
                table.add_row(
                    Text(str(message.index)),
                    Text(str(message.mtype)),
                    Text(str(message.size)),
                    Text(escape(message.body[:48])),
                    Text(queues.hex_preview(message.body, 16)),
                    key=key,
                )
            hidden = len(view.messages) - SHOWN_MESSAGES
            if hidden > 0:  # rows are added on the UI thread: a queue of tiny messages must not freeze it
                more = f" (the first {SHOWN_MESSAGES} are listed; {hidden} more; `ipcwatch peek` lists all)"
                self.query_one("#queue-status", Static).update(safe_text(outcome.message + more))
        else:
            lines = [
                f"{label}: {'?' if view.attributes.get(key) is None else view.attributes[key]}"
                for key, label in queues.POSIX_ATTRIBUTES
            ]
            lines.append("POSIX queues cannot be peeked: a receive removes the message it shows.")
            self.query_one("#queue-attributes", Static).update(safe_text(*lines))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        message = self.messages.get(str(event.row_key.value))
        if message is not None:
            self.open_bytes(message.body, f"{self.obj.ref} message #{message.index} (type {message.mtype})")

    def open_in_hexview(self, body: bytes, title: str) -> None:
        """Open the bytes in the hex viewer."""
        self.app.push_screen(HexViewScreen(BytesSource(body, title)))

    # --- acting ------------------------------------------------------------------------------------------------

    def show_result(self, outcome: Outcome, *extra: str) -> None:
        self.query_one("#queue-result", Static).update(safe_text(outcome.message, *extra))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        handlers = {
            "send": self.do_send,
            "receive": self.ask_receive,
            "refresh": self.action_refresh,
            "close": self.action_close,
        }
        handlers[event.button.id or "close"]()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "send-data":
            self.do_send()

    def do_send(self) -> None:
        if self.read_only:
            self.show_result(Outcome(queues.Status.REFUSED, READ_ONLY_REASON))
            return
        data = self.query_one("#send-data", Input).value
        try:
            body = queues.parse_body(data, self.query_one("#send-hex", Checkbox).value)
            number = int(self.query_one("#send-type", Input).value or ("1" if self.sysv else "0"))
        except ValueError as exc:
            self.query_one("#queue-result", Static).update(safe_text(f"not sent: {exc}"))
            return
        extra = {"mtype": number} if self.sysv else {"priority": number}
        obj = self.obj

        def sent(outcome: Outcome) -> None:
            self.show_result(outcome)
            if outcome.ok:
                self.query_one("#send-data", Input).value = ""
                self.action_refresh()

        run_in_thread(self, lambda: self.send(obj, body, read_only=self.read_only, **extra), sent)

    def ask_receive(self) -> None:
        if self.read_only:
            self.show_result(Outcome(queues.Status.REFUSED, READ_ONLY_REASON))
            return
        which = "the first message (any type)" if self.sysv else "the highest-priority message"
        self.app.push_screen(
            ConfirmScreen(
                with_ref(f"Receive {which} from ", self.obj.ref, ": it is REMOVED from the queue."),
                [described(self.obj)],
                confirm_label="Receive (removes it)",
            ),
            self.receive_confirmed,
        )

    def receive_confirmed(self, confirmed: bool | None) -> None:
        if not confirmed:
            self.query_one("#queue-result", Static).update(Text("cancelled: nothing was received"))
            return
        obj = self.obj

        def received(outcome: Outcome) -> None:
            if outcome.ok:
                body = outcome.data.body
                text = body[:256].decode("utf-8", "surrogateescape")
                self.show_result(outcome, f"text: {text}", f"hex: {queues.hex_preview(body, 64)}")
            else:
                self.show_result(outcome)
            self.action_refresh()

        run_in_thread(self, lambda: self.receive(obj, read_only=self.read_only), received)

    def action_close(self) -> None:
        self.dismiss(None)
