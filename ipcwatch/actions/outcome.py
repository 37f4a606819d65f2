"""What every action returns: a status, one human sentence, and optional data; actions never raise to callers.

Messages are RAW text (they may quote attacker-chosen names): every front end escapes them at the edge
(`ipcwatch.text.escape`), exactly like any other shown string.
"""

from __future__ import annotations

import errno
from enum import Enum

from ipcwatch.record import record

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any


class Status(Enum):
    DONE = "done"
    GONE = "already gone"
    DENIED = "permission denied"
    TIMED_OUT = "timed out"
    REFUSED = "refused"  # identity mismatch, read-only, in use without force, not supported for this object
    FAILED = "failed"


# CLI exit codes: 0 only when the action was done.
_EXIT_CODES = {Status.DONE: 0, Status.REFUSED: 3, Status.TIMED_OUT: 4}

_GONE_ERRNOS = frozenset({errno.EINVAL, errno.EIDRM, errno.ENOENT, errno.ESRCH})
_DENIED_ERRNOS = frozenset({errno.EPERM, errno.EACCES})


@record
class Outcome:
    status: Status
    message: str
    data: Any = None

    @property
    def ok(self) -> bool:
        return self.status is Status.DONE

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES.get(self.status, 1)

    def __str__(self) -> str:
        return self.message


def done(message: str, data: Any = None) -> Outcome:
    return Outcome(Status.DONE, message, data)


def refused(message: str) -> Outcome:
    return Outcome(Status.REFUSED, f"refused: {message}")


def failed(message: str) -> Outcome:
    return Outcome(Status.FAILED, f"failed: {message}")


def read_only_refusal(what: str) -> Outcome:
    return refused(f"read-only mode is on, so nothing is changed ({what})")


def from_oserror(exc: OSError, what: str, *, gone_errnos: frozenset[int] = _GONE_ERRNOS) -> Outcome:
    """Map an OSError from acting on `what` to an outcome: vanished objects, permissions, anything else."""
    reason = exc.strerror or str(exc)
    if exc.errno in gone_errnos:
        return Outcome(Status.GONE, f"{what}: already gone ({reason})")
    if exc.errno in _DENIED_ERRNOS:
        return Outcome(Status.DENIED, f"{what}: permission denied ({reason})")
    return failed(f"{what}: {reason}")
