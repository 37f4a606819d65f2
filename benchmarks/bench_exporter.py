"""Benchmark `ipcwatch exporter`: wall and CPU time per scrape under a loadgen load, and 10 concurrent scrapes.

    .venv/bin/python benchmarks/bench_exporter.py                      # 1,000 of each kind (9,000), then 5,000 (45,000)
    .venv/bin/python benchmarks/bench_exporter.py --sizes 1000x200 --runs 5

For each size: a scrape that scans (cache expired), a scrape served from the cache, and 10 scrapes sent at once to
a freshly started exporter, which must share one scan (the exporter's own ipcwatch_scans_total says how many ran).
CPU time is the exporter process's (user + system), read from psutil around each scrape. Never fails on speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psutil
from _common import PYTHON, REPO, add_runs_argument, add_sizes_argument, machine, parse_sizes, start_load
from prometheus_client.parser import text_string_to_metric_families

CONCURRENT = 10


@contextmanager
def exporter(max_age: float, budget: float = 300.0) -> Iterator[tuple[psutil.Process, str]]:
    """`ipcwatch exporter` on a free loopback port: (its process, its /metrics URL); stopped with SIGTERM."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "ipcwatch", "exporter", "--listen", "127.0.0.1:0", "--max-age", str(max_age),
         "--scan-budget", str(budget)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        if "serving " not in line:
            raise RuntimeError(f"the exporter did not start: {line!r}")
        yield psutil.Process(proc.pid), line.split("serving ", 1)[1].split(" ", 1)[0]
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=600) as response:
        return response.read().decode()


def cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def value(text: str, name: str) -> float:
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            if sample.name == name and not sample.labels:
                return sample.value
    return float("nan")


def timed_scrapes(url: str, process: psutil.Process, runs: int, pause: float) -> tuple[list[float], list[float], str]:
    """(wall seconds, exporter CPU seconds, last body) of `runs` scrapes, `pause` seconds apart."""
    walls, cpus, body = [], [], ""
    for _ in range(runs):
        time.sleep(pause)
        cpu0, started = cpu(process), time.perf_counter()
        body = scrape(url)
        walls.append(time.perf_counter() - started)
        cpus.append(cpu(process) - cpu0)
    return walls, cpus, body


def concurrent_round(max_age: float) -> tuple[float, float, float]:
    """(wall seconds for all 10, exporter CPU seconds, scans run) for 10 scrapes sent at once to a fresh exporter."""
    with exporter(max_age) as (process, url):
        gate = threading.Barrier(CONCURRENT)

        def one() -> str:
            gate.wait()
            return scrape(url)

        cpu0, started = cpu(process), time.perf_counter()
        with ThreadPoolExecutor(CONCURRENT) as pool:
            bodies = list(pool.map(lambda _: one(), range(CONCURRENT)))
        wall = time.perf_counter() - started
        used = cpu(process) - cpu0
        scans = value(scrape(url), "ipcwatch_scans_total")  # served from the same cache: no scan of its own
    assert all("ipcwatch_objects" in b for b in bodies)
    return wall, used, scans


def line(label: str, walls: list[float], cpus: list[float]) -> None:
    print(
        f"  {label:<38} wall median {statistics.median(walls):7.3f} s (best {min(walls):.3f})"
        f"   CPU median {statistics.median(cpus):7.3f} s   runs {len(walls)}"
    )


def bench_size(per_kind: int, processes: int, runs: int) -> None:
    load = start_load(per_kind, processes)
    if load is None:
        return
    try:
        with exporter(max_age=0.001) as (process, url):
            scrape(url)  # warm-up: imports, page cache
            walls, cpus, body = timed_scrapes(url, process, runs, pause=0.01)
            line("scrape that scans (cache expired)", walls, cpus)
            objects = sum(
                s.value for f in text_string_to_metric_families(body) for s in f.samples if s.name == "ipcwatch_objects"
            )
            print(
                f"    {objects:,.0f} objects seen; scan {value(body, 'ipcwatch_scan_duration_seconds'):.3f} s; "
                f"{len(body):,} bytes, {body.count(chr(10)):,} lines of exposition"
            )
        with exporter(max_age=3600) as (process, url):
            scrape(url)
            walls, cpus, _ = timed_scrapes(url, process, runs, pause=0.01)
            line("scrape served from the cache", walls, cpus)
        rounds = [concurrent_round(max_age=3600) for _ in range(runs)]
        line(f"{CONCURRENT} concurrent scrapes, fresh exporter", [r[0] for r in rounds], [r[1] for r in rounds])
        print(f"    scans run for {CONCURRENT} concurrent scrapes, per round: {[int(r[2]) for r in rounds]}")
    finally:
        load.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runs_argument(parser)
    add_sizes_argument(parser)
    args = parser.parse_args()
    print(f"bench_exporter: {machine()}")
    if os.geteuid() != 0:
        print("note: not root: the exporter sees only this user's processes' holders and waits")
    for per_kind, processes in parse_sizes(args.sizes):
        bench_size(per_kind, processes, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
