"""Churn soak: IPC objects of every kind and short-lived holder processes churn while the real dashboard runs in a
tmux pty (120x40); keys drive its views, filter, detail and hex views, and its actions race replacements.

    .venv/bin/python benchmarks/soak.py --minutes 10 [--seed N] [--json]

Reports dashboard crashes and tracebacks, actions that touched a replaced object, the dashboard's RSS growth and
what the soak left in the kernel afterwards; exits 1 when a target is missed (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from soak_objects import (
    POSIX,
    STOP_SIGNALS,
    SYSV,
    TAG,
    Interrupted,
    Obj,
    Objects,
    churn,
    eventually,
    fork_child,
    kernel_stamp,
    leftovers,
    queued,
    sem_value,
)
from soak_term import LOST, Term, quit_dashboard, rss_kb

from ipcwatch.text import escape

VIEW_KEYS = (*"0123456789pw[]", "Down", "Up", "PageDown", "Home")
FILTERS = ("ipcsoak", "sysv", "re:shm|mq", "re:[", "pipe", "zzz-nothing", "re:^unix:")
FILTER_PLACEHOLDER = "filter: text"  # the start of the open filter bar's placeholder
DETAIL_RULE = "─{40}"  # the rule above the detail pane
HEX_LINE = r"[0-9a-f]{8}  (?:[0-9a-f]{2} ){8} (?:[0-9a-f]{2} ){8} \|"  # a whole `hexdump -C` line
SETTLE = 3.0  # seconds a raced action is given to run after its confirmation
RSS_WARMUP = 0.25  # fraction of the run after which the dashboard's RSS is the baseline


class Soak:
    """Drives the dashboard through scenarios, actions raced against a replacement of their target or not."""

    def __init__(self, term: Term, objs: Objects, rng: random.Random) -> None:
        self.term, self.objs, self.rng = term, objs, rng
        self.counts: Counter[str] = Counter()  # "<action> <outcome>" and scenario counts
        self.violations: list[str] = []
        self.crashes: list[str] = []
        self.rss: list[tuple[float, int, int]] = []  # (time, dashboard RSS in kB, objects on the host)
        self.terminal_losses = 0  # times the tmux server went away (a fresh one is started)
        self.screens: list[str] = []  # the first screens where a scenario got stuck

    def check_alive(self) -> None:
        pid, dead, status = self.term.state()
        if status == LOST:  # tmux itself went away: not the dashboard's doing, but it must not outlive it
            self.terminal_losses += 1
            self.crashes += [p for p in quit_dashboard(self.term) if "outlived" in p]
            self.term.start()
            self.term.wait_for("last scan", timeout=120)
        elif dead:
            tail = self.term.screen(history=True).strip().splitlines()[-40:]
            self.crashes.append(f"dashboard exited (status {status}):\n" + "\n".join(tail))
            self.term.respawn()
            time.sleep(2)
        elif (kb := rss_kb(pid)) is not None:
            shown = re.search(r"ipcwatch\s+(\d+) objects", self.term.screen())
            self.rss.append((time.monotonic(), kb, int(shown.group(1)) if shown else -1))

    def stuck(self, what: str) -> None:
        """The dashboard did not show what a scenario waited for: count it, keep the first screens seen."""
        self.counts[what] += 1
        if len(self.screens) < 3:
            self.screens.append(f"{what}:\n{self.term.screen()}")

    def close_dialogs(self) -> None:
        self.term.keys("Escape", "Escape", "Escape", pause=0.25)

    def select(self, ref: str) -> bool:
        """Show only `ref` in the All view, the table focused. A key typed before a focus change lands in the old
        widget: `d` probes where Enter left the focus (typed into the filter, or the detail pane hides)."""
        for attempt in range(3):
            self.close_dialogs()
            self.term.keys("0", "r", "/", literal=True)
            if not self.term.wait_for(re.escape(FILTER_PLACEHOLDER), timeout=5):
                continue
            self.term.keys(f"re:^{re.escape(ref)}$", literal=True)
            self.term.keys("Enter", pause=0.3 + attempt)
            self.term.keys("d", literal=True)
            probe = self.term.wait_for(rf"\$d\s|^(?![\s\S]*{DETAIL_RULE})")
            if probe is not None and not probe.group(0):
                self.term.keys("d", literal=True)
                return self.term.wait_for(DETAIL_RULE) is not None and self.term.wait_for(re.escape(ref)) is not None
        return False

    def confirm(self) -> None:
        """Press the confirmation button (focus starts on Cancel), twice when it asks again for an object in use."""
        self.term.keys("BTab", "Enter")
        if self.term.wait_for("IN USE by", timeout=0.6):
            self.term.keys("BTab", "Enter")

    def open(self, obj: Obj | None, key: str, shows: str, ready: str = "") -> re.Match[str] | None:
        """Select `obj`, wait for `ready` (a regex), press `key` and wait for the dialog showing `shows`."""
        if obj is None:
            self.counts["create failed"] += 1
            return None
        if self.select(obj.ref) and self.term.wait_for(ready):
            self.term.keys(key, literal=True)
            if shown := self.term.wait_for(shows):
                return shown
        self.stuck("dialog not reached")
        return None

    def settle(
        self, action: str, old: Obj, new: Obj | None, intact: Callable[[Obj], bool], acted: Callable[[Obj], bool]
    ) -> None:
        """After a confirmation: a replacement (`new`) must stay intact; without a race the action must happen."""
        if new is old:
            self.counts[f"{action} control, " + ("done" if eventually(lambda: acted(old)) else "NOT done")] += 1
            return
        time.sleep(SETTLE)
        if new is None:
            self.counts[f"{action} race skipped (id taken)"] += 1
            return
        ok = kernel_stamp(new.kind, new.ident) == new.stamp and intact(new)
        self.counts[f"{action} raced, replacement intact" if ok else f"{action} raced, VIOLATION"] += 1
        if not ok:
            self.violations.append(f"{action} touched the replacement {new.ref}")

    def views(self) -> None:
        for _ in range(8):
            key = self.rng.choice(VIEW_KEYS)
            self.term.keys(key, literal=len(key) == 1, pause=self.rng.uniform(0.05, 0.4))

    def filter(self) -> None:
        self.close_dialogs()
        self.term.keys("/", self.rng.choice(FILTERS), literal=True)
        self.term.keys("Enter", pause=self.rng.uniform(0.3, 1.5))
        self.term.keys("Escape")

    def details(self) -> None:
        """Enter on a churned object: the hex view of shared memory, a queue's messages, a semaphore's values."""
        with self.objs.lock:
            free = [o for o in self.objs.live.values() if not o.protected and o.kind in (*SYSV, *POSIX)]
        if free and self.select(self.rng.choice(free).ref):
            self.term.keys("Enter", pause=self.rng.uniform(0.3, 2.0))
            if self.term.wait_for(HEX_LINE, timeout=1.0):  # the hex view is open: `q` closes it
                self.counts["hex view shown"] += 1
                self.term.keys("PageDown", "q", literal=False)
        self.close_dialogs()

    def remove(self, raced: bool) -> None:
        kind = self.rng.choice((*SYSV, *POSIX))
        obj = self.objs.create(kind, hold=self.rng.random() < 0.3, protected=True)
        if not self.open(obj, "x", rf"Remove {re.escape(escape(obj.ref)) if obj else ''}\?"):
            return
        assert obj is not None
        new = self.objs.replace(obj) if raced else obj
        self.confirm()
        self.settle("remove", obj, new, lambda o: True, lambda o: kernel_stamp(o.kind, o.ident) != o.stamp)

    def receive(self, raced: bool) -> None:
        """Open a queue (its messages are peeked), replace it, refresh, then receive one message."""
        kind = self.rng.choice(("sysv-msg", "posix-mq"))
        obj = self.objs.create(kind, messages=2, protected=True)
        if not self.open(obj, "m", r"Receive one"):
            return
        assert obj is not None
        new = self.objs.replace(obj, messages=2) if raced else obj
        self.term.keys("F5", *["Tab"] * (5 if kind == "sysv-msg" else 4), "Enter")
        if not self.term.wait_for(r"REMOVED from the queue"):
            self.stuck("dialog not reached")
            return
        self.confirm()
        self.settle("receive", obj, new, lambda o: queued(o) == 2, lambda o: queued(o) == 1)

    def post(self, raced: bool) -> None:
        obj = self.objs.create(self.rng.choice(("sysv-sem", "posix-sem")), protected=True)
        if not self.open(obj, "v", r"Post \(\+count\)"):
            return
        assert obj is not None
        new = self.objs.replace(obj) if raced else obj
        self.term.keys("Tab", "Tab", "Tab", "Enter")
        self.settle("post", obj, new, lambda o: sem_value(o) == 0, lambda o: sem_value(o) == 1)

    def signal(self, raced: bool) -> None:
        """Signal the only holder of a POSIX segment, a soak child; the race puts a new soak child at its pid."""
        obj = self.objs.create("posix-shm", hold=True, protected=True)
        if obj is None:
            self.counts["create failed"] += 1
            return
        pid = fork_child(120, self.objs.children, "driver", obj.fds)
        os.close(obj.fds.pop())
        shown = self.open(obj, "k", r"Send a signal to pid (\d+)", ready=rf"\b{pid}\b")
        if shown is None:
            return
        if int(shown.group(1)) != pid:  # never anything the soak did not start
            self.counts["signal aborted: another pid shown"] += 1
            return
        self.term.keys("Enter")
        if not self.term.wait_for(rf"Send SIGTERM to pid {pid} "):
            self.stuck("dialog not reached")
            return
        new = None
        if raced:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self.objs.children.pop(pid)
            new = self.objs.fork_at(pid)
            if new is None:
                self.counts["signal race skipped (pid taken)"] += 1
                self.close_dialogs()
                return
        self.confirm()
        if raced:
            time.sleep(SETTLE)
        else:  # a zombie's cmdline is empty: delivered (soon, on a busy host)
            eventually(lambda: not Path(f"/proc/{pid}/cmdline").read_bytes())
        done, status = os.waitpid(pid, os.WNOHANG)
        if raced:
            self.counts["signal raced, replacement intact" if done == 0 else "signal raced, VIOLATION"] += 1
            if done:
                self.violations.append(f"signal reached the process that replaced pid {pid} (status {status})")
        else:
            term = done and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
            self.counts["signal control, " + ("delivered" if term else "NOT delivered")] += 1
        if done:
            self.objs.children.pop(pid, None)

    def run(self, seconds: float) -> None:
        scenarios: list[Callable[[], None]] = [
            self.views,
            self.filter,
            self.details,
            *(
                lambda f=f, r=r: f(r)
                for f in (self.remove, self.receive, self.post, self.signal)
                for r in (True, False)
            ),
        ]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for scenario in self.rng.sample(scenarios, len(scenarios)):
                if time.monotonic() >= deadline:
                    break
                scenario()
                self.counts["scenarios"] += 1
                self.check_alive()
                for pid, role in list(self.objs.children.items()):
                    if role == "driver":
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGKILL)
                self.objs.reap("driver")
                with self.objs.lock:
                    for obj in [o for o in self.objs.live.values() if o.protected]:
                        self.objs.remove(obj)


def report(
    soak: Soak,
    objs: Objects,
    started: float,
    seconds: float,
    log: bytes,
    left: list[str],
    problems: list[str],
    seed: int,
    stopped: str | None,
) -> dict:
    warm = [s[1:] for s in soak.rss if s[0] - started >= RSS_WARMUP * seconds] or [s[1:] for s in soak.rss]
    growth = None if not warm else round(100.0 * (warm[-1][0] - warm[0][0]) / warm[0][0], 1)
    crashes = soak.crashes + problems
    tracebacks = log.count(b"Traceback")
    targets = {
        "dashboard crashes and tracebacks == 0": not crashes and not tracebacks,
        "actions that touched a replaced object == 0": not soak.violations,
        "dashboard RSS growth after warm-up < 10 %": growth is not None and growth < 10.0,
        "objects left afterwards == 0": not left,
        "ran to the end (not interrupted)": stopped is None,
    }
    return {
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
        "stopped_by": stopped,
        "scenarios": soak.counts.pop("scenarios", 0),
        "objects_created": dict(objs.created),
        "crashes": len(crashes),
        "tracebacks": tracebacks,
        "crash_details": crashes[:5],
        "scan_failures_shown": log.count(b"scan failed"),
        "tmux_server_losses": soak.terminal_losses,
        "violations": len(soak.violations),
        "violation_details": soak.violations[:20],
        "actions": dict(sorted(soak.counts.items())),
        "rss_kb_after_warmup": warm[0][0] if warm else None,
        "rss_kb_end": warm[-1][0] if warm else None,
        "host_objects_after_warmup_and_end": [warm[0][1], warm[-1][1]] if warm else None,
        "rss_growth_pct": growth,
        "rss_kb_series": [kb for _, kb, _ in soak.rss][:: max(1, len(soak.rss) // 20)],  # about 20 samples
        "objects_left": len(left),
        "swept_at_end": objs.swept,
        "left": left[:50],
        "stuck_screens": soak.screens,
        "targets": targets,
        "ok": all(targets.values()),
    }


def print_report(r: dict) -> None:
    print(
        f"ipcwatch churn soak: {r['seconds']:.0f} s, seed {r['seed']}, {r['scenarios']} scenarios, "
        f"{sum(r['objects_created'].values())} objects created"
        + (f", stopped by {r['stopped_by']}" if r["stopped_by"] else "")
    )
    rows = [
        ("dashboard crashes / tracebacks", f"{r['crashes']} / {r['tracebacks']}", "0"),
        ("actions that touched a replaced object", str(r["violations"]), "0"),
        (
            "dashboard RSS after warm-up -> end",
            f"{r['rss_kb_after_warmup']} -> {r['rss_kb_end']} kB ({r['rss_growth_pct']} %)",
            "< 10 %",
        ),
        ("objects left afterwards", str(r["objects_left"]), "0"),
    ]
    print(f"  {'figure':<40} {'value':<34} {'target':<8} met")
    for (label, value, target), met in zip(rows, r["targets"].values(), strict=False):
        print(f"  {label:<40} {value:<34} {target:<8} {'yes' if met else 'NO'}")
    print(f"  objects on the host after warm-up, at the end: {r['host_objects_after_warmup_and_end']}")
    print("  actions: " + "; ".join(f"{k}: {v}" for k, v in r["actions"].items()))
    for detail in r["crash_details"] + r["violation_details"] + r["left"]:
        print("  " + detail.replace("\n", "\n    "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to churn (default 10)")
    parser.add_argument("--seed", type=int, help="random seed (default: random, printed)")
    parser.add_argument("--interval", type=float, default=1.0, help="the dashboard's refresh interval (default 1)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    ipcwatch = Path(sys.executable).with_name("ipcwatch")
    if os.geteuid() != 0 or not ipcwatch.exists() or shutil.which("tmux") is None:
        print(f"soak: needs root, tmux and {ipcwatch}", file=sys.stderr)
        return 2
    seed = random.randrange(2**32) if args.seed is None else args.seed
    seconds = args.minutes * 60
    run_dir = Path(tempfile.mkdtemp(prefix=TAG))
    objs = Objects(run_dir)
    term = Term(run_dir, [str(ipcwatch), "--interval", str(args.interval)])
    soak = Soak(term, objs, random.Random(seed))
    stop = threading.Event()
    churner = threading.Thread(target=churn, args=(objs, random.Random(seed + 1), stop), daemon=True)

    def interrupted(signum: int, _frame: object) -> None:
        if not stop.is_set():  # once the clean-up has begun, nothing stops it
            raise Interrupted(signal.Signals(signum).name)

    for sig in STOP_SIGNALS:
        signal.signal(sig, interrupted)
    started, stopped, problems, log = time.monotonic(), None, [], b""
    try:
        term.start()
        churner.start()
        if term.wait_for("last scan", timeout=120):
            soak.run(seconds)
        else:
            problems.append(f"the dashboard did not show its first scan within 120 s:\n{term.screen()}")
    except Interrupted as exc:
        stopped = str(exc)
    except Exception as exc:  # noqa: BLE001 - a failing soak still cleans up and reports
        problems.append(f"the soak failed: {exc!r}")
    finally:
        stop.set()
        churner.join(10)
        problems += quit_dashboard(term)
        with contextlib.suppress(OSError):
            log = term.log.read_bytes()
        objs.close()
    left = leftovers(run_dir, term.socket, term.socket_path)
    result = report(soak, objs, started, seconds, log, left, problems, seed, stopped)
    print(json.dumps(result, indent=2)) if args.json else print_report(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
