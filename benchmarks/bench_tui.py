"""Dashboard responsiveness: scan-apply cost at 10,000 objects / 1,000 processes, and key latency during scans.

Run: .venv/bin/python benchmarks/bench_tui.py  (prints figures; asserts nothing)

1. build_rows (scan thread) and apply (UI thread) for a synthetic 10k-object snapshot: first fill, then a diff
   where ~1% of objects were replaced and ~2% changed size.
2. Key latency: while scans run back to back in the worker (synthetic 10k, then the real host), send `down`
   and time until the table has moved its cursor (the next frame then paints it); compared with polling paused.
3. A real scan of this host, next to `ipcs -a` and `lsipc` for scale.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events  # noqa: E402

from ipcwatch.scan import Snapshot, scan  # noqa: E402
from ipcwatch.tui.app import IpcwatchApp  # noqa: E402
from ipcwatch.tui.widgets.rows import build_rows  # noqa: E402
from tests.tui_fixtures import synthetic_snapshot  # noqa: E402

SIZE = (120, 40)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


async def apply_costs() -> None:
    first, second = synthetic_snapshot(salt=0), synthetic_snapshot(salt=7)
    t_build, rows1 = timed(lambda: build_rows(first))
    rows2 = build_rows(second)
    print(f"build_rows, 10k objects / 1k processes (scan thread): {t_build * 1000:.0f} ms")
    app = IpcwatchApp(lambda: Snapshot((), {}), interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        while app.dashboard.rows is None:
            await pilot.pause(0.05)
        app.paused = True
        for label, rows in (
            ("first fill of the All view", rows1),
            ("diff apply, ~1% replaced", rows2),
            ("diff apply, nothing changed", rows2),
        ):
            t, _ = timed(lambda rows=rows: app.apply(rows))  # type: ignore[misc]
            await pilot.pause()
            print(f"apply on the UI thread, {label}: {t * 1000:.0f} ms")
        for view in ("1", "processes"):
            start = time.perf_counter()
            await pilot.press(view if view != "processes" else "p")
            await pilot.pause()
            print(f"switch to view {view} (lazy fill): {(time.perf_counter() - start) * 1000:.0f} ms")


async def key_latency(label: str, scanner: Callable[[], Snapshot], paused: bool = False) -> None:
    app = IpcwatchApp(scanner, interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        while app.dashboard.rows is None:
            await pilot.pause(0.05)
        app.paused = paused
        table = app.dashboard.table("all")
        table.focus()
        await pilot.pause()
        samples, during_scan = [], 0
        for _ in range(40):
            await pilot.pause(0.05)
            during_scan += app.scanning
            before = table.cursor_row
            start = time.perf_counter()
            app.post_message(events.Key("down", None) if before < table.row_count - 1 else events.Key("home", None))
            deadline = start + 2
            while table.cursor_row == before and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            if table.cursor_row != before:  # the row count can change under the key on a live host
                samples.append(time.perf_counter() - start)
            await pilot.pause()
        samples.sort()
        print(
            f"key latency ({label}): median {statistics.median(samples) * 1000:.0f} ms, "
            f"p95 {samples[max(0, int(len(samples) * 0.95) - 1)] * 1000:.0f} ms, max {samples[-1] * 1000:.0f} ms "
            f"({len(samples)} keys measured, {during_scan}/40 sent while a scan was running)"
        )


def slow_synthetic() -> Callable[[], Snapshot]:
    salt = [0]

    def scanner() -> Snapshot:
        salt[0] += 1
        return synthetic_snapshot(salt=salt[0] % 2)

    return scanner


def external(cmd: list[str]) -> float | None:
    if not shutil.which(cmd[0]):
        return None
    t, _ = timed(lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False))
    return t


def real_scan() -> None:
    t, snap = timed(scan)
    assert isinstance(snap, Snapshot)
    tb, _ = timed(lambda: build_rows(snap))
    print(
        f"real scan of this host: {t * 1000:.0f} ms for {len(snap.objects)} objects, "
        f"{len(snap.processes)} processes; build_rows {tb * 1000:.0f} ms"
    )
    for cmd in (["ipcs", "-a"], ["lsipc"]):
        other = external(cmd)
        if other is not None:
            print(
                f"  {' '.join(cmd)}: {other * 1000:.0f} ms (ipcwatch scan = {t / other:.1f}x; it also reads "
                "every process's fds and maps)"
            )


async def main() -> None:
    await apply_costs()
    await key_latency("synthetic 10k, polling paused", slow_synthetic(), paused=True)
    await key_latency("synthetic 10k scans back to back", slow_synthetic())
    await key_latency("real host scans back to back", scan)
    real_scan()


if __name__ == "__main__":
    asyncio.run(main())
