"""A semaphore up close: per-semaphore values; post, wait (with a timeout, in a thread worker) and set value.

A wait runs in a thread worker, so the dashboard keeps answering while it sleeps in the kernel; it always has a
timeout. Setting a value is confirmed first. No SEM_UNDO (see ipcwatch.actions.semaphores).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from ipcwatch.actions import semaphores
from ipcwatch.actions.outcome import Outcome, Status
from ipcwatch.actions.verify import lookup
from ipcwatch.kinds import Kind
from ipcwatch.record import replace
from ipcwatch.scan import IpcObject
from ipcwatch.scan.sysv import same_except_ctime
from ipcwatch.tui.screens.confirm import ConfirmScreen, described, run_in_thread, safe_text, with_ref

READ_ONLY_REASON = "read-only mode: post, wait and set are disabled (restart without --read-only)"
COLUMNS = ("num", "value", "ncnt", "zcnt", "pid", "waiters")


class SemaphoreScreen(ModalScreen[None]):
    """Dismisses with None. Back ends are parameters (defaults: ipcwatch.actions.semaphores)."""

    DEFAULT_CSS = """
    SemaphoreScreen { align: center middle; }
    SemaphoreScreen > Vertical {
        width: 90%; max-width: 120; height: 80%; border: thick $primary; background: $surface; padding: 0 1;
    }
    SemaphoreScreen #sem-title { text-style: bold; }
    SemaphoreScreen DataTable { height: 1fr; }
    SemaphoreScreen Horizontal { height: auto; }
    SemaphoreScreen Input { width: 18; }
    SemaphoreScreen #sem-reason { color: $warning; }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("f5", "refresh", "Refresh")]

    def __init__(
        self,
        obj: IpcObject,
        *,
        read_only: bool = False,
        values: Callable[[IpcObject], Outcome] = semaphores.values,
        post: Callable[..., Outcome] = semaphores.post,
        wait: Callable[..., Outcome] = semaphores.wait,
        set_value: Callable[..., Outcome] = semaphores.sysv_set,
        find: Callable[[str], IpcObject | None | Outcome] = lookup,
        timeout: float = semaphores.DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__()
        self.obj = obj
        self.read_only = read_only
        self.values, self.post, self.wait, self.set_value, self.find = values, post, wait, set_value, find
        self.timeout = timeout
        self.sysv = obj.kind == Kind.SYSV_SEM
        self.busy = False  # a post/wait/set is running

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(described(self.obj), id="sem-title", markup=False)
            yield DataTable(id="sem-values", cursor_type="row", zebra_stripes=True)
            with Horizontal():
                yield Input(value="1", placeholder="count / value", type="integer", id="sem-count")
                yield Input(value=f"{self.timeout:g}", placeholder="timeout s", type="number", id="sem-timeout")
                yield Button(Text("Post (+count)"), id="post", disabled=self.read_only)
                yield Button(Text("Wait (-count)"), id="wait", disabled=self.read_only)
                if self.sysv:
                    yield Button(Text("Set value"), variant="error", id="set", disabled=self.read_only)
                yield Button(Text("Close"), id="close")
            yield Static(Text(READ_ONLY_REASON if self.read_only else ""), id="sem-reason", markup=False)
            yield Static("", id="sem-result", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.focus()
        self.action_refresh()

    @property
    def selected_num(self) -> int:
        table = self.query_one(DataTable)
        return max(0, table.cursor_row) if self.sysv and table.row_count else 0

    # --- reading -----------------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        run_in_thread(self, lambda: self.values(self.obj), self.show_values, group="values")

    def show_values(self, outcome: Outcome) -> None:
        if not outcome.ok:
            self.show_result(outcome)
            return
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for sem in outcome.data:
            cells = [sem.get(name) for name in COLUMNS]
            table.add_row(*(Text("" if v is None else str(v)) for v in cells), key=str(sem["num"]))
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor)

    def show_result(self, outcome: Outcome) -> None:
        self.query_one("#sem-result", Static).update(safe_text(outcome.message))

    # --- acting ------------------------------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "close":
            self.action_close()
        elif self.read_only:
            self.show_result(Outcome(Status.REFUSED, READ_ONLY_REASON))
        elif self.busy:
            self.query_one("#sem-result", Static).update(Text("another operation is still running"))
        elif event.button.id == "post":
            self.operate("post")
        elif event.button.id == "wait":
            self.ask_wait()
        elif event.button.id == "set":
            self.ask_set()

    def numbers(self) -> tuple[int, float] | None:
        try:
            count = int(self.query_one("#sem-count", Input).value)
            timeout = float(self.query_one("#sem-timeout", Input).value or self.timeout)
        except ValueError:
            self.query_one("#sem-result", Static).update(Text("count and timeout must be numbers"))
            return None
        return count, timeout

    def operate(self, op: str) -> None:
        parsed = self.numbers()
        if parsed is None:
            return
        count, timeout = parsed
        obj, num = self.obj, self.selected_num
        if op == "post":
            call = lambda: self.post(obj, count, num=num, read_only=self.read_only)  # noqa: E731
        else:
            call = lambda: self.wait(obj, count, num=num, timeout=timeout, read_only=self.read_only)  # noqa: E731
            self.query_one("#sem-result", Static).update(
                Text(f"waiting up to {timeout:g} s for {count} on semaphore {num}...")
            )
        self.start(call)

    def start(self, call: Callable[[], Outcome]) -> None:
        self.busy = True

        def finished(outcome: Outcome) -> None:
            self.busy = False
            if isinstance(outcome.data, IpcObject):  # the same set under its new identity (after a set value)
                self.obj = outcome.data
            self.show_result(outcome)
            self.action_refresh()

        run_in_thread(self, call, finished, group="operate")

    def ask_wait(self) -> None:
        """A wait takes tokens from the programs using the semaphore (and keeps them: no SEM_UNDO): ask first."""
        parsed = self.numbers()
        if parsed is None:
            return
        count, timeout = parsed

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.operate("wait")
            else:
                self.query_one("#sem-result", Static).update(Text("cancelled: nothing was taken"))

        self.app.push_screen(
            ConfirmScreen(
                with_ref(f"Take {count} from semaphore {self.selected_num} of ", self.obj.ref, "?"),
                [
                    described(self.obj),
                    f"Waits up to {timeout:g} s; what is taken is not given back when ipcwatch exits.",
                ],
                confirm_label="Wait",
            ),
            confirmed,
        )

    def ask_set(self) -> None:
        parsed = self.numbers()
        if parsed is None:
            return
        value, num, obj = parsed[0], self.selected_num, self.obj

        def confirmed(yes: bool | None) -> None:
            if not yes:
                self.query_one("#sem-result", Static).update(Text("cancelled: the value was not changed"))
                return

            def call() -> Outcome:
                outcome = self.set_value(obj, value, num=num, read_only=self.read_only)
                if outcome.ok:  # SETVAL changes the set's ctime, hence its identity: adopt the new one
                    found = self.find(obj.ref)
                    if isinstance(found, IpcObject) and same_except_ctime(obj.identity, found.identity):
                        return replace(outcome, data=found)
                return outcome

            self.start(call)

        self.app.push_screen(
            ConfirmScreen(
                with_ref(f"Set semaphore {num} of ", obj.ref, f" to {value}."),
                [
                    described(obj),
                    "This overrides what the programs using the set expect and clears their undo entries.",
                ],
                confirm_label="Set value",
            ),
            confirmed,
        )

    def action_close(self) -> None:
        self.dismiss(None)
