"""Signal dispositions of one process: what it catches, ignores, blocks (per thread) and has pending, and what a
given signal would do to it now.

Read from `/proc/PID/status` (SigCgt, SigIgn, ShdPnd, SigQ) and `/proc/PID/task/TID/status` (SigBlk, SigPnd per
thread) through one directory fd on `/proc/PID` whose start time is checked first, so a recycled pid is never
described. Pure data: nothing here changes anything.
"""

from __future__ import annotations

import os
import signal

from ipcwatch.procfs import read_at, read_once
from ipcwatch.record import record, replace
from ipcwatch.scan.parsers import parse_fdinfo, parse_stat
from ipcwatch.scan.sigset import (
    CONTINUE,
    IGNORE,
    STOP,
    UNCATCHABLE,
    default_action,
    mask_names,
    mask_signals,
    parse_mask,
    read_sigset,
    signal_name,
)
from ipcwatch.scan.syscalls import parse_syscall, syscall_name, table_for
from ipcwatch.text import escape

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

# The signals a person usually sends or sees; `Dispositions.notable()` adds any other the masks mention.
COMMON_SIGNALS: tuple[int, ...] = tuple(
    int(s)
    for s in (
        signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGKILL, signal.SIGUSR1, signal.SIGUSR2,
        signal.SIGPIPE, signal.SIGALRM, signal.SIGTERM, signal.SIGCHLD, signal.SIGCONT, signal.SIGSTOP,
        signal.SIGTSTP, signal.SIGURG, signal.SIGWINCH,
    )
)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_STATUS_LIMIT = 1 << 16

# what happens to a signal nobody catches or ignores, by its default action
_DEFAULT_SAYS = {
    "terminate": "not caught — the default action terminates the process",
    "core": "not caught — the default action terminates the process and dumps core",
    STOP: "not caught — the default action stops the process",
    IGNORE: "not caught, and ignored by default — nothing will happen",
    CONTINUE: "not caught — the default action resumes the process if it is stopped",
}


@record
class ThreadSignals:
    tid: int
    blocked: int  # SigBlk (while in sigwaitinfo, without the set it waits for)
    pending: int  # SigPnd: sent to this thread only
    waits_for: int = 0  # the set of a sigwaitinfo/sigtimedwait it sleeps in (0: none, or not readable)

    def to_json(self) -> dict[str, Any]:
        return {
            "tid": self.tid,
            "blocked": mask_names(self.blocked),
            "pending": mask_names(self.pending),
            "waits_for": mask_names(self.waits_for),
        }


@record
class Verdict:
    """What sending `number` would do now. `effect`: killed, stopped, pending, discarded, handler, taken (by a
    thread in sigwaitinfo), signalfd (queued for a signalfd to read), or the default action (terminate, core,
    stop, ignore, continue)."""

    number: int
    disposition: str  # uncatchable, ignored, caught, default
    deliverable: bool  # some thread does not block it
    effect: str
    says: str  # "ignored by this process — nothing will happen"

    @property
    def name(self) -> str:
        return signal_name(self.number)

    @property
    def line(self) -> str:
        """`SIGTERM: ignored by this process — nothing will happen`."""
        return f"{self.name}: {self.says}"

    def to_json(self) -> dict[str, Any]:
        return {
            "signal": self.name,
            "number": self.number,
            "default": default_action(self.number),
            "disposition": self.disposition,
            "deliverable": self.deliverable,
            "effect": self.effect,
            "says": self.says,
        }


@record
class Dispositions:
    """One process's signal state; masks are kernel masks (bit N-1 is signal N)."""

    pid: int
    start: int  # clock ticks since boot: the identity that was checked
    comm: str
    state: str  # one letter, as in /proc/PID/stat
    caught: int  # SigCgt
    ignored: int  # SigIgn
    shared_pending: int  # ShdPnd: sent to the process, not yet taken by a thread
    queued: int | None  # SigQ: queued signals of the owner (real uid), against its RLIMIT_SIGPENDING
    queue_limit: int | None
    threads: tuple[ThreadSignals, ...]
    namespace_init: bool = False  # pid 1 of its own pid namespace: signals it has no handler for are dropped
    signalfd: int = 0  # signals its signalfds read (the union of their masks; 0 when none or unreadable)

    @property
    def identity(self) -> str:
        return f"{self.pid}@{self.start}"

    @property
    def pending(self) -> int:
        """Pending anywhere: process-wide plus every thread's own."""
        mask = self.shared_pending
        for thread in self.threads:
            mask |= thread.pending
        return mask

    @property
    def blocked_everywhere(self) -> int:
        """Signals every thread blocks: sent now, they stay pending. 0 when no thread was read."""
        if not self.threads:
            return 0
        mask = (1 << 64) - 1
        for thread in self.threads:
            mask &= thread.blocked
        return mask

    def deliverable(self, number: int) -> bool:
        """True when some thread does not block `number` (SIGKILL and SIGSTOP always are)."""
        return number in UNCATCHABLE or not self.blocked_everywhere >> (number - 1) & 1

    def verdict(self, number: int) -> Verdict:
        return verdict(self, number)

    def notable(self) -> list[int]:
        """The common signals, then every other one that is caught, ignored, blocked somewhere or pending."""
        mask = self.caught | self.ignored | self.pending
        for thread in self.threads:
            mask |= thread.blocked
        return list(COMMON_SIGNALS) + [n for n in mask_signals(mask) if n not in COMMON_SIGNALS]

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "identity": self.identity,
            "comm": escape(self.comm),
            "state": self.state,
            "caught": mask_names(self.caught),
            "ignored": mask_names(self.ignored),
            "pending": mask_names(self.pending),
            "shared_pending": mask_names(self.shared_pending),
            "blocked_by_every_thread": mask_names(self.blocked_everywhere),
            "queued": self.queued,
            "queue_limit": self.queue_limit,
            "namespace_init": self.namespace_init,
            "signalfd": mask_names(self.signalfd),
            "threads": [t.to_json() for t in self.threads],
            "signals": [self.verdict(n).to_json() for n in self.notable()],
        }


def verdict(disp: Dispositions, number: int) -> Verdict:
    """What `number` would do to the process now, in the order the kernel decides it."""
    bit = 1 << (number - 1)
    deliverable = disp.deliverable(number)
    if number in UNCATCHABLE and disp.pid == 1:
        says = "pid 1 cannot be killed or stopped from inside its own pid namespace — nothing will happen"
        return Verdict(number, "uncatchable", True, "discarded", says)
    if number in UNCATCHABLE:
        effect = "killed" if number == signal.SIGKILL else "stopped"
        says = f"cannot be caught, blocked or ignored — the process is {effect}"
        return Verdict(number, "uncatchable", True, effect, says)
    caught, ignored = bool(disp.caught & bit), bool(disp.ignored & bit)
    disposition = "caught" if caught else "ignored" if ignored else "default"
    waiter = next((t.tid for t in disp.threads if t.waits_for & bit), None)
    others_block = all(t.blocked & bit for t in disp.threads if not t.waits_for & bit)
    if waiter is not None and others_block:
        says = f"thread {waiter} waits for it in sigwaitinfo — that thread takes it, no handler or default action runs"
        return Verdict(number, disposition, True, "taken", says)
    if not deliverable and disp.signalfd & bit:
        says = "blocked by every thread and read through a signalfd — it wakes the process polling that fd"
        return Verdict(number, disposition, False, "signalfd", says)
    if not deliverable:
        then = {"caught": "its handler runs", "ignored": "it is discarded"}.get(disposition, "its default action")
        says = f"blocked by every thread — it will stay pending (when a thread unblocks it, {then})"
        if number == signal.SIGCONT:
            says += "; a stopped process resumes anyway"
        return Verdict(number, disposition, False, "pending", says)
    if disposition == "ignored":
        says = "ignored by this process — nothing will happen"
        if number == signal.SIGCONT:
            says = "ignored by this process — but a stopped process resumes anyway"
        return Verdict(number, "ignored", True, "discarded", says)
    if disposition == "caught":
        says = "caught by a handler"
        if disp.state in ("T", "t"):
            says += " — the process is stopped: the handler runs after SIGCONT"
        return Verdict(number, "caught", True, "handler", says)
    if disp.namespace_init:
        says = "the init of a pid namespace drops signals it has no handler for — nothing will happen"
        return Verdict(number, "default", True, "discarded", says)
    action = default_action(number)
    return Verdict(number, "default", True, action, _DEFAULT_SAYS[action])


# --- parsing -------------------------------------------------------------------------------------------------------


def parse_status(data: bytes) -> dict[str, str]:
    """`/proc/PID/status` as {field: value}; never raises (a field the kernel escapes stays escaped)."""
    fields: dict[str, str] = {}
    for raw in data.split(b"\n"):
        name, sep, value = raw.partition(b":")
        if sep:
            fields.setdefault(name.decode("ascii", "replace"), value.strip().decode("utf-8", "replace"))
    return fields


def _mask(fields: dict[str, str], name: str) -> int:
    value = parse_mask(fields.get(name, ""))
    return value if value is not None and 0 <= value < 1 << 64 else 0


def parse_sigq(text: str) -> tuple[int | None, int | None]:
    """`SigQ:\t1/31615` -> (1, 31615); (None, None) when malformed."""
    queued, sep, limit = text.partition("/")
    if sep and queued.isdigit() and limit.isdigit():
        return int(queued), int(limit)
    return None, None


def thread_signals(tid: int, fields: dict[str, str], waits_for: int = 0) -> ThreadSignals:
    return ThreadSignals(tid, _mask(fields, "SigBlk"), _mask(fields, "SigPnd"), waits_for)


def from_status(
    pid: int, start: int, comm: str, state: str, fields: dict[str, str], threads: tuple[ThreadSignals, ...]
) -> Dispositions:
    """The record for a process whose status fields are `fields`; without `threads`, its main thread's."""
    queued, limit = parse_sigq(fields.get("SigQ", ""))
    return Dispositions(
        pid=pid,
        start=start,
        comm=comm,
        state=state,
        caught=_mask(fields, "SigCgt"),
        ignored=_mask(fields, "SigIgn"),
        shared_pending=_mask(fields, "ShdPnd"),
        queued=queued,
        queue_limit=limit,
        threads=threads or (thread_signals(pid, fields),),
        namespace_init=pid == 1 or fields.get("NSpid", "").split()[-1:] == ["1"],
    )


# --- reading -------------------------------------------------------------------------------------------------------


class Recycled(ProcessLookupError):
    """The pid now belongs to another process than the one expected."""


def read_dispositions(pid: int, start: int | None = None, proc_root: str = "/proc") -> Dispositions:
    """The dispositions of `pid` (if `start` is given, only while it is still the process that started then).

    Raises ProcessLookupError when it is gone (Recycled when the pid was reused), PermissionError when /proc
    hides it, OSError for anything else.
    """
    if pid <= 0:
        raise ProcessLookupError(f"pid {pid} is not a process")
    try:
        dir_fd = os.open(f"{proc_root}/{pid}", _DIR_FLAGS)
    except FileNotFoundError as exc:
        raise ProcessLookupError(f"no such process: {pid}") from exc
    try:
        return dispositions_at(pid, dir_fd, start)
    finally:
        os.close(dir_fd)


def dispositions_at(pid: int, dir_fd: int, start: int | None = None) -> Dispositions:
    """Like `read_dispositions`, through an open `/proc/PID` directory fd."""
    try:
        comm, state, _, started = _stat(pid, dir_fd)
        if start is not None and started != start:
            raise Recycled(f"pid {pid} is now a different process (started at tick {started}, not {start})")
        fields = parse_status(read_at(dir_fd, "status", _STATUS_LIMIT))
        disp = from_status(pid, started, comm, state, fields, _threads(dir_fd))
        if disp.blocked_everywhere:  # only a signal that stays pending can be read through a signalfd
            disp = replace(disp, signalfd=_signalfd_mask(dir_fd))
        _stat(pid, dir_fd)  # it exited while we read: the data may be half gone
    except FileNotFoundError as exc:
        raise ProcessLookupError(f"no such process: {pid}") from exc
    return disp


def _stat(pid: int, dir_fd: int) -> tuple[str, str, int, int]:
    parsed = parse_stat(read_once(dir_fd, "stat", 8192))
    if parsed is None:
        raise ProcessLookupError(f"no such process: {pid}")
    return parsed


def _threads(dir_fd: int) -> tuple[ThreadSignals, ...]:
    """Every thread's blocked and pending masks; threads that exit meanwhile are skipped."""
    task_fd = os.open("task", _DIR_FLAGS, dir_fd=dir_fd)
    try:
        out = []
        for name in sorted(os.listdir(task_fd), key=lambda n: (len(n), n)):
            if not name.isdigit():
                continue
            try:
                fields = parse_status(read_at(task_fd, f"{name}/status", _STATUS_LIMIT))
            except (FileNotFoundError, ProcessLookupError):
                continue
            out.append(thread_signals(int(name), fields, _sigwait_set(dir_fd, task_fd, name)))
        return tuple(out)
    finally:
        os.close(task_fd)


def _signalfd_mask(dir_fd: int) -> int:
    """The union of the masks of the process's signalfds (fdinfo `sigmask`); 0 when its fds are not readable."""
    mask = 0
    try:
        fd_dir = os.open("fd", _DIR_FLAGS, dir_fd=dir_fd)
    except OSError:
        return 0
    try:
        for name in os.listdir(fd_dir):
            try:
                if os.readlink(name, dir_fd=fd_dir) == "anon_inode:[signalfd]":
                    info = parse_fdinfo(read_once(dir_fd, f"fdinfo/{name}", 4096))
                    mask |= parse_mask(info.get("sigmask", "")) or 0
            except OSError:
                continue  # closed meanwhile
    except OSError:
        return 0
    finally:
        os.close(fd_dir)
    return mask & ((1 << 64) - 1)


def _sigwait_set(dir_fd: int, task_fd: int, tid: str) -> int:
    """The set a thread asleep in rt_sigtimedwait waits for (read from its memory, as the blocked-thread analysis
    does: sigset.read_sigset); 0 when it is not, or when the syscall file or the memory cannot be read."""
    try:
        state = parse_syscall(read_once(task_fd, f"{tid}/syscall", 256))
        if state is None or state.nr is None or syscall_name(table_for(), state.nr) != "rt_sigtimedwait":
            return 0
        mem_fd = os.open("mem", os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            return read_sigset(lambda address, size: os.pread(mem_fd, size, address), state.args[0], state.args[3]) or 0
        finally:
            os.close(mem_fd)
    except (OSError, OverflowError):
        return 0
