"""The status header: live counts (objects, stale, blocked threads, holder processes, namespaces other than the
host's) and the refresh state."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from ipcwatch.record import record
from ipcwatch.scan import Snapshot
from ipcwatch.text import ago, escape


@record
class RefreshState:
    """What the header says about polling."""

    interval: float  # the one asked for (`-` / `+`, --interval)
    paused: bool
    scanning: bool
    read_only: bool
    now: float  # from the App's clock
    effective: float = 0.0  # the one in use when the CPU budget stretches it (0: the one asked for)


def interval_text(state: RefreshState) -> str:
    """`every 2 s`, or `every 6 s (adaptive)` when scans cost so much that the interval was stretched."""
    if state.effective > state.interval:
        return f"every {state.effective:g} s (adaptive)"
    return f"every {state.interval:g} s"


def status_text(
    snapshot: Snapshot | None, state: RefreshState, blocked: tuple[int, int] = (0, 0), stale: int = 0
) -> Content:
    """`blocked`: (threads blocked on IPC, how many of them have a flagged cause); `stale`: stale objects.
    Styles are theme variables, so every theme reads well; text is never parsed as markup."""
    parts: list[str | tuple[str, str]] = [(" ipcwatch ", "bold reverse")]
    if state.read_only:
        parts.append((" READ-ONLY ", "bold $background on $warning"))
    parts.append(" ")
    if snapshot is None:
        parts.append("first scan running…")
    else:
        stuck, flagged = blocked
        parts += [
            f"{len(snapshot.objects)} objects",
            "  ·  ",
            (f"{stale} stale", "bold $text-warning" if stale else ""),
        ]
        parts += ["  ·  ", (f"{stuck} blocked", "bold $text-error" if flagged else "bold" if stuck else "")]
        if flagged:
            parts.append((f" ({flagged} dead partner/cycle: press w)", "bold $text-error"))
        parts.append(f"  ·  {len(snapshot.holder_processes)} holder procs")
    parts.append("\n ")
    if state.paused:
        parts += [(" PAUSED ", "bold reverse"), f" ({interval_text(state)} when resumed)"]
    else:
        parts.append(f"refresh {interval_text(state)}")
    if state.scanning:
        parts.append("  ·  scanning…")
    if snapshot is not None:
        parts.append(f"  ·  last scan {ago(state.now - snapshot.taken_at)} ago, took {snapshot.duration * 1000:.0f} ms")
        problems = len(snapshot.errors) + len(snapshot.notes)
        if problems:
            parts += ["  ·  ", (f"{problems} notice(s): press e", "bold $text-error" if snapshot.errors else "bold")]
        parts.append(namespaces_text(snapshot))
    return Content.assemble(*parts)


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
        self._stale: tuple[Snapshot | None, int] = (None, 0)  # counted once per scan, not per second

    def show(self, snapshot: Snapshot | None, state: RefreshState, blocked: tuple[int, int] = (0, 0)) -> None:
        if snapshot is not None and self._stale[0] is not snapshot:
            self._stale = (snapshot, sum(1 for o in snapshot.objects if o.stale))
        self.update(status_text(snapshot, state, blocked, self._stale[1]), layout=False)  # its size is fixed


def notice_text(lines: list[str]) -> Text:
    """The line(s) above a table saying why it is empty or what is hidden."""
    return Text("\n".join(escape(line) for line in lines), style="italic")
