"""The churn soak (benchmarks/soak.py) against the real dashboard in a pty: a one-minute run meets its targets, and
an interrupted run leaves nothing behind. Leftovers are checked here in the kernel, independently of the soak."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import needs_root
from tests.paths import REPO

SOAK = REPO / "benchmarks" / "soak.py"
pytestmark = [
    pytest.mark.root,
    needs_root,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
]


def left_by(pid: int) -> list[str]:
    """What a soak with this pid left: SysV objects with its keys, POSIX names with its tag, its tmux server and
    that server's socket file."""
    tag, prefix = f"ipcsoak.{pid}.", (0x5A << 16) | (pid & 0xFFFF)
    left = []
    for table in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{table}") as f:
            left += [f"sysv-{table}:{r.split()[1]}" for r in f.readlines()[1:] if int(r.split()[0]) >> 8 == prefix]
    for directory in ("/dev/shm", "/dev/mqueue", "/tmp"):
        if os.path.isdir(directory):
            left += [f"{directory}/{name}" for name in os.listdir(directory) if name.startswith(tag)]
    if subprocess.run(["tmux", "-L", f"ipcsoak{pid}", "has-session"], capture_output=True).returncode == 0:
        left.append("tmux server")
    if os.path.exists(f"{os.environ.get('TMUX_TMPDIR') or '/tmp'}/tmux-{os.getuid()}/ipcsoak{pid}"):
        left.append("tmux socket file")
    return left


def run_soak(*args: str, stop: signal.Signals | None = None) -> tuple[dict, int, int]:
    """Run the soak; with `stop`, send that signal once it has objects out. Returns its report, pid, exit status."""
    proc = subprocess.Popen([sys.executable, str(SOAK), "--json", *args], stdout=subprocess.PIPE, text=True)
    try:
        if stop is not None:
            deadline = time.monotonic() + 60
            while not any(n.startswith(f"ipcsoak.{proc.pid}.") for n in os.listdir("/dev/shm")):
                assert time.monotonic() < deadline, "the soak made no object within 60 s"
                time.sleep(0.2)
            time.sleep(8)  # the dashboard is up and scenarios are running
            proc.send_signal(stop)
        out, _ = proc.communicate(timeout=420)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return json.loads(out), proc.pid, proc.returncode


def test_one_minute_soak_meets_its_targets():
    report, pid, status = run_soak("--minutes", "1")
    assert report["crashes"] == 0, report["crash_details"]
    assert report["tracebacks"] == 0
    assert report["violations"] == 0, report["violation_details"]
    assert report["objects_left"] == 0, report["left"]
    assert left_by(pid) == []
    actions = report["actions"]
    raced = sum(n for what, n in actions.items() if "replacement intact" in what)
    controls = sum(n for what, n in actions.items() if " control, " in what and "NOT" not in what)
    assert raced >= 2 and controls >= 2, actions  # the keys really reached the dialogs, and actions really act
    assert not any("NOT" in what for what in actions), actions
    assert sum(report["objects_created"].values()) > 100
    assert status == (0 if report["ok"] else 1)  # RSS growth is reported, not asserted


@pytest.mark.parametrize("stop", [signal.SIGHUP, signal.SIGQUIT], ids=lambda s: s.name)
def test_interrupted_soak_leaves_nothing(stop):
    report, pid, status = run_soak("--minutes", "5", stop=stop)
    assert report["stopped_by"] == stop.name
    assert status == 1
    assert report["objects_left"] == 0, report["left"]
    assert left_by(pid) == []
