"""Benchmark `ipcwatch list --json` against ipcs, lsfd, ss and lsof under a loadgen load of every kind.

    .venv/bin/python benchmarks/bench_list.py                 # ~1,000 of each over 200 processes, then ~5,000/1,000
    .venv/bin/python benchmarks/bench_list.py --runs 3 --sizes 1000x200 --profile 25

Prints median wall times with ratios, whether the targets are met (never fails on them), what ipcwatch saw of
the load per kind, and the in-process `scan()` time that separates interpreter start-up from scan work.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
from collections import Counter
from typing import Any

from _common import (
    IPCWATCH,
    PYTHON,
    Command,
    add_runs_argument,
    add_sizes_argument,
    machine,
    parse_sizes,
    print_table,
    start_load,
    time_call,
    time_commands,
    verdict,
)
from loadgen import KINDS, Load

from ipcwatch.scan import scan

COMBINATION = "ipcs -a; ss -xap; lsof -n"


def commands() -> list[Command]:
    return [
        Command("ipcwatch list --json", (PYTHON, "-m", "ipcwatch", "list", "--json")),
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


def print_seen(load: Load) -> None:
    """Per kind: what the load created, what `ipcwatch list --json` reported, and the load's objects with holders."""
    out = subprocess.run((PYTHON, "-m", "ipcwatch", "list", "--json"), capture_output=True, check=False, timeout=300)
    try:
        objects = json.loads(out.stdout)["objects"]
    except ValueError:
        print(f"  ipcwatch list --json printed no JSON (exit {out.returncode})")
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


def profile_scan(top: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(scan)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    print("\n  cProfile of one scan(), by own time:")
    print("\n".join("  " + line for line in text.getvalue().splitlines() if line.strip()))


def bench_size(per_kind: int, processes: int, runs: int, profile: int) -> None:
    load = start_load(per_kind, processes)
    if load is None:
        return
    try:
        print_seen(load)
        in_process = [
            time_call("scan() in-process", scan, runs),
            time_call("scan() + to_json + dumps", lambda: json.dumps(scan().to_json()), runs),
        ]
        timings = time_commands(commands(), runs)
        if profile:
            profile_scan(profile)
    finally:
        load.close()
    print_table(
        f"wall time, median of {runs} (round-robin)",
        list(timings.values()) + in_process,
        reference="ipcwatch list --json",
    )
    ours = timings["ipcwatch list --json"].median
    combination = timings[COMBINATION].median
    lsfd = timings["lsfd"].median
    verdict(f"ipcwatch faster than `{COMBINATION}`", ours, combination)
    verdict("ipcwatch under half of lsfd", ours, None if lsfd is None else lsfd / 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runs_argument(parser)
    add_sizes_argument(parser)
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="also print the TOP cProfile rows")
    args = parser.parse_args()
    print(f"bench_list: {machine()}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set: modules without a cached .pyc are compiled at every start")
    for per_kind, processes in parse_sizes(args.sizes):
        bench_size(per_kind, processes, args.runs, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
