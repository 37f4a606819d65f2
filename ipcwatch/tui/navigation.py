"""The dashboard's navigation and selection as plain data (no widgets): which table the user is on, what the
selection designates, the jump history (back and forward) and the holder cycle of `p`. Unit-tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ipcwatch.scan import IpcObject, Process, Snapshot
from ipcwatch.scan.waits import BlockedThread
from ipcwatch.tui.widgets.rows import BLOCKED, CONTAINERS, PROCESSES

HISTORY_LIMIT = 50


class Pane(StrEnum):
    """The table the keys act on."""

    OBJECTS = "objects"  # the All view or a kind's view
    PROCESSES = "processes"  # the process table of the process view
    HELD = "held"  # the objects the selected process holds (process view, that table has focus)
    BLOCKED = "blocked"
    CONTAINERS = "containers"


def pane_of(view_id: str, held_focused: bool) -> Pane:
    """The one place that decides which table is in use: in the process view, the held-objects table when it
    has focus, else the process table."""
    if view_id == PROCESSES:
        return Pane.HELD if held_focused else Pane.PROCESSES
    return {BLOCKED: Pane.BLOCKED, CONTAINERS: Pane.CONTAINERS}.get(view_id, Pane.OBJECTS)


@dataclass(frozen=True, slots=True)
class Selection:
    """What is selected: the view, whether the held-objects table has focus, the key under the main table's
    cursor (a ref, a pid, a blocked thread's `pid/tid`, a namespace tag) and under the held table's."""

    view_id: str
    held_focused: bool = False
    key: str | None = None
    held_key: str | None = None

    @property
    def pane(self) -> Pane:
        return pane_of(self.view_id, self.held_focused)

    def object(self, snapshot: Snapshot) -> IpcObject | None:
        """The object under a cursor: the view's, or in the process view the held table's (focused or not)."""
        if self.pane in (Pane.BLOCKED, Pane.CONTAINERS):
            return None
        key = self.held_key if self.view_id == PROCESSES else self.key
        return None if key is None else snapshot.get(key)

    def target_object(self, snapshot: Snapshot) -> IpcObject | None:
        """The object an action applies to: in the process view only when the held table has focus."""
        return self.object(snapshot) if self.pane in (Pane.OBJECTS, Pane.HELD) else None

    def blocked(self, blocked: Mapping[str, BlockedThread]) -> BlockedThread | None:
        """The blocked thread under the cursor (`blocked`: the scan's, by row key)."""
        return None if self.pane is not Pane.BLOCKED or self.key is None else blocked.get(self.key)

    def pid(self, blocked: Mapping[str, BlockedThread]) -> int | None:
        """The process under the cursor: in the process view (whichever table has focus), or the blocked
        thread's."""
        if self.pane is Pane.BLOCKED:
            thread = self.blocked(blocked)
            return None if thread is None else thread.pid
        if self.view_id != PROCESSES or self.key is None:
            return None
        return int(self.key)

    def target_process(self, snapshot: Snapshot, blocked: Mapping[str, BlockedThread]) -> Process | None:
        """The process an action applies to: the selected process or blocked thread's (not from the held table)."""
        if self.pane not in (Pane.PROCESSES, Pane.BLOCKED):
            return None
        pid = self.pid(blocked)
        return None if pid is None else snapshot.processes.get(pid)


@dataclass(frozen=True, slots=True)
class Place:
    """Where the user was: a view and the selected row key."""

    view_id: str
    key: str | None


class History:
    """Jumps remembered for `b` (back) and `f` (forward), as a browser does: a new jump clears what lies ahead."""

    def __init__(self, limit: int = HISTORY_LIMIT) -> None:
        self.limit = limit
        self._back: list[Place] = []
        self._ahead: list[Place] = []

    def leave(self, here: Place) -> None:
        """Before a jump: remember where the user was."""
        self._back.append(here)
        del self._back[: -self.limit]
        self._ahead.clear()

    def back(self, here: Place) -> Place | None:
        """Where `b` goes from `here` (remembered for `f`); None when there is nowhere to go back to."""
        if not self._back:
            return None
        self._ahead.append(here)
        return self._back.pop()

    def forward(self, here: Place) -> Place | None:
        """Where `f` goes from `here` (remembered for `b`); None after a new jump or at the newest place."""
        if not self._ahead:
            return None
        self._back.append(here)
        return self._ahead.pop()

    @property
    def can_go_back(self) -> bool:
        return bool(self._back)

    @property
    def can_go_forward(self) -> bool:
        return bool(self._ahead)


class HolderCycle:
    """`p` on an object goes to its first holder; `p` again on the same object, to the next one."""

    def __init__(self) -> None:
        self._last: tuple[str, int] | None = None

    def next(self, ref: str, pids: Sequence[int]) -> int:
        """The index in `pids` of the holder to show now (0 for an object other than the last one)."""
        turn = 0
        if self._last is not None and self._last[0] == ref and pids:
            turn = (self._last[1] + 1) % len(pids)
        self._last = (ref, turn)
        return turn
