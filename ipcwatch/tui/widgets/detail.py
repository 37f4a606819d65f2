"""The detail pane: every field of the selected object (holders, waiters, semaphore values), process (with its
psutil context and signal dispositions, read by a thread worker) or blocked thread.

Everything shown is built as `rich.text.Text` from `escape`d strings; the Static never parses markup. Every model
string is raw, refs too: each is escaped here, once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from rich.text import Text
from textual import work

from ipcwatch.kinds import spec
from ipcwatch.scan import IpcObject, Process, Snapshot
from ipcwatch.scan.dispositions import Dispositions
from ipcwatch.scan.info import SysvSemInfo, UnixInfo
from ipcwatch.scan.model import info_items
from ipcwatch.scan.procinfo import ProcessDetails, ProcessProbe
from ipcwatch.scan.sigset import mask_names
from ipcwatch.scan.waits import BlockedThread
from ipcwatch.scan.waits.records import timeout_text
from ipcwatch.text import escape, human_size
from ipcwatch.tui.widgets.cells import waiting_for
from ipcwatch.tui.widgets.text_pane import TextPane
from ipcwatch.views import key_text

LABEL_WIDTH = 14
HEAD_STYLE = "bold underline"
STALE_STYLE = "bold #f0b429"
ALERT_STYLE = "bold #ff7b72"
NESTED_FIELDS = ("semaphores", "peer_holders", "waiting_clients")
MAX_THREAD_ROWS = 32
TABLE_ROWS = 50  # rows a table lists (its title gives the count): a pipe inherited by 1,000 processes made 1,000
# lines, 35 ms to lay out each time it was shown (a switch to the pipes view, at 45,000 objects, waited 80 ms for it)
READING = "reading…"


def _shown(value: object, none: str) -> str:
    return escape(none if value is None else str(value))


def field_line(text: Text, label: str, value: object, style: str = "") -> None:
    text.append(f"  {label:<{LABEL_WIDTH}}" + (" " if len(label) >= LABEL_WIDTH else ""), style="bold")
    text.append(_shown(value, "?"), style=style)
    text.append("\n")


def _table(text: Text, title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A small aligned table under a heading (its first TABLE_ROWS rows, then how many more); every cell escaped."""
    left = iter(rows)
    cells = [[_shown(v, "-") for v in row] for row in islice(left, TABLE_ROWS)]
    more = sum(1 for _ in left)
    text.append(f"\n{title}\n", style=HEAD_STYLE)
    if not cells:
        text.append("  none\n", style="dim")
        return
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    for row, style in ((list(columns), "bold"), *((r, "") for r in cells)):
        text.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n", style=style)
    if more:
        text.append(f"  … and {more} more\n", style="dim")


def _field_value(value: Any) -> str:
    """A record's value as raw text: yes/no, `?` for unknown, a namespace by its label, lists comma-separated."""
    if isinstance(value, bool) or value is None:
        return {None: "?", True: "yes", False: "no"}[value]
    if isinstance(value, tuple):
        return ", ".join(_field_value(v) for v in value)
    if hasattr(value, "tag"):  # a Namespace
        return f"{value.label} ({value.tag})" if value.label != value.tag else value.tag
    return str(value)


def object_text(obj: IpcObject, snapshot: Snapshot) -> Text:
    """Who holds and waits first (what a person looks for), then every field."""
    text = Text(no_wrap=False)
    text.append(escape(obj.ref), style="bold")
    text.append(f"  ({obj.kind}, owner {escape(obj.owner)})\n")
    ns = obj.namespace
    if ns is not None and not ns.host:
        box = "" if ns.container is None else f" ({ns.container.runtime} {ns.container.short_id})"
        field_line(text, "namespace", f"{ns.label}{box}" + (f", {ns.tag}" if ns.label != ns.tag else ""))
    if obj.stale:
        field_line(text, "STALE", obj.stale_reason, STALE_STYLE)
    _table(
        text,
        f"Holders ({len(obj.holders)})",
        ("PID", "COMM", "USER", "FD", "MODE"),
        ((h.pid, h.comm, h.user, h.via, h.mode) for h in obj.holders),
    )
    if not spec(obj.kind).holders_known and not obj.holders:
        text.append("  (the kernel does not record who holds SysV queues and semaphores)\n", style="dim")
    _table(
        text,
        f"Waiters ({len(obj.waiters)})",
        ("PID", "TID", "COMM", "OP"),
        ((w.pid, w.tid, _comm(snapshot, w.pid), w.op) for w in obj.waiters),
    )
    info = obj.info
    if isinstance(info, SysvSemInfo):
        if info.semaphores is None:
            text.append("\nSemaphores\n", style=HEAD_STYLE)
            text.append("  values not readable (needs root or read permission)\n", style="dim")
        else:
            rows = [(s.num, s.value, s.ncnt, s.zcnt, s.pid) for s in info.semaphores]
            _table(text, f"Semaphores ({len(rows)})", ("NUM", "VALUE", "NCNT", "ZCNT", "LAST-PID"), rows)
    if isinstance(info, UnixInfo):
        _socket_tables(text, info)
    text.append("\nFields\n", style=HEAD_STYLE)
    if obj.name is not None:
        field_line(text, "name", obj.name)
    if obj.id is not None:
        field_line(text, "id", obj.id)
    if obj.key is not None:
        field_line(text, "key", key_text(obj))
    field_line(text, "owner", f"{obj.owner} (uid {'?' if obj.uid is None else obj.uid})")
    if obj.perms is not None:
        field_line(text, "perms", obj.perms)
    if obj.size is not None and not spec(obj.kind).size_is_count:  # a semaphore set's "size" is its nsems
        field_line(text, "size", f"{obj.size} ({human_size(obj.size)})")
    field_line(text, "identity", obj.identity)
    values = dict(info_items(info))
    if obj.removed_at_logout is not None:
        values["removed_at_logout"] = obj.removed_at_logout
    for name in sorted(values):
        if name not in NESTED_FIELDS:
            field_line(text, name, _field_value(values[name]))
    return text


def _socket_tables(text: Text, info: UnixInfo) -> None:
    """The processes at the other end of a connected socket; the clients waiting for a listener to accept them."""
    if info.peer_holders:
        rows = [(p.pid, p.comm, p.user, p.fd, p.mode) for p in info.peer_holders]
        _table(text, f"Peer holders ({len(rows)})", ("PID", "COMM", "USER", "FD", "MODE"), rows)
    clients = info.waiting_clients
    if clients:
        rows = [
            (c.inode, h.pid, h.comm, h.user, h.fd) if h else (c.inode, None, None, None, None)
            for c in clients
            for h in (c.holders or (None,))
        ]
        _table(text, f"Waiting to be accepted ({len(clients)})", ("INODE", "PID", "COMM", "USER", "FD"), rows)


def _comm(snapshot: Snapshot, pid: int) -> str:
    proc = snapshot.processes.get(pid)
    return proc.comm if proc else "?"


def process_text(
    proc: Process,
    snapshot: Snapshot,
    blocked: Iterable[BlockedThread] = (),
    context: ProcessDetails | str | None = None,
) -> Text:
    """The process, what it holds, its threads blocked on IPC (`blocked`: the scan's, any process), and its context
    when given (psutil and signal dispositions, or a line saying why they are missing)."""
    held = snapshot.held_by(proc.pid)
    text = Text(no_wrap=False)
    text.append(f"process {proc.pid}", style="bold")
    text.append(f"  {escape(proc.comm)}\n")
    field_line(text, "user", f"{proc.user} (uid {proc.uid})")
    field_line(text, "ppid", proc.ppid)
    field_line(text, "state", proc.state)
    field_line(text, "started", f"{proc.start} ticks after boot")
    field_line(text, "command", proc.command)
    _table(
        text,
        f"Holds ({len(held)})",
        ("REF", "FD", "MODE"),
        ((o.ref, h.via, h.mode) for o in held for h in o.holders if h.pid == proc.pid),
    )
    mine = [b for b in blocked if b.pid == proc.pid]
    _table(
        text,
        f"Blocked threads ({len(mine)})",
        ("TID", "OP", "OBJECT", "CAUSE"),
        ((b.tid, b.op, b.ref or b.label, "; ".join(b.causes) or None) for b in mine),
    )
    if context is None:
        return text
    if isinstance(context, str):
        text.append("\nContext\n", style=HEAD_STYLE)
        text.append(f"  {escape(context)}\n", style="dim")
    else:
        _context(text, context)
        _signals(text, context.signals)
    return text


def _context(text: Text, d: ProcessDetails) -> None:
    text.append("\nContext\n", style=HEAD_STYLE)
    field_line(text, "cpu", "measuring…" if d.cpu_percent is None else f"{d.cpu_percent:.1f} %")
    field_line(text, "memory", None if d.rss is None else f"{human_size(d.rss)} resident")
    field_line(text, "threads", d.threads)
    field_line(text, "started", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d.started)))
    field_line(text, "cwd", d.cwd)
    field_line(text, "exe", d.exe)
    field_line(text, "user", d.username)
    field_line(text, "nice", d.nice)
    field_line(text, "status", d.status)


def _names(mask: int) -> str:
    return " ".join(mask_names(mask)) or "-"


def _signals(text: Text, disp: Dispositions) -> None:
    """Dispositions, then what each signal that is not simply left to its default would do now."""
    text.append("\nSignals\n", style=HEAD_STYLE)
    field_line(text, "caught", _names(disp.caught))
    field_line(text, "ignored", _names(disp.ignored))
    field_line(text, "pending", _names(disp.pending), ALERT_STYLE if disp.pending else "")
    field_line(text, "blocked (all)", _names(disp.blocked_everywhere))
    field_line(text, "queued", None if disp.queued is None else f"{disp.queued} of {disp.queue_limit}")
    for verdict in (disp.verdict(n) for n in disp.notable()):
        if verdict.disposition != "default" or verdict.effect in ("pending", "taken", "discarded"):
            field_line(
                text, verdict.name, verdict.says, STALE_STYLE if verdict.effect in ("pending", "discarded") else ""
            )
    rows = [
        (t.tid, _names(t.blocked), _names(t.pending), _names(t.waits_for) if t.waits_for else None)
        for t in disp.threads[:MAX_THREAD_ROWS]
    ]
    more = len(disp.threads) - len(rows)
    title = f"Thread signal masks ({len(disp.threads)}{f', first {len(rows)} shown' if more else ''})"
    _table(text, title, ("TID", "BLOCKED", "PENDING", "SIGWAIT FOR"), rows)


def blocked_text(b: BlockedThread, snapshot: Snapshot) -> Text:
    """Everything about one blocked thread: what it waits on, since when, who could wake it, why not, hints."""
    text = Text(no_wrap=False)
    text.append(f"thread {b.tid} of process {b.pid}", style="bold")
    text.append(f"  {escape(b.comm)}\n")
    for cause in b.causes:
        field_line(text, "CAUSE", cause, ALERT_STYLE)
    field_line(text, "waiting", f"{waiting_for(b, snapshot.taken_at)} (as of the scan)")
    field_line(text, "state", {"S": "S (interruptible sleep)", "D": "D (uninterruptible sleep)"}.get(b.state, b.state))
    field_line(text, "syscall", b.syscall)
    field_line(text, "operation", b.op)
    if b.signals:
        field_line(text, "signals", ", ".join(b.signals))
    if b.timeout is not None:
        field_line(text, "timeout", f"{timeout_text(b.timeout)} (a timed wait wakes by itself)")
    field_line(text, "wchan", b.wchan)
    field_line(text, "object", b.ref or f"{b.label} (not in this scan)")
    if b.ref is not None and b.label != b.ref:
        field_line(text, "called", b.label)
    for ref in b.refs[1:]:
        field_line(text, "also on", ref)
    wakers = ((w.pid, w.comm, w.why) for w in b.wakers)
    _table(text, f"Who could wake it ({len(b.wakers)})", ("PID", "COMM", "WHY"), wakers)
    if b.hints:
        text.append("\nHints\n", style=HEAD_STYLE)
        for hint in b.hints:
            text.append(f"  {escape(hint)}\n")
    proc = snapshot.processes.get(b.pid)
    if proc is not None:
        text.append("\nProcess\n", style=HEAD_STYLE)
        field_line(text, "user", f"{proc.user} (uid {proc.uid})")
        field_line(text, "command", proc.command)
    text.append("\no: go to the object   p: go to the process   a: actions", style="dim")
    return text


class DetailPane(TextPane):
    """Scrollable details of whatever is selected. A process is shown at once from the scan, then again when a
    thread worker has read its context (psutil and signal dispositions, checked against its pid@start)."""

    DEFAULT_CSS = """
    DetailPane { border-top: solid $primary-darken-2; padding: 0 1; }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._showing: tuple[Process, Snapshot, tuple[BlockedThread, ...]] | None = None
        self._probe: ProcessProbe | None = None
        self._shown_context: ProcessDetails | str = READING

    def show(self, content: Text) -> None:
        self._showing = None
        self.show_text(content)

    def show_message(self, message: str) -> None:
        self.show(Text(escape(message), style="dim"))

    def show_process(self, proc: Process, snapshot: Snapshot, blocked: Iterable[BlockedThread] = ()) -> None:
        """Show `proc` now (with the context last read for it, if any) and read its context afresh off-thread."""
        if self._probe is None or self._probe.identity != proc.identity:
            self._probe = ProcessProbe(proc.pid, proc.start)
            self._shown_context = READING
        self._showing = (proc, snapshot, tuple(blocked))
        self.show_text(process_text(*self._showing, context=self._shown_context))
        self._read_context(self._probe)

    @work(thread=True, exclusive=True, group="process-context", exit_on_error=False)
    def _read_context(self, probe: ProcessProbe) -> None:
        details = probe.read()
        self.app.call_from_thread(self._context_read, probe, details)

    def _context_read(self, probe: ProcessProbe, details: ProcessDetails | None) -> None:
        if probe is not self._probe or self._showing is None or not self.is_attached:
            return  # something else is shown now
        gone = f"process {probe.pid} has exited (or its pid was reused)"
        self._shown_context = gone if details is None else details
        self.show_text(process_text(*self._showing, context=self._shown_context))
