"""The benchmark load generator: tiny loads are created, held, seen by the scan, and fully cleaned up."""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ipcwatch.scan import ScanConfig, scan
from tests.conftest import children_of, listed_sysv_ids, needs_mqueue, needs_root, wait_until
from tests.paths import REPO

BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the benchmarks import each other by module name

import loadgen  # noqa: E402
from loadgen_holders import KINDS, plan_name  # noqa: E402
from loadgen_limits import MQ_CHARGE, state_dir  # noqa: E402

pytestmark = [needs_root, needs_mqueue]

POSIX_DIRS = {"posix-shm": "/dev/shm", "posix-mq": "/dev/mqueue", "posix-sem": "/dev/shm"}


def _posix_path(prefix: str, kind: str, i: int) -> str:
    name = plan_name(prefix, kind, i)
    return os.path.join(POSIX_DIRS[kind], ("sem." if kind == "posix-sem" else "") + name)


def _leftovers(prefix: str, counts: dict[str, int], sysv_ids: dict[str, list[int]], run_dir: str) -> list[str]:
    left = [p for kind in POSIX_DIRS for i in range(counts[kind]) if os.path.exists(p := _posix_path(prefix, kind, i))]
    for kind, table in (("sysv-shm", "shm"), ("sysv-msg", "msg"), ("sysv-sem", "sem")):
        left += [f"{kind}:{i}" for i in set(sysv_ids.get(kind, ())) & listed_sysv_ids(table)]
    if os.path.exists(run_dir):
        left.append(run_dir)
    return left


def _live_runs() -> list[int]:
    try:
        return json.loads((state_dir() / "state.json").read_text())["runs"]
    except (OSError, ValueError):
        return []


def test_load_is_held_seen_and_removed() -> None:
    queues_max = Path("/proc/sys/fs/mqueue/queues_max")
    before = queues_max.read_text()
    hard = resource.getrlimit(resource.RLIMIT_MSGQUEUE)[1]
    # another live load owns the limits it raised (queues_max may be in the thousands): then no raise is forced
    forces_raise = not _live_runs() and (hard == resource.RLIM_INFINITY or (int(before) + 8) * MQ_CHARGE <= hard)
    counts = dict.fromkeys(KINDS, 4) | ({"posix-mq": int(before) + 8} if forces_raise else {})
    with loadgen.Load(processes=3, counts=counts) as load:
        prefix, run_dir, sysv_ids = load.prefix, load.run_dir, {k: list(v) for k, v in load.sysv_ids.items()}
        pids = set(load.pids)
        assert len(pids) == 3 and all(os.path.exists(f"/proc/{pid}") for pid in pids)
        assert int(queues_max.read_text()) > int(before) or not forces_raise
        assert load.leader in _live_runs()
        assert all(os.path.exists(_posix_path(prefix, k, i)) for k in POSIX_DIRS for i in range(counts[k]))
        snap = scan(ScanConfig(file_dirs=(run_dir,)))
        for kind in ("sysv-shm", "posix-shm", "posix-mq", "posix-sem", "fifo", "pipe", "unix"):
            held = [o for o in snap.of_kind(kind) if o.holder_pids & pids]
            assert len(held) >= counts[kind], (kind, len(held))
        mapped = [h for o in snap.of_kind("posix-shm") for h in o.holders if h.pid in pids and h.fd is None]
        assert mapped, "odd-numbered POSIX shm objects are held by mapping only"
        sysv = {o.id for o in snap.of_kind("sysv-msg") + snap.of_kind("sysv-sem")}
        assert set(sysv_ids["sysv-msg"] + sysv_ids["sysv-sem"]) <= sysv
    wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids))
    assert _leftovers(prefix, counts, sysv_ids, run_dir) == []
    assert load.leader not in _live_runs()
    if not _live_runs():  # another engineer's live load would keep the raised value until it finishes
        assert queues_max.read_text() == before


def test_a_holder_failure_cleans_up_everything() -> None:
    counts = dict.fromkeys(KINDS, 3)
    load = loadgen.Load(processes=2, counts=counts)
    taken = _posix_path(load.prefix, "posix-shm", 1)  # the holder that creates it with O_EXCL fails
    Path(taken).touch()
    try:
        with pytest.raises(loadgen.LoadError, match="holder failed"):
            load.start()
    finally:
        Path(taken).unlink(missing_ok=True)
    assert load.pids == []
    assert _leftovers(load.prefix, counts, load.sysv_ids, load.run_dir) == []
    assert load.leader not in _live_runs()


def test_budget_error_names_the_limit() -> None:
    with pytest.raises(loadgen.LoadError, match="RLIMIT_MSGQUEUE"):
        loadgen.Load(per_kind=0, processes=1, counts={"posix-mq": 10**7}).start()


def test_sweep_removes_a_killed_runs_leftovers() -> None:
    counts = dict.fromkeys(KINDS, 0) | {"sysv-shm": 2, "posix-shm": 2, "posix-mq": 1, "posix-sem": 1, "fifo": 1}
    code = f"""
        import json, sys
        sys.path.insert(0, {str(BENCHMARKS)!r})
        from loadgen import Load
        load = Load(processes=2, counts={counts!r})
        load.start()
        print(json.dumps([load.prefix, load.run_dir, load.sysv_ids]), flush=True)
        sys.stdin.read()
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        prefix, run_dir, sysv_ids = json.loads(proc.stdout.readline())
        assert len(_leftovers(prefix, counts, sysv_ids, run_dir)) == 2 + 2 + 1 + 1 + 1
    finally:
        proc.send_signal(signal.SIGKILL)  # no finally, no atexit: leftovers stay
        proc.wait(timeout=10)
        proc.stdin.close()  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
    assert _leftovers(prefix, counts, sysv_ids, run_dir)
    swept = [marker for marker in loadgen.sweep() if marker.owner and marker.owner.startswith(f"{proc.pid}@")]
    assert len(swept) == 1 and not swept[0].kept
    # 2 SysV segments, 4 POSIX objects, the directory (its FIFO in it); holders not yet gone (PR_SET_PDEATHSIG) killed
    removed = [o.message for o in swept[0].outcomes if o.ok and not o.message.startswith("killed process:")]
    assert len(removed) == 2 + 4 + 1, removed
    # a removed segment stays listed until its last attacher (a holder being killed) is gone
    wait_until(lambda: _leftovers(prefix, counts, sysv_ids, run_dir) == [])


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float = 60.0) -> list[str]:
    """Lines on stdout up to one starting with `marker` (raw reads: select never waits on buffered data)."""
    assert proc.stdout is not None
    fd, buf, lines = proc.stdout.fileno(), b"", []
    deadline = time.monotonic() + timeout
    while not any(line.startswith(marker) for line in lines):
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"no {marker!r} in time: {lines}"
        chunk = os.read(fd, 65536)
        assert chunk, f"loadgen exited early ({proc.wait()}): {lines}"
        *done, buf = (buf + chunk).split(b"\n")
        lines += [line.decode() for line in done]
    return lines


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT], ids=lambda s: s.name)
def test_hold_cleans_up_on_every_stop_signal(sig: signal.Signals) -> None:
    counts = dict.fromkeys(KINDS, 2)
    proc = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / "loadgen.py"), "--per-kind", "2", "--processes", "2", "--hold"],
        stdin=subprocess.PIPE,  # kept open, as a terminal would be
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    prefix = run_dir = ""
    sysv_ids: dict[str, list[int]] = {}
    try:
        lines = _read_until(proc, "holding")
        words = lines[0].split()  # prefix PREFIX; holders A..B; files in DIR
        prefix, run_dir = words[1].rstrip(";"), words[-1]
        sysv_ids = {w[0]: [int(i) for i in w[3:]] for line in lines if (w := line.split())[0].startswith("sysv-")}
        holders = children_of(proc.pid)
        assert len(holders) == 2 and all(len(ids) == 2 for ids in sysv_ids.values()) and len(sysv_ids) == 3
        assert len(_leftovers(prefix, counts, sysv_ids, run_dir)) == 3 * 2 + 3 * 2 + 1
        proc.send_signal(sig)
        proc.wait(timeout=30)  # stdin still open: only the signal ends it
        err = proc.stderr.read().decode()  # type: ignore[union-attr]
        assert proc.returncode == 128 + sig, err
        assert "Traceback" not in err and "Fatal Python error" not in err, err
        assert f"loadgen: {sig.name}: cleaning up" in err and "loadgen: cleaned up" in err
        assert not any(os.path.exists(f"/proc/{pid}") for pid in holders)
        assert _leftovers(prefix, counts, sysv_ids, run_dir) == []
        assert proc.pid not in _live_runs()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
        if prefix and _leftovers(prefix, counts, sysv_ids, run_dir):
            loadgen.sweep()
