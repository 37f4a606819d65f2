"""Benchmark `ipcwatch list` (JSON and tables) against `ipcs -a; ss -xap; lsof -n`, lsfd and the rest, side by side.

    .venv/bin/python benchmarks/bench_list.py                 # idle host, then ~1,000 of each kind over 200
                                                              # processes (9,000 objects), then ~5,000/1,000 (45,000)
    .venv/bin/python benchmarks/bench_list.py --runs 3 --sizes 1000x200 --profile 25

Prints median wall times with ratios, the peak RSS of `list --json`, what ipcwatch saw of the load per kind, the
in-process `scan()` time that separates interpreter start-up from scan work, and at the end every target of issue 12
as target / figure / MET or NOT met (never fails on them).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from _common import (
    IPCWATCH,
    PYTHON,
    Command,
    add_runs_argument,
    add_sizes_argument,
    header,
    machine,
    parse_sizes,
    print_table,
    start_load,
    time_call,
    time_commands,
)
from _procstat import COMBINATION
from loadgen import KINDS, Load

from ipcwatch.commands.list import write_snapshot_json
from ipcwatch.scan import scan

JSON, TABLE = "ipcwatch list --json", "ipcwatch list"
JSON_ARGV = (PYTHON, "-m", "ipcwatch", "list", "--json")
JSON_SHARE = 0.5  # `list --json` at most half the combination's time
TABLE_SLACK = 1.1  # the table output within 10 % of that
RSS_LIMIT_MB = 150.0  # peak RSS of `list` at 45,000 objects
IDLE_LIMIT = 0.080  # `list` end to end on an idle host


@dataclass
class Target:
    what: str
    figure: float | None
    limit: float | None
    unit: str = "s"

    def line(self) -> str:
        fmt = "{:.3f} s" if self.unit == "s" else "{:.0f} MB"
        figure = "-" if self.figure is None else fmt.format(self.figure)
        if self.limit is None:
            return f"  {self.what:<66}  {'-':>10}  {figure:>10}  {'no target' if self.figure else 'not measured'}"
        met = "not measured" if self.figure is None else "MET" if self.figure <= self.limit else "NOT met"
        return f"  {self.what:<66}  {fmt.format(self.limit):>10}  {figure:>10}  {met}"


def commands() -> list[Command]:
    return [
        Command(JSON, JSON_ARGV),
        Command(TABLE, (PYTHON, "-m", "ipcwatch", "list")),
        Command("ipcwatch (console script)", (IPCWATCH, "list", "--json")),
        Command("python -c pass", (PYTHON, "-c", "pass")),
        Command("ipcs -a", ("ipcs", "-a"), ("ipcs",)),
        Command("lsfd", ("lsfd",), ("lsfd",)),
        Command("ss -xap", ("ss", "-xap"), ("ss",)),
        Command("lsof -n", ("lsof", "-n"), ("lsof",)),
        Command.sh(COMBINATION, COMBINATION, ("ipcs", "ss", "lsof")),
    ]


def _is_load_object(obj: dict[str, Any], load: Load) -> bool:
    """Whether a JSON object from `ipcwatch list --json` is one the load created."""
    kind = obj["kind"]
    if kind.startswith("sysv-"):
        return obj["id"] in load.sysv_ids[kind]
    if kind.startswith("posix-"):
        return (obj["name"] or "").startswith(load.prefix)
    if kind == "fifo":
        return (obj["name"] or "").startswith(load.run_dir)
    pids = set(load.pids)  # pipes and sockets are anonymous or abstract: the load's are those its holders hold
    return any(h["pid"] in pids for h in obj["holders"])


def _load_json() -> list[dict[str, Any]] | None:
    out = subprocess.run(JSON_ARGV, capture_output=True, check=False, timeout=300)
    try:
        return json.loads(out.stdout)["objects"]
    except ValueError:
        print(f"  ipcwatch list --json printed no JSON (exit {out.returncode})")
        return None


def print_seen(load: Load) -> None:
    """Per kind: what the load created, what `ipcwatch list --json` reported, and the load's objects with holders."""
    objects = _load_json()
    if objects is None:
        return
    total, ours, held = Counter(), Counter(), Counter()
    pids = set(load.pids)
    for obj in objects:
        total[obj["kind"]] += 1
        if _is_load_object(obj, load):
            ours[obj["kind"]] += 1
            held[obj["kind"]] += any(h["pid"] in pids for h in obj["holders"])
    print("\n  what ipcwatch reports (SysV queues and semaphore sets have no holders by nature)")
    print(f"  {'kind':<10}  {'created':>8}  {'listed':>8}  {'of load':>8}  {'held by load':>12}")
    for kind in KINDS:
        print(f"  {kind:<10}  {load.counts[kind]:>8}  {total[kind]:>8}  {ours[kind]:>8}  {held[kind]:>12}")


# Started by a small helper process: Linux keeps ru_maxrss across exec, so a child forked from this benchmark (large
# after its in-process scans) would report this process's peak, not its own.
_RSS_HELPER = """import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(os.wait4(child.pid, 0)[2].ru_maxrss)
"""


def peak_rss_mb(argv: tuple[str, ...], runs: int) -> float:
    """The median peak RSS (MB) of `runs` runs of argv, output discarded (wait4's ru_maxrss)."""
    peaks = []
    for _ in range(runs):
        helper = (PYTHON, "-c", _RSS_HELPER, *argv)
        out = subprocess.run(helper, capture_output=True, text=True, check=True, timeout=300)
        peaks.append(int(out.stdout) / 1024)
    return sorted(peaks)[len(peaks) // 2]


def profile_scan(top: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(scan)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    print("\n  cProfile of one scan(), by own time:")
    print("\n".join("  " + line for line in text.getvalue().splitlines() if line.strip()))


def bench_idle(runs: int) -> list[Target]:
    """`list` on the host as it is (no load): the end-to-end floor that interpreter start-up and imports set."""
    header("idle host (no load)")
    objects = _load_json()
    print(f"  ipcwatch lists {len(objects) if objects is not None else '?'} objects")
    timings = time_commands(commands()[:2] + [Command.sh(COMBINATION, COMBINATION, ("ipcs", "ss", "lsof"))], runs)
    print_table(f"wall time, median of {runs} (round-robin)", timings, reference=JSON)
    return [
        Target("idle: `list --json` under 80 ms", timings[JSON].median, IDLE_LIMIT),
        Target("idle: `list` (tables) under 80 ms", timings[TABLE].median, IDLE_LIMIT),
    ]


def _scan_and_write() -> None:
    """What `list --json` does after start-up: scan, then write the document (to /dev/null) with its own writer."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        snapshot = scan()
        write_snapshot_json(snapshot, snapshot.objects)


def bench_size(per_kind: int, processes: int, runs: int, profile: int) -> list[Target]:
    load = start_load(per_kind, processes)
    if load is None:
        return []
    size = f"{sum(load.counts.values()):,} objects"
    try:
        print_seen(load)
        in_process = [
            time_call("scan() in-process", scan, runs),
            time_call("scan() + list's JSON writer", _scan_and_write, runs),
        ]
        timings = time_commands(commands(), runs)
        rss = peak_rss_mb(JSON_ARGV, runs)
        if profile:
            profile_scan(profile)
    finally:
        load.close()
    print_table(f"wall time, median of {runs} (round-robin)", list(timings.values()) + in_process, reference=JSON)
    print(f"  peak RSS of `{JSON}`: {rss:.0f} MB (median of {runs})")
    combination = timings[COMBINATION].median
    json_limit = None if combination is None else combination * JSON_SHARE
    targets = [
        Target(f"{size}: `list --json` at most 0.5x `{COMBINATION}`", timings[JSON].median, json_limit),
        Target(f"{size}: `list` within 10 % of that", timings[TABLE].median, json_limit and json_limit * TABLE_SLACK),
    ]
    if per_kind * len(KINDS) >= 40_000:
        targets.append(Target(f"{size}: peak RSS of `list --json` under 150 MB", rss, RSS_LIMIT_MB, "MB"))
    else:
        targets.append(Target(f"{size}: peak RSS of `list --json`", rss, None, "MB"))
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runs_argument(parser)
    add_sizes_argument(parser)
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="also print the TOP cProfile rows")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle-host measurement")
    args = parser.parse_args()
    print(f"bench_list: {machine()}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set: modules without a cached .pyc are compiled at every start")
    targets = [] if args.no_idle else bench_idle(args.runs)
    for per_kind, processes in parse_sizes(args.sizes):
        targets += bench_size(per_kind, processes, args.runs, args.profile)
    print(f"\ntargets (issue 12), median of {args.runs}")
    print(f"  {'target':<66}  {'limit':>10}  {'figure':>10}  verdict")
    for target in targets:
        print(target.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
