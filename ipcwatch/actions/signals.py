"""Send a signal to exactly the process the user saw: pidfd_open, re-check the start time, pidfd_send_signal.

A pid recycled before pidfd_open shows a different start time (refused); one recycled after it leaves our pidfd
pointing at the dead original, so the signal fails with ESRCH instead of reaching the newcomer.
"""

from __future__ import annotations

import errno
import os
import signal

from ipcwatch.actions.outcome import Outcome, Status, done, failed, from_oserror, read_only_refusal, refused
from ipcwatch.record import record
from ipcwatch.scan.dispositions import Dispositions, Recycled, read_dispositions
from ipcwatch.scan.model import Process
from ipcwatch.scan.procs import process_at
from ipcwatch.scan.sigset import signal_number


@record
class SignalChoice:
    name: str
    number: int
    meaning: str


SIGNALS: tuple[SignalChoice, ...] = (
    SignalChoice("TERM", signal.SIGTERM, "ask it to terminate (it may clean up; the default)"),
    SignalChoice("KILL", signal.SIGKILL, "kill it at once (no clean-up, cannot be caught)"),
    SignalChoice("HUP", signal.SIGHUP, "hang-up: daemons often reload their configuration"),
    SignalChoice("INT", signal.SIGINT, "interrupt, like Ctrl-C"),
    SignalChoice("QUIT", signal.SIGQUIT, "quit and dump core, like Ctrl-\\"),
    SignalChoice("STOP", signal.SIGSTOP, "freeze it (cannot be caught; CONT resumes it)"),
    SignalChoice("CONT", signal.SIGCONT, "resume a stopped process"),
    SignalChoice("USR1", signal.SIGUSR1, "user-defined signal 1 (meaning depends on the program)"),
    SignalChoice("USR2", signal.SIGUSR2, "user-defined signal 2 (meaning depends on the program)"),
)
DEFAULT_SIGNAL = "TERM"


def signal_named(name: str) -> SignalChoice | None:
    """TERM, SIGTERM, term or 15 -> the offered signal; None for anything else."""
    num = signal_number(name)
    return next((c for c in SIGNALS if c.number == num), None)


def start_time(pid: int, proc_root: str = "/proc") -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), None when the process is gone or unreadable."""
    process = process_at(pid, proc_root)
    return None if process is None else process.start


def parse_expect(expect: str) -> tuple[int, int] | None:
    """`PID@START` -> (pid, start); None when malformed."""
    pid, sep, start = expect.partition("@")
    if not sep or not pid.isdigit() or not start.isdigit():
        return None
    return int(pid), int(start)


def send_signal(pid: int, name: str = DEFAULT_SIGNAL, *, expect: str | None = None, read_only: bool = False) -> Outcome:
    """Send signal `name` to `pid`, only if its start time still matches `expect` (`PID@START`, when given)."""
    choice = signal_named(name)
    what = f"send SIG{choice.name if choice else name} to pid {pid}"
    if read_only:
        return read_only_refusal(what)
    if choice is None:
        return refused(f"unknown signal {name!r}; offered: {', '.join(s.name for s in SIGNALS)}")
    if pid <= 0:
        return refused(f"pid {pid} is not a single process (pid must be > 0)")
    expected_start = None
    if expect is not None:
        parsed = parse_expect(expect)
        if parsed is None or parsed[0] != pid:
            return refused(f"--expect must be {pid}@START (the pid and its start time), not {expect!r}")
        expected_start = parsed[1]
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as exc:
        return from_oserror(exc, what)
    try:
        started = start_time(pid)
        if started is None:
            return Outcome(Status.GONE, f"{what}: already gone")
        if expected_start is not None and started != expected_start:
            return refused(
                f"pid {pid} is now a different process (started at tick {started}, expected {expected_start}); "
                "it was not signalled"
            )
        signal.pidfd_send_signal(pidfd, choice.number)
    except OSError as exc:
        return from_oserror(exc, what, gone_errnos=frozenset({errno.ESRCH}))
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"{what}: {exc}")
    finally:
        os.close(pidfd)
    return done(f"sent SIG{choice.name} to pid {pid} (started at tick {started})", f"{pid}@{started}")


def process_info(pid: int, proc_root: str = "/proc") -> Process | None:
    """The process now behind `pid` (what a confirmation shows); None when gone or pid <= 0."""
    return process_at(pid, proc_root)


def dispositions_of(pid: int, start: int) -> Dispositions | str:
    """The signal state of `pid` while it is still the process that started at `start`, or why it cannot be read
    (raw text)."""
    try:
        return read_dispositions(pid, start)
    except Recycled:
        return f"pid {pid} is now a different process"
    except ProcessLookupError:
        return f"pid {pid} has exited"
    except PermissionError:
        return "its signal state is not readable (permission denied)"
    except OSError as exc:
        return f"its signal state is not readable ({exc.strerror or exc})"


def forecast(choice: SignalChoice, state: Dispositions | str) -> str:
    """`SIGTERM: ignored by this process — nothing will happen`, or why that cannot be told."""
    if isinstance(state, str):
        return f"SIG{choice.name}: cannot tell what it will do: {state}"
    return state.verdict(int(choice.number)).line
