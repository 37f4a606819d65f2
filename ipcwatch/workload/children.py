"""Child processes a workload starts (holders, producers, waiters): started, their READY line awaited with what they
printed before it, then killed and reaped. The one start/READY/stop protocol of the demo and the test fixtures."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterable, Sequence

from ipcwatch.record import field, record

READY = "READY"


class ChildError(RuntimeError):
    """A child exited, or took too long, before it said READY."""


@record(frozen=False)
class Child:
    """A started child; `lines` are what it printed before READY."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 20.0, *, keep_stdout: bool = False) -> list[str]:
        """Read up to the READY line; return the lines before it. Closes our end of its stdout unless told to keep
        it (one more pipe it would otherwise hold)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            line = self.proc.stdout.readline()
            if line.strip() == READY:
                if not keep_stdout:
                    self.proc.stdout.close()
                return self.lines
            if not line and self.proc.poll() is not None:
                raise ChildError(f"child exited with {self.proc.returncode} before {READY}; printed {self.lines!r}")
            if line:
                self.lines.append(line.rstrip("\n"))
            if time.monotonic() > deadline:
                raise ChildError(f"child was not {READY} after {timeout:g} s; printed {self.lines!r}")

    def stop(self) -> None:
        """Kill (if still running) and reap it; close our ends of its pipes. Idempotent."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def start(
    argv: Sequence[str], *, pass_fds: Iterable[int] = (), stdin: bool = False, new_session: bool = False
) -> Child:
    """Start `argv` with its stdout a pipe to us (and its stdin one too, with `stdin`; else /dev/null)."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        errors="replace",
        pass_fds=tuple(pass_fds),
        start_new_session=new_session,
    )
    return Child(proc)
