"""The status header: live counts (objects, stale, blocked threads, holder processes, namespaces other than the
host's) and the refresh state."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from ipcwatch.scan import Snapshot
from ipcwatch.text import ago, escape


@dataclass(frozen=True)
class RefreshState:
    """What the header says about polling."""

    interval: float
    paused: bool
    scanning: bool
    read_only: bool
    now: float  # from the App's clock


def status_text(snapshot: Snapshot | None, state: RefreshState, blocked: tuple[int, int] = (0, 0)) -> Text:
    """`blocked`: (threads blocked on IPC, how many of them have a flagged cause)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" ipcwatch ", style="bold reverse")
    if state.read_only:
        text.append(" READ-ONLY ", style="bold #1a1a1a on #f0b429")
    text.append(" ")
    if snapshot is None:
        text.append("first scan running…")
    else:
        objects = len(snapshot.objects)
        stale = sum(1 for o in snapshot.objects if o.stale)
        stuck, flagged = blocked
        text.append(f"{objects} objects")
        text.append("  ·  ")
        text.append(f"{stale} stale", style="bold #f0b429" if stale else "")
        text.append("  ·  ")
        text.append(f"{stuck} blocked", style="bold #ff7b72" if flagged else "bold" if stuck else "")
        if flagged:
            text.append(f" ({flagged} dead partner/cycle: press w)", style="bold #ff7b72")
        text.append(f"  ·  {len(snapshot.holder_processes)} holder procs")
    text.append("\n ")
    if state.paused:
        text.append(" PAUSED ", style="bold reverse")
        text.append(f" (every {state.interval:g} s when resumed)")
    else:
        text.append(f"refresh every {state.interval:g} s")
    if state.scanning:
        text.append("  ·  scanning…")
    if snapshot is not None:
        text.append(f"  ·  last scan {ago(state.now - snapshot.taken_at)} ago, took {snapshot.duration * 1000:.0f} ms")
        problems = len(snapshot.errors) + len(snapshot.notes)
        if problems:
            text.append("  ·  ")
            text.append(f"{problems} notice(s): press e", style="bold #ff7b72" if snapshot.errors else "bold")
        text.append(namespaces_text(snapshot))
    return text


def namespaces_text(snapshot: Snapshot) -> str:
    """`  ·  4 namespaces (2 containers)` beside the host's; empty when only the host's were seen."""
    others = [ns for ns in snapshot.namespaces if not ns.host]
    if not others:
        return ""
    boxes = len({(ns.container.runtime, ns.container.id) for ns in others if ns.container is not None})
    in_boxes = f" ({boxes} container{'s' if boxes != 1 else ''})" if boxes else ""
    return f"  ·  {len(others)} namespace{'s' if len(others) != 1 else ''}{in_boxes}"


class StatusHeader(Static):
    """Two lines at the top of the dashboard."""

    DEFAULT_CSS = """
    StatusHeader { height: 2; background: $panel; color: $text; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self) -> None:
        super().__init__(markup=False, id="status")

    def show(self, snapshot: Snapshot | None, state: RefreshState, blocked: tuple[int, int] = (0, 0)) -> None:
        self.update(status_text(snapshot, state, blocked))


def notice_text(lines: list[str]) -> Text:
    """The line(s) above a table saying why it is empty or what is hidden."""
    return Text("\n".join(escape(line) for line in lines), style="italic")
