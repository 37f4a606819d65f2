"""Shared helpers for benchmarks/bench_*.py: time commands side by side, time calls, print tables with ratios.

Benchmarks print figures and whether a target is met; they never fail on speed (only on a crash).

    from _common import Command, add_runs_argument, print_table, time_commands, verdict
    timings = time_commands([Command("ipcwatch", (PYTHON, "-m", "ipcwatch", "list")), Command.sh("ipcs", "ipcs -a")],
                            runs=5)
    print_table("list, 1,000 objects", timings, reference="ipcwatch")
    verdict("ipcwatch under 0.25 s", timings["ipcwatch"].median, 0.25)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loadgen import Load, LoadError

REPO = Path(__file__).resolve().parent.parent
_VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON) if _VENV_PYTHON.exists() else sys.executable
IPCWATCH = str(REPO / ".venv" / "bin" / "ipcwatch")  # the console script
COMMAND_TIMEOUT = 300.0


@dataclass(frozen=True)
class Command:
    """Something to time: an argv, or a shell script with `Command.sh`. `needs` are tools that must exist."""

    label: str
    argv: tuple[str, ...]
    needs: tuple[str, ...] = ()

    @classmethod
    def sh(cls, label: str, script: str, needs: Iterable[str] = ()) -> Command:
        return cls(label, ("/bin/sh", "-c", script), tuple(needs))

    def missing(self) -> list[str]:
        return [tool for tool in self.needs if shutil.which(tool) is None]


@dataclass
class Timing:
    """Wall times of one command or call, in seconds; `note` says when it failed or exited non-zero."""

    label: str
    runs: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def best(self) -> float | None:
        return min(self.runs) if self.runs else None


def add_runs_argument(parser: argparse.ArgumentParser, default: int = 5) -> None:
    parser.add_argument("--runs", type=int, default=default, metavar="N", help=f"timed runs per command ({default})")


DEFAULT_SIZES = "1000x200,5000x1000"


def add_sizes_argument(parser: argparse.ArgumentParser, default: str | None = DEFAULT_SIZES) -> None:
    shown = default or DEFAULT_SIZES
    parser.add_argument("--sizes", default=default, help=f"comma-separated PER_KINDxPROCESSES ({shown})")


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """`1000x200,5000x1000` -> [(1000, 200), (5000, 1000)]: objects of each kind, holder processes."""
    sizes = []
    for item in filter(None, text.split(",")):
        per_kind, _, processes = item.partition("x")
        sizes.append((int(per_kind), int(processes)))
    return sizes


def run_once(argv: tuple[str, ...]) -> tuple[float, int]:
    """(wall seconds, exit code) of one run, output discarded.

    The wait is a blocking waitpid with a watchdog thread for the time limit: `subprocess.run(timeout=...)`
    polls with sleeps of up to 50 ms, which put every figure on a 50 ms grid.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(COMMAND_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        code = proc.wait()
    finally:
        watchdog.cancel()
    elapsed = time.perf_counter() - started
    if elapsed >= COMMAND_TIMEOUT:
        raise subprocess.TimeoutExpired(argv, COMMAND_TIMEOUT)
    return elapsed, code


def time_commands(commands: Iterable[Command], runs: int, warmup: int = 1) -> dict[str, Timing]:
    """Time every command `runs` times, round-robin (one run of each, then the next round), so that load from
    other work on the machine falls on all of them alike. `warmup` untimed rounds fill the page cache first."""
    timings: dict[str, Timing] = {}
    usable: list[Command] = []
    for command in commands:
        timings[command.label] = Timing(command.label)
        missing = command.missing()
        if missing:
            timings[command.label].note = f"not installed: {', '.join(missing)}"
        else:
            usable.append(command)
    for round_no in range(warmup + runs):
        for command in usable:
            timing = timings[command.label]
            try:
                seconds, code = run_once(command.argv)
            except (OSError, subprocess.TimeoutExpired) as exc:
                timing.note = f"failed: {exc}"
                continue
            if code != 0:
                timing.note = f"exit {code}"
            if round_no >= warmup:
                timing.runs.append(seconds)
    return timings


def time_call(label: str, fn: Callable[[], object], runs: int, warmup: int = 1) -> Timing:
    """Wall time of an in-process call."""
    timing = Timing(label)
    for round_no in range(warmup + runs):
        started = time.perf_counter()
        fn()
        if round_no >= warmup:
            timing.runs.append(time.perf_counter() - started)
    return timing


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_table(title: str, timings: Mapping[str, Timing] | Iterable[Timing], reference: str | None = None) -> None:
    """Median, best, and the ratio of each median to the reference's (`3.0x` = three times as long)."""
    rows = list(timings.values()) if isinstance(timings, Mapping) else list(timings)
    ref = next((t.median for t in rows if t.label == reference), None)
    width = max([len(t.label) for t in rows] + [7])
    print(f"\n{title}" + (f" (ratio: median / median of {reference})" if ref else ""))
    print(f"  {'command':<{width}}  {'median s':>9}  {'best s':>8}  {'ratio':>8}  runs")
    for t in rows:
        ratio = f"{t.median / ref:.2f}x" if ref and t.median is not None else ""
        note = f"  ({t.note})" if t.note else ""
        print(f"  {t.label:<{width}}  {_seconds(t.median):>9}  {_seconds(t.best):>8}  {ratio:>8}  {len(t.runs)}{note}")


def verdict(what: str, value: float | None, limit: float | None) -> bool:
    """Print whether `value` (seconds) is under `limit`; never raises, never exits."""
    if value is None or limit is None:
        print(f"  target {what}: not measured")
        return False
    met = value < limit
    print(f"  target {what}: {'MET' if met else 'NOT met'} ({value:.3f} s vs {limit:.3f} s)")
    return met


def header(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def machine() -> str:
    """A one-line description of the machine, printed at the top of each benchmark."""
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f}, Python {sys.version.split()[0]}, {os.uname().release}"


def start_load(per_kind: int, processes: int) -> Load | None:
    """The load generator's load for one size, under a header; None (and why) when it cannot be made. The caller
    closes it."""
    header(f"{per_kind:,} objects of each kind over {processes:,} processes")
    try:
        load = Load(per_kind=per_kind, processes=processes, log=True)
        load.start()
    except LoadError as exc:
        print(f"  could not create the load: {exc}")
        return None
    print(f"  load ready in {load.setup_seconds:.1f} s ({sum(load.counts.values()):,} objects)")
    return load
