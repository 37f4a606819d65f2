"""Details of one process for the dashboard's process view, through psutil (CPU, memory, threads, state).

The scan's own /proc pass gives identity (pid + start ticks); psutil is asked only about the process the user
selected, and its answer is dropped if the pid now belongs to another process (start time differs).
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from ipcwatch.scan.procs import start_epoch

# psutil derives create_time from the same start ticks; allow rounding between the two conversions
_START_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class ProcessDetails:
    pid: int
    status: str
    started: float  # seconds since the epoch
    threads: int
    rss: int
    cpu_percent: float
    cwd: str | None
    exe: str | None
    username: str


def process_details(pid: int, start_ticks: int) -> ProcessDetails | None:
    """Details of `pid` if it is still the process that started at `start_ticks`; None if it is gone."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            started = proc.create_time()
            if abs(started - start_epoch(start_ticks)) > _START_TOLERANCE:
                return None  # the pid was recycled
            info = proc.as_dict(["status", "num_threads", "memory_info", "username"], ad_value=None)
            cwd = _maybe(proc.cwd)
            exe = _maybe(proc.exe)
            cpu = proc.cpu_percent(interval=None)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    memory = info["memory_info"]
    return ProcessDetails(
        pid=pid,
        status=info["status"] or "?",
        started=started,
        threads=info["num_threads"] or 0,
        rss=memory.rss if memory else 0,
        cpu_percent=cpu,
        cwd=cwd,
        exe=exe,
        username=info["username"] or "?",
    )


def _maybe(call) -> str | None:
    try:
        return call() or None
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
        return None
