"""`ipcwatch demo` as a real process: every stop signal, --for with input open, and SIGKILL + `demo --cleanup`.

Each test starts the command, reads the refs it prints, and checks the kernel itself (/proc/sysvipc, /dev/shm,
/dev/mqueue, the paths, /proc/PID) before and after; a finalizer kills the demo and sweeps its marker on failure.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sysv_ipc

from ipcwatch import workload
from tests.conftest import needs_mqueue, needs_root, wait_until

pytestmark = [needs_root, needs_mqueue]

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def _sysv_ids(table: str) -> set[int]:
    with open(f"/proc/sysvipc/{table}") as f:
        return {int(line.split()[1]) for line in f.readlines()[1:] if line.strip()}


def _exists(ref: str) -> bool:
    """Whether the kernel still has what a named ref (as the demo prints it) stands for."""
    kind, _, rest = ref.partition(":")
    if kind.startswith("sysv-"):
        return int(rest) in _sysv_ids(kind[5:])
    if kind in ("posix-shm", "posix-sem", "posix-mq"):
        directory, prefix = {
            "posix-shm": ("/dev/shm", ""),
            "posix-sem": ("/dev/shm", "sem."),
            "posix-mq": ("/dev/mqueue", ""),
        }[kind]
        return os.path.lexists(os.path.join(directory, prefix + rest))
    return os.path.lexists(rest)


def _children_of(pid: int) -> set[int]:
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{name}/stat").read_text()
                if int(stat.rpartition(")")[2].split()[1]) == pid:
                    found.add(int(name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@dataclass
class DemoRun:
    proc: subprocess.Popen[bytes]
    refs: list[str] = field(default_factory=list)  # every ref with a name or id (pipes and live sockets excluded)
    stale: dict[str, str] = field(default_factory=dict)  # what -> ref of the stale leftovers
    directory: str = ""
    children: set[int] = field(default_factory=set)

    def markers(self) -> list[str]:
        with contextlib.suppress(OSError):
            return [n for n in os.listdir(workload.state_dir()) if n.startswith(f"demo-{self.proc.pid}-")]
        return []

    def left(self) -> list[str]:
        left = [ref for ref in self.refs if _exists(ref)]
        left += [f"process:{pid}" for pid in self.children if _alive(pid)]
        left += [path for path in (self.directory,) if os.path.lexists(path)]
        return left + self.markers()

    def finish(self) -> tuple[int, str, str]:
        """Wait for the exit with stdin still open (its end of input must play no part); (code, stdout, stderr)."""
        self.proc.wait(timeout=STOP_TIMEOUT)
        out, err = self.proc.communicate()
        return self.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def stop(self, sig: int) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        return self.finish()


def _read_until_running(proc: subprocess.Popen[bytes]) -> list[str]:
    assert proc.stdout is not None
    fd, buf, lines = proc.stdout.fileno(), b"", []
    deadline = time.monotonic() + START_TIMEOUT
    while not any(line.startswith("running") for line in lines):
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"demo not running in time: {lines}"
        chunk = os.read(fd, 65536)
        assert chunk, f"demo exited early ({proc.wait()}): {lines} {proc.stderr.read() if proc.stderr else ''}"
        buf += chunk
        *done, buf = buf.split(b"\n")
        lines += [line.decode(errors="replace") for line in done]
    return lines


@pytest.fixture
def start_demo() -> Iterator:
    runs: list[DemoRun] = []

    def start(*args: str) -> DemoRun:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ipcwatch", "demo", *args],
            stdin=subprocess.PIPE,  # kept open: only a signal or --for ends the demo
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        run = DemoRun(proc)
        runs.append(run)
        for line in _read_until_running(proc):
            ref, _, what = line.partition("  ")
            if line.startswith("private directory: "):
                run.directory = line.removeprefix("private directory: ")
            elif what and not ref.startswith("pipe:") and not (ref.startswith("unix:") and ref[5:].isdigit()):
                run.refs.append(ref)  # pipes and live sockets have no name: they go with the children
                if what.startswith("stale: "):
                    run.stale[what] = ref
        run.children = _children_of(proc.pid)
        assert run.directory and len(run.refs) == 11 and len(run.children) == 16, (run.refs, run.children)
        assert all(_exists(ref) for ref in run.refs) and os.path.isdir(run.directory)
        return run

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.proc.communicate(timeout=STOP_TIMEOUT)
    workload.sweep("demo")  # what a failed test left (only dead demos' markers; identity-checked)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT], ids=lambda s: s.name)
def test_each_stop_signal_removes_everything(start_demo, sig: signal.Signals) -> None:
    run = start_demo()
    assert run.markers(), "a running demo has a marker"
    code, out, err = run.stop(sig)
    assert code == 128 + sig, err
    assert "Traceback" not in err and "Fatal Python error" not in err, err
    assert f"demo stopped ({sig.name}): children killed, 13 object(s) removed" in out
    assert run.left() == []


def test_for_seconds_with_input_open_exits_cleanly(start_demo) -> None:
    run = start_demo("--for", "2")
    code, out, err = run.finish()
    assert code == 0, err
    assert "Traceback" not in err and "Fatal Python error" not in err, err
    assert "demo stopped (2 s passed)" in out
    assert run.left() == []


def _recreate_shm_with_id(old_id: int, key: int) -> sysv_ipc.SharedMemory:
    """A new segment (this process its creator) under `old_id`, via kernel.shm_next_id; retried if raced."""
    for _ in range(5):
        Path("/proc/sys/kernel/shm_next_id").write_text(str(old_id))
        shm = sysv_ipc.SharedMemory(key, sysv_ipc.IPC_CREX, mode=0o600, size=4096)
        if shm.id == old_id:
            return shm
        shm.detach()
        shm.remove()
    pytest.fail(f"could not re-create a segment with id {old_id}")


def test_sigkill_then_cleanup_removes_only_what_is_still_the_demos(start_demo) -> None:
    run = start_demo()
    run.proc.kill()
    run.proc.communicate(timeout=STOP_TIMEOUT)
    wait_until(lambda: not any(_alive(pid) for pid in run.children))  # PR_SET_PDEATHSIG
    assert all(_exists(ref) for ref in run.refs) and run.markers(), "SIGKILL leaves objects and the marker"

    # someone else re-creates two of them under the same id / name after the kill
    old_shm = run.stale["stale: SysV shm whose creator exited"]
    old_id = int(old_shm.split(":")[1])
    key = next(
        int(row.split()[0])
        for row in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
        if row.split()[1] == str(old_id)
    )
    sysv_ipc.remove_shared_memory(old_id)
    posix_name = run.stale["stale: POSIX shm nobody holds"].split(":", 1)[1]
    os.unlink(f"/dev/shm/{posix_name}")
    theirs = _recreate_shm_with_id(old_id, key)
    Path(f"/dev/shm/{posix_name}").write_bytes(b"someone else's")
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "ipcwatch", "--read-only", "demo", "--cleanup"], capture_output=True, timeout=60
        )
        assert refused.returncode == 3 and b"read-only" in refused.stderr
        assert all(_exists(ref) for ref in run.refs) and run.markers(), "--read-only changed nothing"

        done = subprocess.run([sys.executable, "-m", "ipcwatch", "demo", "--cleanup"], capture_output=True, timeout=60)
        out = done.stdout.decode()
        assert done.returncode == 0, (out, done.stderr)
        assert f"demo that was killed (pid {run.proc.pid})" in out
        assert f"refused: {old_shm} is not the one the workload made" in out
        assert f"refused: posix-shm:{posix_name} is not the one the workload made" in out
        assert _exists(old_shm) and Path(f"/dev/shm/{posix_name}").read_bytes() == b"someone else's"
        run.refs = [ref for ref in run.refs if ref not in (old_shm, f"posix-shm:{posix_name}")]
        assert run.left() == []
    finally:
        theirs.detach()
        theirs.remove()
        Path(f"/dev/shm/{posix_name}").unlink(missing_ok=True)
