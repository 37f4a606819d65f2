"""`ipcwatch demo` as a real process: every stop signal, --for with input open, and SIGKILL + `demo --cleanup`.

Each test starts the command, reads the refs it prints, and checks the kernel itself (/proc/sysvipc, /dev/shm,
/dev/mqueue, the paths, /proc/PID) before and after; a finalizer kills the demo and sweeps its marker on failure.
"""

from __future__ import annotations

import contextlib
import os
import pty
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

from ipcwatch.workload import ledger as workload
from tests.conftest import children_of, listed_sysv_ids, needs_mqueue, needs_root, wait_until

pytestmark = [needs_root, needs_mqueue]

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def _exists(ref: str) -> bool:
    """Whether the kernel still has what a named ref (as the demo prints it) stands for."""
    kind, _, rest = ref.partition(":")
    if kind.startswith("sysv-"):
        return int(rest) in listed_sysv_ids(kind[5:])
    if kind in ("posix-shm", "posix-sem", "posix-mq"):
        directory, prefix = {
            "posix-shm": ("/dev/shm", ""),
            "posix-sem": ("/dev/shm", "sem."),
            "posix-mq": ("/dev/mqueue", ""),
        }[kind]
        return os.path.lexists(os.path.join(directory, prefix + rest))
    return os.path.lexists(rest)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@dataclass
class DemoRun:
    pid: int
    proc: subprocess.Popen[bytes] | None = None
    refs: list[str] = field(default_factory=list)  # every ref with a name or id (pipes and live sockets excluded)
    stale: dict[str, str] = field(default_factory=dict)  # what -> ref of the stale leftovers
    directory: str = ""
    children: set[int] = field(default_factory=set)

    def take(self, lines: list[str]) -> None:
        """Note what the demo printed, and its children; check that all of it exists."""
        for line in lines:
            ref, _, what = line.partition("  ")
            if line.startswith("private directory: "):
                self.directory = line.removeprefix("private directory: ")
            elif what and not ref.startswith("pipe:") and not (ref.startswith("unix:") and ref[5:].isdigit()):
                self.refs.append(ref)  # pipes and live sockets have no name: they go with the children
                if what.startswith("stale: "):
                    self.stale[what] = ref
        self.children = children_of(self.pid)
        assert self.directory and len(self.refs) == 11 and len(self.children) == 16, (self.refs, self.children)
        assert all(_exists(ref) for ref in self.refs) and os.path.isdir(self.directory) and self.markers()

    def markers(self) -> list[str]:
        with contextlib.suppress(OSError):
            return [n for n in os.listdir(workload.state_dir()) if n.startswith(f"demo-{self.pid}-")]
        return []

    def left(self) -> list[str]:
        left = [ref for ref in self.refs if _exists(ref)]
        left += [f"process:{pid}" for pid in self.children if _alive(pid)]
        left += [path for path in (self.directory,) if os.path.lexists(path)]
        return left + self.markers()

    def finish(self) -> tuple[int, str, str]:
        """Wait for the exit with stdin still open (its end of input must play no part); (code, stdout, stderr)."""
        assert self.proc is not None
        self.proc.wait(timeout=STOP_TIMEOUT)
        out, err = self.proc.communicate()
        return self.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def stop(self, sig: int) -> tuple[int, str, str]:
        os.kill(self.pid, sig)
        return self.finish()


def _read_until_running(fd: int) -> list[str]:
    buf, lines = b"", []
    deadline = time.monotonic() + START_TIMEOUT
    while not any(line.startswith("running") for line in lines):
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"demo not running in time: {lines}"
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: a pty whose other side is gone
            chunk = b""
        assert chunk, f"demo exited early: {lines}"
        *done, buf = (buf + chunk).split(b"\n")
        lines += [line.decode(errors="replace").rstrip("\r") for line in done]
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
        run = DemoRun(proc.pid, proc)
        runs.append(run)
        assert proc.stdout is not None
        run.take(_read_until_running(proc.stdout.fileno()))
        return run

    yield start
    for run in runs:
        assert run.proc is not None
        if run.proc.poll() is None:
            run.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.proc.communicate(timeout=STOP_TIMEOUT)
    workload.sweep("demo")  # what a failed test left (only dead demos' markers; identity-checked)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT], ids=lambda s: s.name)
def test_each_stop_signal_removes_everything(start_demo, sig: signal.Signals) -> None:
    run = start_demo()
    code, out, err = run.stop(sig)
    assert code == 128 + sig, err
    assert "Traceback" not in err and "Fatal Python error" not in err, err
    assert f"demo stopped ({sig.name}): children killed, 13 object(s) removed" in out
    assert run.left() == []


def _wait_pid(pid: int, timeout: float) -> int | None:
    """The exit code of child `pid`, or None if it is still running after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return None


def test_closing_its_terminal_removes_everything() -> None:
    """The reported case: the demo runs in a terminal (a pty it controls) and the window is closed."""
    pid, master = pty.fork()
    if pid == 0:  # the child: straight to exec
        os.execv(sys.executable, [sys.executable, "-m", "ipcwatch", "demo"])
    run, code = DemoRun(pid), None
    try:
        run.take(_read_until_running(master))
        os.close(master)  # hang-up: SIGHUP to the session leader, reads and writes on the terminal fail (EIO)
        master = -1
        code = _wait_pid(pid, STOP_TIMEOUT)
        assert code == 128 + signal.SIGHUP
        assert run.left() == []
    finally:
        if master >= 0:
            os.close(master)
        if code is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            workload.sweep("demo")


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
    run.proc.communicate(timeout=STOP_TIMEOUT)  # end of input too late to matter: SIGKILL is not caught
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


def test_marker_is_private_and_an_unsafe_state_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    monkeypatch.setattr(workload, "state_dir", lambda: str(state))
    ledger = workload.Ledger.open("demo-test")
    try:
        assert ledger.marker and ledger.problem is None
        assert state.stat().st_mode & 0o777 == 0o700
        assert (state / ledger.marker).stat().st_mode & 0o777 == 0o600
        fifo = tmp_path / "made.fifo"
        os.mkfifo(fifo)
        entry = ledger.add(f"fifo:{fifo}")
        assert entry.identity and str(fifo) in (state / ledger.marker).read_text()
    finally:
        outcomes = ledger.remove_all()
    assert [o.ok for o in outcomes] == [True] and not fifo.exists() and os.listdir(state) == []

    state.chmod(0o755)  # readable by others: refused, and the workload runs without a marker
    unsafe = workload.Ledger.open("demo-test")
    assert unsafe.marker is None and "not private" in str(unsafe.problem)
    with pytest.raises(workload.StateDirError):
        workload.sweep("demo-test")

    state.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    state.symlink_to(tmp_path / "elsewhere")  # a planted symlink is never followed
    assert workload.Ledger.open("demo-test").marker is None
    assert os.listdir(tmp_path / "elsewhere") == []
