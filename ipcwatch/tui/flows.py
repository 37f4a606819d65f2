"""What the dashboard's actions do: each flow opens its screen or asks for confirmation, runs the back end
(ipcwatch.actions) in a thread worker, reports the outcome in a notification and asks for a fresh scan.

Nothing here blocks the UI thread: identity re-checks, removals, signals, peeks and waits all run in workers.
Under read-only mode every mutation is refused with the reason, before any confirmation is asked. The screens a
flow opens (and the shared-memory reader) are imported when it first runs, not before the dashboard's first frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rich.text import Text
from textual.app import App
from textual.notifications import SeverityLevel

from ipcwatch.actions import clean as cleaning
from ipcwatch.actions import remove as removal
from ipcwatch.actions import signals
from ipcwatch.actions.outcome import Outcome, Status
from ipcwatch.actions.verify import users
from ipcwatch.kinds import QUEUE_KINDS, SEMAPHORE_KINDS, SHM_KINDS, Removal, spec
from ipcwatch.scan import IpcObject, Process, ScanConfig, Snapshot
from ipcwatch.scan.waits import BlockedThread
from ipcwatch.text import escape
from ipcwatch.tui.screens.confirm import ConfirmScreen, described, run_in_thread, with_ref

READ_ONLY_REMOVE = "read-only mode: nothing can be removed (restart without --read-only)"
SEVERITY: dict[Status, SeverityLevel] = {
    Status.DONE: "information",
    Status.GONE: "warning",
    Status.REFUSED: "warning",
}


def consequence(obj: IpcObject) -> str:
    """What removing `obj` does, in one raw sentence (its kind's `effect`)."""
    kind = spec(obj.kind)
    messages = obj.value("messages")
    if kind.removal is not Removal.UNLINK:
        return kind.effect.format(id=obj.id, messages="?" if messages is None else messages)
    directory, entry = removal.entry_of(obj, ScanConfig())
    ns = obj.namespace
    view = "" if ns is None or ns.host else f" as that {ns.type} namespace sees it (not the host's file)"
    return kind.effect.format(path=os.path.join(directory, entry), view=view)


def holder_line(pid: int, snapshot: Snapshot, obj: IpcObject) -> str:
    """`pid 42 (comm, user u): fd 3, mapped` for a holder of `obj` (raw)."""
    mine = [h for h in obj.holders if h.pid == pid]
    vias = ", ".join("mapped" if h.fd is None else f"fd {h.fd}" for h in mine)
    proc = snapshot.processes.get(pid)
    who = f"{proc.comm}, user {proc.user}" if proc else f"{mine[0].comm}, gone"
    return f"pid {pid} ({who}): {vias}"


class Flows:
    """The action flows, bound to one App. `changed` asks for a fresh scan after anything may have changed;
    `clean_plan` lists the stale candidates (a parameter, so a test can narrow it)."""

    def __init__(
        self,
        app: App[int],
        *,
        read_only: bool,
        changed: Callable[[], None],
        clean_plan: Callable[[], cleaning.CleanPlan | Outcome] = cleaning.plan,
    ) -> None:
        self.app = app
        self.read_only = read_only
        self.changed = changed
        self.clean_plan = clean_plan

    def report(self, outcome: Outcome) -> None:
        self.app.notify(escape(outcome.message), markup=False, severity=SEVERITY.get(outcome.status, "error"))
        self.changed()

    def _act(self, call: Callable[[], Outcome]) -> None:
        run_in_thread(self.app, call, self.report)

    def _closed(self, _: object = None) -> None:
        self.changed()

    # --- objects -------------------------------------------------------------------------------------------------

    def open(self, obj: IpcObject) -> None:
        """Enter on an object: shared memory opens the hex view, a queue its messages, a semaphore its values."""
        if obj.kind in SHM_KINDS:
            self.hexview(obj)
        elif obj.kind in QUEUE_KINDS:
            self.queue(obj)
        elif obj.kind in SEMAPHORE_KINDS:
            self.semaphore(obj)

    def hexview(self, obj: IpcObject) -> None:
        """The hex view of a shared memory object, opened and first stat'ed off the UI thread. Under read-only
        mode a SysV segment nobody maps is refused: reading it would attach it."""
        from ipcwatch.shmread import AttachRefused, ByteSource, SourceError, open_source  # noqa: PLC0415 - on first use
        from ipcwatch.shmread import Status as ShmStatus  # noqa: PLC0415
        from ipcwatch.tui.screens.hexview import HexViewScreen  # noqa: PLC0415

        allow_attach = not self.read_only

        def call() -> tuple[ByteSource, ShmStatus] | Exception:
            source: ByteSource | None = None
            try:
                source = open_source(obj, allow_attach=allow_attach)
                return source, source.status()
            except (OSError, SourceError) as exc:
                if source is not None:
                    source.close()
                return exc

        def opened(result: tuple[ByteSource, ShmStatus] | Exception) -> None:
            if isinstance(result, AttachRefused):
                self.app.notify(f"refused: {result}", severity="warning", markup=False)
            elif isinstance(result, Exception):
                # A SourceError's message is escaped already; an OSError's (a path in it) is not.
                detail = str(result) if isinstance(result, SourceError) else escape(str(result))
                message = f"cannot open {escape(obj.ref)}: {detail}"
                self.app.notify(message, severity="error", markup=False)
            else:
                source, status = result
                self.app.push_screen(HexViewScreen(source, status=status))

        run_in_thread(self.app, call, opened, group="open")

    def queue(self, obj: IpcObject) -> None:
        from ipcwatch.tui.screens.queue import QueueScreen  # noqa: PLC0415 - on first use

        self.app.push_screen(QueueScreen(obj, read_only=self.read_only), self._closed)

    def semaphore(self, obj: IpcObject) -> None:
        from ipcwatch.tui.screens.semaphore import SemaphoreScreen  # noqa: PLC0415 - on first use

        self.app.push_screen(SemaphoreScreen(obj, read_only=self.read_only), self._closed)

    def remove(self, obj: IpcObject) -> None:
        """Confirm (twice when it is in use, naming the users), then remove it after an identity re-check."""
        if self.read_only:
            self.app.notify(READ_ONLY_REMOVE, severity="warning", markup=False)
            return
        reason = removal.not_removable(obj)
        if reason:
            self.app.notify(with_ref("cannot remove ", obj.ref, f": {reason}").plain, severity="warning", markup=False)
            return
        who = users(obj)
        ref, identity, read_only = obj.ref, obj.identity, self.read_only

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._act(lambda: removal.remove(ref, identity, force_in_use=bool(who), read_only=read_only))

        screen = ConfirmScreen(
            with_ref("Remove ", ref, "?"),
            [described(obj), consequence(obj), "Its identity is re-checked just before; a replaced object is kept."],
            in_use=who,
            confirm_label="Remove",
        )
        self.app.push_screen(screen, confirmed)

    def clean(self) -> None:
        """Review the stale objects and remove the checked ones (CleanScreen does the asking)."""
        from ipcwatch.tui.screens.clean import CleanScreen  # noqa: PLC0415 - on first use

        def finished(outcomes: list[Outcome] | None) -> None:
            if outcomes:
                removed = sum(1 for o in outcomes if o.ok)
                severity: SeverityLevel = "information" if removed == len(outcomes) else "warning"
                self.app.notify(f"clean-up: removed {removed} of {len(outcomes)}", severity=severity, markup=False)
            self.changed()

        self.app.push_screen(CleanScreen(read_only=self.read_only, plan=self.clean_plan), finished)

    # --- processes -----------------------------------------------------------------------------------------------

    def signal(self, proc: Process) -> None:
        """Choose a signal (the chooser says what each would do, read off-thread), confirm naming the process and
        that outcome, send it through a pidfd after a start-time re-check."""
        from ipcwatch.tui.screens.signal import SignalScreen  # noqa: PLC0415 - on first use

        chooser = SignalScreen(proc, read_only=self.read_only)

        def chosen(name: str | None) -> None:
            if name is None:
                return
            pid, expect, read_only = proc.pid, proc.identity, self.read_only

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._act(lambda: signals.send_signal(pid, name, expect=expect, read_only=read_only))

            outcome = chooser.forecast(name)
            screen = ConfirmScreen(
                f"Send SIG{name} to pid {pid} ({proc.comm})?",
                [
                    *([outcome] if outcome else []),
                    f"user: {proc.user} (uid {proc.uid})",
                    f"command: {proc.command}",
                    f"Its start time (tick {proc.start}) is re-checked just before; a recycled pid is not signalled.",
                ],
                confirm_label=f"Send SIG{name}",
            )
            self.app.push_screen(screen, confirmed)

        self.app.push_screen(chooser, chosen)

    def signal_holder(self, obj: IpcObject, snapshot: Snapshot) -> None:
        """Signal a process holding `obj`: the only one, or the one picked from a short list."""
        pids = [pid for pid in dict.fromkeys(h.pid for h in obj.holders) if pid in snapshot.processes]
        if not pids:
            self.app.notify(with_ref("No live process holds ", obj.ref, ".").plain, severity="warning", markup=False)
            return
        if len(pids) == 1:
            self.signal(snapshot.processes[pids[0]])
            return

        def picked(choice: str | None) -> None:
            if choice is not None:
                self.signal(snapshot.processes[int(choice)])

        from ipcwatch.tui.screens.choose import ChoiceScreen  # noqa: PLC0415 - on first use

        options = [(str(pid), holder_line(pid, snapshot, obj)) for pid in pids]
        self.app.push_screen(ChoiceScreen(with_ref("Signal which holder of ", obj.ref, "?"), options), picked)

    # --- blocked threads -----------------------------------------------------------------------------------------

    def blocked_menu(self, blocked: BlockedThread, snapshot: Snapshot) -> None:
        """What can be done about a blocked thread: signal it; post the semaphore or open the queue it waits on."""
        proc = snapshot.processes.get(blocked.pid)
        obj = snapshot.get(blocked.ref) if blocked.ref else None
        options: list[tuple[str, str | Text]] = []
        if proc is not None:
            options.append(("signal", f"Signal pid {proc.pid} ({proc.comm})"))
        if obj is not None and obj.kind in SEMAPHORE_KINDS:
            options.append(("semaphore", with_ref("Post the semaphore ", obj.ref, " (opens its values)")))
        if obj is not None and obj.kind in QUEUE_KINDS:
            options.append(("queue", with_ref("Open the queue ", obj.ref, " (peek, send)")))
        if not options:
            self.app.notify(f"Process {blocked.pid} has exited.", severity="warning", markup=False)
            return

        def picked(choice: str | None) -> None:
            if choice == "signal" and proc is not None:
                self.signal(proc)
            elif choice == "semaphore" and obj is not None:
                self.semaphore(obj)
            elif choice == "queue" and obj is not None:
                self.queue(obj)

        from ipcwatch.tui.screens.choose import ChoiceScreen  # noqa: PLC0415 - on first use

        title = f"Thread {blocked.tid} of {blocked.pid} ({blocked.comm}): {blocked.op}"
        self.app.push_screen(ChoiceScreen(title, options), picked)
