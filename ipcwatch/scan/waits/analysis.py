"""Who could end one wait: wakers, dead partners and hints for each kind of object."""

from __future__ import annotations

from ipcwatch.kinds import Kind
from ipcwatch.record import field, record
from ipcwatch.scan.info import FifoInfo, PipeInfo, SysvMsgInfo, SysvSemInfo, UnixInfo
from ipcwatch.scan.model import Holder, IpcObject, Process, Snapshot
from ipcwatch.scan.waits.records import CLIENT, DATA, LISTENER, READER, SIGNAL, SPACE, WRITER, Target
from ipcwatch.scan.waits.reports import Waker

# id(holders) -> (holders, want -> those holders with `want` in their mode), for the snapshot of id _indexed[0]
_Index = dict[int, tuple[list[Holder], dict[str, list[Holder]]]]
_indexed: tuple[int, _Index] = (0, {})


def _holding(snap: Snapshot, holders: list[Holder], want: str) -> list[Holder]:
    """The `holders` with `want` in their mode (or an unknown mode), found once per object and mode in a scan: a
    thousand processes waiting on one pipe whose read end they all hold (and whose write end one holds) are
    analysed one by one, and each search walked every holder (1,000 waiters: 0.1 s). Indexed per snapshot, by the
    list's identity; each entry keeps its list alive, so an id is never another list's while its entry exists."""
    global _indexed  # noqa: PLW0603 - one index at a time, replaced when another snapshot is analysed
    if not want:
        return holders
    snap_id, index = _indexed
    if snap_id != id(snap):
        index = {}
        _indexed = (id(snap), index)
    entry = index.get(id(holders))
    if entry is None or entry[0] is not holders:
        entry = index[id(holders)] = (holders, {})
    found = entry[1].get(want)
    if found is None:
        found = entry[1][want] = [h for h in holders if want in h.mode or h.mode == "?"]
    return found


def _who(holders: list[Holder], pid: int) -> tuple[list[Holder], bool]:
    """(other processes' holders, whether `pid` itself is one of them)."""
    others, itself = [], False
    for h in holders:
        if h.pid == pid:
            itself = True
        else:
            others.append(h)
    return others, itself


def fd_wakers(holders: list[Holder], why: str) -> list[Waker]:
    fds: dict[int, list[str]] = {}
    comms: dict[int, str] = {}
    for h in holders:
        fds.setdefault(h.pid, []).append(h.via)
        comms[h.pid] = h.comm
    return [
        Waker(pid, comms[pid], f"{why} ({'fd ' if vias[0] != 'mapped' else ''}{', '.join(vias)})")
        for pid, vias in fds.items()
    ]


@record(frozen=False)
class Analysis:
    wakers: list[Waker] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    unreadable: int = 0  # processes whose fds could not be read: "nobody holds it" cannot be said then

    def holders_wake(self, others: list[Holder], what: str, nobody: str = "no other process") -> None:
        """The `others` that have `what` ("the FIFO open for writing") could end the wait; none: a dead partner."""
        self.wakers += fd_wakers(others, f"has {what}")
        if not others:
            self.nobody(f"dead partner: {nobody} has {what}")

    def nobody(self, cause: str) -> None:
        """A dead partner, when every fd table was read; else only what is visible, as a hint."""
        if self.unreadable:
            self.hints.append(
                f"{cause.removeprefix('dead partner: ')} among the visible processes; "
                f"{self.unreadable} processes' fds could not be read"
            )
        else:
            self.dead.append(cause)


def _nobody_else(what: str, itself: bool, lone: bool, a: Analysis) -> None:
    """No other process holds `what`: a dead partner, unless another thread of this very process could act.

    Used only for a wait that proves the other end exists (a read on a pipe with no writer returns at once): when
    no visible process holds it, it is held where the scan cannot see, never "dead".
    """
    if itself and not lone:
        a.hints.append(f"only this process holds {what}: another of its threads would have to act")
    elif itself:
        a.nobody(f"dead partner: no other process holds {what}; only this process does, and it is waiting")
    else:
        unread = f"{a.unreadable} processes' fds could not be read; " if a.unreadable else ""
        a.hints.append(
            f"no visible process holds {what}, yet the wait proves it is open: {unread}it may be in flight in a unix "
            "socket's queue (sent with SCM_RIGHTS, not yet received) or held in another PID namespace"
        )


_END_OF = {DATA: ("w", "the write end"), SPACE: ("r", "the read end"), WRITER: ("w", ""), READER: ("r", "")}


def _pipe_wakers(others: list[Holder], end: str, proc: Process | None) -> list[Waker]:
    """The holders of the other end; the parent's hold said as such (a parent-death pipe wakes when it exits)."""
    parent = proc.ppid if proc is not None else 0
    mine = [h for h in others if h.pid != parent]
    theirs = [h for h in others if h.pid == parent]
    why = f"its parent, holds {end}: it wakes this wait by writing or by exiting"
    return fd_wakers(theirs, why) + fd_wakers(mine, f"holds {end}")


def _analyse_file(obj: IpcObject, pid: int, target: Target, snap: Snapshot, lone: bool, a: Analysis) -> None:
    """Pipes, FIFOs, POSIX queues and semaphores: the other processes holding the right end are the wakers."""
    if obj.kind == Kind.POSIX_SEM:
        a.holders_wake(_who(obj.holders, pid)[0], "the semaphore open")
        return
    want, end = _END_OF.get(target.role, ("", "it"))
    others, itself = _who(_holding(snap, obj.holders, want), pid)
    direction = "writing" if want == "w" else "reading"
    if obj.kind == Kind.POSIX_MQ:
        a.holders_wake(others, f"the queue open for {direction}")
        return
    if target.role in (WRITER, READER):
        a.holders_wake(others, f"the FIFO open for {direction}", nobody="no process")
        return
    if not others and target.in_set and target.kind == Kind.PIPE and obj.holder_pids == {pid}:
        a.hints.append(
            "a self-pipe: only this process holds either end, so its own signal handler or another of its threads "
            "writes it: a wait for a signal or an event"
        )
        return
    a.wakers += _pipe_wakers(others, end, snap.processes.get(pid))
    if not others:
        _nobody_else(end, itself, lone, a)
    info = obj.info
    if isinstance(info, PipeInfo | FifoInfo) and info.queued is not None and info.capacity:
        a.hints.append(f"{info.queued} of {info.capacity} bytes queued")


def _analyse_sem(obj: IpcObject, pid: int, target: Target, snap: Snapshot, a: Analysis) -> None:
    sems = obj.info.semaphores if isinstance(obj.info, SysvSemInfo) else None
    if not sems:
        a.hints.append("the semaphore values are not readable: run as root to see the last operators")
        return
    nums = target.sem_nums or tuple(range(len(sems)))
    for num in nums:
        if num >= len(sems):
            continue
        a.hints.append(f"sem {num} value is {sems[num].value}")
        _last_actor(
            a,
            snap,
            pid,
            sems[num].pid or 0,
            never=f"nobody has operated on sem {num} yet",
            itself=f"the last operation on sem {num} was this process's own",
            wakes=f"last operated on sem {num}",
            dead=f"the last process to operate on sem {num}",
        )


def _analyse_msg(obj: IpcObject, pid: int, target: Target, snap: Snapshot, a: Analysis) -> None:
    info = obj.info if isinstance(obj.info, SysvMsgInfo) else None
    sending = target.role == DATA
    who, verb = ("sender", "sent to") if sending else ("receiver", "received from")
    a.hints.append(f"{info.messages if info else '?'} message(s) queued")
    _last_actor(
        a,
        snap,
        pid,
        (info.lspid if sending else info.lrpid) if info else 0,
        never=f"nothing has been {verb} this queue yet",
        itself=f"the last {who} was this process itself",
        wakes=f"last {verb} this queue",
        dead=f"the queue's last {who}",
    )


def _last_actor(
    a: Analysis, snap: Snapshot, pid: int, last: int, *, never: str, itself: str, wakes: str, dead: str
) -> None:
    """What the last process to act on a SysV object says: nobody yet, the waiter itself, a waker, or a dead partner."""
    if not last:
        a.hints.append(never)
    elif last == pid:
        a.hints.append(itself)
    elif last in snap.processes:
        a.wakers.append(Waker(last, snap.processes[last].comm, wakes))
    else:
        a.dead.append(f"dead partner: {dead} (pid {last}) has exited")


def _analyse_unix(obj: IpcObject, pid: int, target: Target, snap: Snapshot, lone: bool, a: Analysis) -> None:
    info = obj.info if isinstance(obj.info, UnixInfo) else None
    if target.role == CLIENT or (info is not None and info.state == "listen"):
        where = f" to {obj.name}" if obj.name else ""
        a.hints.append(f"any process that connects{where} would wake it")
        return
    peer = info.peer if info is not None else None
    peer_obj = snap.get(f"unix:{peer}") if peer else None
    if peer_obj is None:
        a.hints.append("its peer socket is not known")
        return
    others, itself = _who(peer_obj.holders, pid)
    why = "holds the listening socket" if target.role == LISTENER else f"holds the other end ({peer_obj.ref})"
    a.wakers += fd_wakers(others, why)
    if not others:
        _nobody_else(f"the other end ({peer_obj.ref})", itself, lone, a)


def analyse_signal(snap: Snapshot, pid: int, target: Target, a: Analysis) -> None:
    """Who may send the signals that end this wait (signal(7): the same user, or root; a child sends SIGCHLD).
    Never a dead partner: anyone permitted can send one at any time."""
    proc = snap.processes.get(pid)
    who = "root" if proc is None or proc.uid == 0 else f"any process of user {proc.user}, or root,"
    what = ", ".join(target.signals) if target.signals else "a signal it handles (or one that ends it)"
    via = " through its signalfd" if target.kind == Kind.SIGNALFD else ""
    a.hints.append(f"waits for {what}{via}: {who} may send it (kill)")
    if "SIGCHLD" in target.signals:
        for child in sorted((p for p in snap.processes.values() if p.ppid == pid), key=lambda p: p.pid):
            a.wakers.append(Waker(child.pid, child.comm, "its child: exiting or stopping sends SIGCHLD"))


def _analyse_eventfd(obj: IpcObject | None, pid: int, a: Analysis) -> None:
    """The other holders of an eventfd write it; held by this process alone, it is a local wake-up (never dead)."""
    if obj is None:
        a.hints.append("the eventfd is not in this scan")
        return
    others, _ = _who(obj.holders, pid)
    a.wakers += fd_wakers(others, "holds the eventfd: a write to it wakes this wait")
    if not others:
        a.hints.append(
            "only this process holds the eventfd: another of its threads, a signal handler or the kernel (aio, "
            "io_uring) writes it: a wait for an event"
        )


def analyse(snap: Snapshot, pid: int, target: Target, ref: str | None, lone: bool, unreadable: int = 0) -> Analysis:
    """Who could end this wait (`lone`: the waiting process has no other thread that could; `unreadable`: how
    many processes' fds the scan could not read)."""
    a = Analysis(unreadable=unreadable)
    obj = snap.get(ref) if ref else None
    if target.role == SIGNAL:
        analyse_signal(snap, pid, target, a)
    elif target.kind == Kind.EVENTFD:
        _analyse_eventfd(obj, pid, a)
    elif obj is None:
        if target.role in (WRITER, READER):
            direction = "writing" if target.role == WRITER else "reading"
            a.nobody(f"dead partner: no process has the FIFO open for {direction}")
        else:
            a.hints.append("the object is not in this scan")
    elif obj.kind == Kind.SYSV_SEM:
        _analyse_sem(obj, pid, target, snap, a)
    elif obj.kind == Kind.SYSV_MSG:
        _analyse_msg(obj, pid, target, snap, a)
    elif obj.kind == Kind.UNIX:
        _analyse_unix(obj, pid, target, snap, lone, a)
    else:
        _analyse_file(obj, pid, target, snap, lone, a)
    return a
