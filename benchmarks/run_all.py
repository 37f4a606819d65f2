"""Run every benchmarks/bench_*.py in turn, each in its own process, passing the same options through.

    .venv/bin/python benchmarks/run_all.py             # every benchmark with its defaults
    .venv/bin/python benchmarks/run_all.py --runs 3    # options after the script name go to every benchmark

Exits non-zero only when a benchmark crashed; missed speed targets are reported by the benchmarks themselves.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _common import PYTHON, header, machine

HERE = Path(__file__).resolve().parent


def main() -> int:
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        return 0
    scripts = sorted(HERE.glob("bench_*.py"))
    print(f"run_all: {len(scripts)} benchmark(s); {machine()}", flush=True)
    failed = []
    for script in scripts:
        header(script.name)
        started = time.monotonic()
        code = subprocess.call([PYTHON, str(script), *sys.argv[1:]], cwd=HERE.parent)
        print(f"--- {script.name}: exit {code} after {time.monotonic() - started:.1f} s", flush=True)
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"run_all: crashed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
