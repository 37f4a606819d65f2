"""Wait for a long-running command's end: a stop signal (HUP, TERM, INT, QUIT), end of input, or a deadline.

The handlers only note the signal; `signal.set_wakeup_fd` wakes a `select` in the main thread that also watches
fd 0 for end of input, so no thread ever sits blocked in a read (a daemon thread blocked reading stdin aborts the
interpreter at shutdown) and a signal can never interrupt the cleanup that follows.
"""

from __future__ import annotations

import os
import select
import signal
import time
from types import FrameType, TracebackType

STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


class StopSignals:
    """`with StopSignals() as stop: ... reason = stop.wait(seconds, stdin=True)`; use from the main thread only.

    A stop signal that arrives at any time inside the block (even before `wait`) is kept in `received`, and makes
    `wait` return at once. The previous handlers and wake-up fd are restored on exit.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._pipe: tuple[int, int] | None = None
        self._old_fd = -1
        self._old: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        self._pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_fd = signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False)
        self._old = {sig: signal.signal(sig, self._note) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_fd)
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum

    @property
    def signal_name(self) -> str | None:
        return None if self.received is None else signal.Signals(self.received).name

    def wait(self, seconds: float | None = None, *, stdin: bool = False) -> str:
        """Block until a stop signal, end of input on fd 0 (with `stdin`) or `seconds`; say which (raw text)."""
        assert self._pipe is not None, "wait() outside the with block"
        wake = self._pipe[0]
        watch = [wake, 0] if stdin else [wake]
        deadline = None if seconds is None else time.monotonic() + seconds
        while self.received is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return f"{seconds:g} s passed"
            try:
                ready = select.select(watch, [], [], left)[0]
            except (OSError, ValueError):  # fd 0 closed under us: stop watching it
                watch = [wake]
                continue
            if wake in ready:
                _drain(wake)
            if 0 in ready and not _read_some(0):
                return "end of input"
        return str(self.signal_name)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _read_some(fd: int) -> bool:
    """Read and drop what is waiting on `fd`; False at end of input (or when the terminal is gone: EIO)."""
    try:
        return bool(os.read(fd, 4096))
    except BlockingIOError:
        return True
    except OSError:
        return False
