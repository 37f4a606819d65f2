"""The /proc pass in a thread of its own, and started early: `list` starts it as the command starts, while the
interpreter is still importing the scan (the pass is one native call that releases the GIL throughout), and the scan
takes it when it asks for the very same call; any other call is read as usual.

    Background(fn, *args)      fn(*args) in a thread of its own: .wait(), .result()
    start_early(args)          read_processes(*args) from now on; `early_args()` are the default scan's arguments
    take(args)                 that Background when `args` are the ones it was started with, else None
"""

from __future__ import annotations

import _thread
import os
from collections.abc import Callable

from ipcwatch.native.procfd import ANON_DEVS, MAPS_FALLBACK, read_processes

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

PROC_ROOT, SHM_DIR, MQUEUE_DIR = "/proc", "/dev/shm", "/dev/mqueue"  # the scan's defaults (ScanConfig)


class Background:  # of T (no Generic base: typing is not imported at run time)
    """fn(*args) in a thread of its own; `result` waits for it and returns its value or raises its exception.
    Started through _thread: importing threading would cost a headless command 0.65 ms of start-up. When no thread
    can be started (pids.max or RLIMIT_NPROC reached, as in a crowded container), fn runs here, at once."""

    def __init__(self, fn: Callable[..., T], *args: object) -> None:
        self._value: T | BaseException | None = None
        self._done = _thread.allocate_lock()
        self._done.acquire()  # released by the thread once its value is set
        try:
            _thread.start_new_thread(self._run, (fn, args))
        except RuntimeError:  # "can't start new thread"
            self._run(fn, args)

    def _run(self, fn: Callable[..., T], args: tuple) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
            self._value = exc
        finally:
            self._done.release()

    def wait(self) -> None:
        """Until fn has returned or raised (the thread has nothing left to do)."""
        with self._done:  # waits for the thread the first time, returns at once after
            pass

    def result(self) -> T:
        self.wait()
        if isinstance(self._value, BaseException):
            raise self._value
        return self._value  # type: ignore[return-value]


def dev_of(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def fs_type(path: str) -> str | None:
    """The filesystem type mounted at `path`, from /proc/self/mounts (last mount wins)."""
    found = None
    try:
        with open("/proc/self/mounts", "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and os.fsdecode(parts[1]) == path:
                    found = os.fsdecode(parts[2])
    except OSError:
        return None
    return found


def early_args() -> tuple:
    """read_processes' arguments for a scan of every kind with the default paths, its waiters sampled: the pass
    starts before discovery, keeping the files of its own /dev/shm and /dev/mqueue and of every anonymous device."""
    mqueue = dev_of(MQUEUE_DIR) if fs_type(MQUEUE_DIR) == "mqueue" else None
    devs = frozenset(d for d in (dev_of(SHM_DIR), mqueue, ANON_DEVS) if d is not None)
    return (PROC_ROOT, devs, MAPS_FALLBACK, True, True)


_early: tuple[tuple, Background] | None = None


def start_early(args: tuple) -> None:
    """read_processes(*args) in a thread from now on, for the scan to `take`."""
    global _early
    _early = (args, Background(read_processes, *args))


def take(args: tuple) -> Background | None:
    """The pass started early when it is read_processes(*args), else None (one scan takes it, once)."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    if early[0] != args:
        early[1].wait()  # never a thread left running behind the scan
        return None
    return early[1]
