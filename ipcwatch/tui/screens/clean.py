"""Review and remove stale objects: a checklist with reasons, ages, owners and sizes, a dry-run summary, one
confirmation. Objects used in the last minute start unchecked (ages as `actions.clean` reads them: never from a time
our own reads set); each removal re-checks its identity."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, SelectionList, Static
from textual.widgets.selection_list import Selection

from ipcwatch.actions import clean as cleaning
from ipcwatch.actions.outcome import Outcome
from ipcwatch.tui.screens.confirm import ConfirmScreen, run_in_thread, safe_text

READ_ONLY_REASON = "read-only mode: nothing can be removed (restart without --read-only)"
HEADING = (
    "Stale objects (space: check/uncheck). Used in the last minute: unchecked. "
    "A POSIX queue's age is its last send or receive, which listing it does not change."
)


class CleanScreen(ModalScreen[list[Outcome] | None]):
    """Dismisses with the removal outcomes (one per removed candidate), or None when nothing was removed."""

    DEFAULT_CSS = """
    CleanScreen { align: center middle; }
    CleanScreen > Vertical { width: 95%; height: 90%; border: thick $error; background: $surface; padding: 0 1; }
    CleanScreen SelectionList { height: 1fr; }
    CleanScreen #clean-summary { text-style: bold; }
    CleanScreen #clean-reason { color: $warning; }
    CleanScreen Horizontal { height: auto; }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(
        self,
        *,
        read_only: bool = False,
        plan: Callable[[], cleaning.CleanPlan | Outcome] = cleaning.plan,
        clean: Callable[..., list[Outcome]] = cleaning.clean,
    ) -> None:
        super().__init__()
        self.read_only = read_only
        self.make_plan, self.clean = plan, clean
        self.plan: cleaning.CleanPlan | None = None
        self.outcomes: list[Outcome] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(HEADING), markup=False)
            yield SelectionList[int](id="clean-list")
            yield Static(Text("scanning..."), id="clean-summary", markup=False)
            yield Static(Text(READ_ONLY_REASON if self.read_only else ""), id="clean-reason", markup=False)
            with Horizontal():
                yield Button(Text("Remove checked"), variant="error", id="remove", disabled=True)
                yield Button(Text("Close"), id="close")
            yield Static("", id="clean-result", markup=False)

    def on_mount(self) -> None:
        run_in_thread(self, self.make_plan, self.show_plan, group="plan")

    def show_plan(self, plan: cleaning.CleanPlan | Outcome) -> None:
        if isinstance(plan, Outcome):
            self.query_one("#clean-summary", Static).update(safe_text(plan.message))
            return
        self.plan = plan
        selections = [Selection(safe_text(c.line()), i, c.selected) for i, c in enumerate(plan.candidates)]
        widget = self.query_one(SelectionList)
        widget.clear_options()
        widget.add_options(selections)
        widget.focus()
        self.query_one("#remove", Button).disabled = self.read_only or not plan.candidates
        self.update_summary()

    def selected(self) -> list[cleaning.Candidate]:
        if self.plan is None:
            return []
        chosen = set(self.query_one(SelectionList).selected)
        return [c for index, c in enumerate(self.plan.candidates) if index in chosen]

    def update_summary(self) -> None:
        if self.plan is not None:
            self.query_one("#clean-summary", Static).update(safe_text("dry run: " + self.plan.summary(self.selected())))

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        self.update_summary()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "close":
            self.action_close()
        elif self.read_only:
            self.query_one("#clean-result", Static).update(Text(READ_ONLY_REASON))
        elif self.plan is not None:
            self.ask(self.plan, self.selected())

    def ask(self, plan: cleaning.CleanPlan, chosen: list[cleaning.Candidate]) -> None:
        if not chosen:
            self.query_one("#clean-result", Static).update(Text("nothing is checked"))
            return
        self.app.push_screen(
            ConfirmScreen(
                f"Remove {len(chosen)} stale object(s)?",
                [plan.summary(chosen), *(c.line() for c in chosen)],
                confirm_label=f"Remove {len(chosen)}",
            ),
            lambda yes: self.confirmed(yes, chosen),
        )

    def confirmed(self, yes: bool | None, chosen: Iterable[cleaning.Candidate]) -> None:
        if not yes:
            self.query_one("#clean-result", Static).update(Text("cancelled: nothing was removed"))
            return
        self.query_one("#remove", Button).disabled = True
        chosen = list(chosen)
        run_in_thread(self, lambda: self.clean(chosen, read_only=self.read_only), self.show_outcomes)

    def show_outcomes(self, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes
        removed = sum(1 for o in outcomes if o.ok)
        lines = [f"removed {removed} of {len(outcomes)}", *(o.message for o in outcomes)]
        self.query_one("#clean-result", Static).update(safe_text(*lines))

    def action_close(self) -> None:
        self.dismiss(self.outcomes)
