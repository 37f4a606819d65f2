"""`ipcwatch signals PID` and `ipcwatch kill` warnings on a real child whose signal state is known."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from ipcwatch.scan.dispositions import Recycled, read_dispositions
from tests.conftest import Child, wait_until
from tests.paths import REPO

ROOT = str(REPO)

# Ignores SIGTERM, catches SIGUSR1, blocks SIGUSR2 (one sent: it stays pending) and kernel SIGRTMIN+3 (glibc's
# SIGRTMIN+1) in every thread; a second thread waits for SIGRTMIN+3 in sigwaitinfo. Its comm is hostile.
SIGNAL_CHILD = """
    import os, signal, sys, threading, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, 35})
    waiter = threading.Thread(target=signal.sigwaitinfo, args=({35},), daemon=True)
    waiter.start()
    with open("/proc/self/comm", "w") as f:
        f.write("sig\\x1b]2;x\\x07")
    os.kill(os.getpid(), signal.SIGUSR2)
    def blocked(tid):
        with open(f"/proc/self/task/{tid}/status") as f:
            return next(int(line.split()[1], 16) for line in f if line.startswith("SigBlk:"))
    while blocked(waiter.native_id) >> 34 & 1:  # in sigwaitinfo, the set it waits for is unblocked
        time.sleep(0.01)
    print(waiter.native_id, flush=True)
    print("READY", flush=True)
    sys.stdin.read()
"""


def ipcwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipcwatch", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )


def start_signal_child(spawn: Callable[..., Child]) -> Child:
    """SIGNAL_CHILD, once its SIGUSR2 is queued; `lines[0]` is the tid of the thread in sigwaitinfo."""
    child = spawn(SIGNAL_CHILD)
    wait_until(lambda: _shdpnd(child.pid) != 0)
    return child


@pytest.fixture
def signal_child(spawn: Callable[..., Child]) -> Child:
    return start_signal_child(spawn)


def _shdpnd(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("ShdPnd:"))


def test_signals_json_shows_the_truth(signal_child: Child) -> None:
    out = ipcwatch("signals", str(signal_child.pid), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    waiter = int(signal_child.lines[0])
    assert data["pid"] == signal_child.pid and "\x1b" not in out.stdout and data["comm"] == "sig\\x1b]2;x\\x07"
    assert "SIGUSR1" in data["caught"] and "SIGTERM" not in data["caught"]
    assert "SIGTERM" in data["ignored"]
    assert data["pending"] == ["SIGUSR2"] and data["shared_pending"] == ["SIGUSR2"]
    assert data["queued"] >= 1 and data["queue_limit"] > 0
    threads = {t["tid"]: t for t in data["threads"]}
    assert set(threads) >= {signal_child.pid, waiter}
    assert threads[signal_child.pid]["blocked"] == ["SIGUSR2", "SIGRTMIN+3"]
    assert threads[waiter]["blocked"] == ["SIGUSR2"] and threads[waiter]["waits_for"] == ["SIGRTMIN+3"]
    assert all(t["pending"] == [] for t in data["threads"])
    assert data["blocked_by_every_thread"] == ["SIGUSR2"]
    now = {v["signal"]: v for v in data["signals"]}
    assert now["SIGTERM"]["disposition"] == "ignored" and now["SIGTERM"]["effect"] == "discarded"
    assert now["SIGUSR1"]["effect"] == "handler" and now["SIGUSR1"]["deliverable"]
    assert now["SIGUSR2"]["effect"] == "pending" and not now["SIGUSR2"]["deliverable"]
    assert now["SIGRTMIN+3"]["effect"] == "taken"  # not a common signal: listed because a thread blocks it
    assert now["SIGRTMIN+3"]["says"].startswith(f"thread {waiter} waits for it in sigwaitinfo")
    assert now["SIGKILL"]["disposition"] == "uncatchable" and now["SIGHUP"]["effect"] == "terminate"
    assert now["SIGCHLD"]["effect"] == "ignore"
    assert signal_child.proc.poll() is None


def test_signals_text(signal_child: Child) -> None:
    out = ipcwatch("signals", str(signal_child.pid))
    assert out.returncode == 0, out.stderr
    assert f"{signal_child.pid} (sig\\x1b]2;x\\x07)" in out.stdout and "\x1b" not in out.stdout
    said = {line.split()[0]: line.split(None, 1)[1] for line in out.stdout.splitlines() if line.startswith("    SIG")}
    assert said["SIGTERM"] == "ignored by this process — nothing will happen"
    assert said["SIGUSR2"].startswith("blocked by every thread — it will stay pending")
    assert said["SIGUSR1"] == "caught by a handler"
    assert "pending:  SIGUSR2 (process-wide: SIGUSR2)" in out.stdout


def test_signals_errors(spawn: Callable[..., Child]) -> None:
    child = spawn('print("READY", flush=True)\nimport sys\nsys.stdin.read()\n')
    start = read_dispositions(child.pid).start
    with pytest.raises(Recycled):
        read_dispositions(child.pid, start + 1)
    child.stop()
    gone = ipcwatch("signals", str(child.pid))
    assert gone.returncode == 1 and f"no such process: {child.pid}" in gone.stderr
    with pytest.raises(ProcessLookupError):
        read_dispositions(child.pid, start)
    assert ipcwatch("signals", "0").returncode == 2


def test_kill_says_what_will_happen(signal_child: Child) -> None:
    pid = str(signal_child.pid)
    ignored = ipcwatch("kill", pid, "--signal", "TERM", "--yes")
    assert ignored.returncode == 0, ignored.stderr
    assert "SIGTERM: ignored by this process — nothing will happen" in ignored.stderr
    pending = ipcwatch("kill", pid, "--signal", "USR2")  # no --yes: warned, then not confirmed
    assert "SIGUSR2: blocked by every thread — it will stay pending" in pending.stderr
    assert pending.returncode != 0 and "nothing was changed" in pending.stderr
    caught = ipcwatch("kill", pid, "--signal", "USR1", "--yes")
    assert caught.returncode == 0 and "SIGUSR1: caught by a handler" in caught.stderr
    refused = ipcwatch("--read-only", "kill", pid, "--signal", "KILL", "--yes")
    assert refused.returncode == 3 and "read-only" in refused.stderr
    assert signal_child.proc.poll() is None  # TERM ignored, USR1 handled, KILL refused
    killed = ipcwatch("kill", pid, "--signal", "KILL", "--yes")
    assert "SIGKILL: cannot be caught, blocked or ignored" in killed.stderr
    assert signal_child.proc.wait(timeout=10) == -signal.SIGKILL
