"""Shared fixtures: real IPC objects and child processes, each removed at teardown even when a test fails.

Every name and key carries this run's unique prefix, so parallel runs and leftovers never collide, and a
session finaliser sweeps anything with the prefix that a crashed test left behind.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import posix_ipc
import pytest
import sysv_ipc
from packaging.requirements import Requirement

import ipcwatch
from ipcwatch.actions.verify import lookup
from ipcwatch.scan import IpcObject, ScanConfig, Snapshot, scan
from ipcwatch.scan.parsers import parse_table

RUN_TAG = f"ipcwt{os.getpid()}x{secrets.token_hex(3)}"
_issued_keys: set[int] = set()


def unique_name(suffix: str = "") -> str:
    """A POSIX-object name no other run uses (without the leading slash)."""
    return f"{RUN_TAG}{secrets.token_hex(3)}{suffix}"


def unique_key() -> int:
    """A SysV key no live object uses; remembered so the session sweep can remove leftovers."""
    while True:
        key = 0x49000000 | secrets.randbelow(0x00FFFFFF)
        if key not in _issued_keys and not _key_in_use(key):
            _issued_keys.add(key)
            return key


def _key_in_use(key: int) -> bool:
    for table in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{table}") as f:
                if any(line.split()[:1] == [str(key)] for line in f.readlines()[1:]):
                    return True
        except OSError:
            pass
    return False


def mqueue_mounted() -> bool:
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1:3] == ["/dev/mqueue", "mqueue"] for line in f)
    except OSError:
        return False


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
needs_mqueue = pytest.mark.skipif(not mqueue_mounted(), reason="/dev/mqueue is not mounted")


class Cleanup:
    """Callbacks run in reverse order at teardown; each one's failure is ignored (the object may be gone)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], object]] = []

    def add(self, callback: Callable[[], object]) -> None:
        self._callbacks.append(callback)

    def run(self) -> None:
        while self._callbacks:
            callback = self._callbacks.pop()
            try:
                callback()
            except Exception:  # noqa: BLE001 - best effort: the object may already be gone
                pass


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    c = Cleanup()
    yield c
    c.run()


@dataclass
class Child:
    """A child Python process started by `spawn`; `lines` are what it printed before it said READY."""

    proc: subprocess.Popen[str]
    lines: list[str]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def spawn(cleanup: Cleanup) -> Callable[..., Child]:
    """Start `python -c CODE` in a child; wait until it prints READY; kill and reap it at teardown.

    The code can print values before READY (they come back in `Child.lines`) and should then block, e.g. on
    `sys.stdin.read()` (the child's stdin is a pipe the fixture holds open). `pass_fds` are inherited under the
    same numbers.
    """

    def start(code: str, timeout: float = 20.0, pass_fds: Iterable[int] = ()) -> Child:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            pass_fds=tuple(pass_fds),
        )
        child = Child(proc, [])
        cleanup.add(child.stop)
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            if line.strip() == "READY":
                return child
            if not line:
                raise AssertionError(f"child exited with {proc.wait()} before READY; printed {child.lines!r}")
            child.lines.append(line.rstrip("\n"))
            if time.monotonic() > deadline:
                raise AssertionError("child did not print READY in time")

    return start


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> object:
    """Poll until predicate() is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def scan_kinds(*kinds: str, **config: object) -> Snapshot:
    return scan(ScanConfig(kinds=frozenset(kinds), **config))  # type: ignore[arg-type]


def obj_of(ref: str) -> IpcObject:
    """The live object behind `ref` (a fresh, narrow scan); fails the test if it is not there."""
    found = lookup(ref)
    assert isinstance(found, IpcObject), found
    return found


def shm_row(shmid: int) -> dict[str, int]:
    """A segment's row in /proc/sysvipc/shm (opening it with sysv_ipc would attach it)."""
    with open("/proc/sysvipc/shm", "rb") as f:
        return next(row for row in parse_table(f.read()) if row["shmid"] == shmid)


# --- real objects ---------------------------------------------------------------------------------------------


@pytest.fixture
def sysv_shm(cleanup: Cleanup) -> Callable[..., sysv_ipc.SharedMemory]:
    def make(size: int = 4096, key: int | None = None) -> sysv_ipc.SharedMemory:
        shm = sysv_ipc.SharedMemory(unique_key() if key is None else key, sysv_ipc.IPC_CREX, size=size, mode=0o600)
        cleanup.add(shm.remove)
        shm.detach()  # sysv_ipc attaches on creation; tests attach explicitly where they need a holder
        return shm

    return make


@pytest.fixture
def sysv_msg(cleanup: Cleanup) -> Callable[..., sysv_ipc.MessageQueue]:
    def make(key: int | None = None) -> sysv_ipc.MessageQueue:
        mq = sysv_ipc.MessageQueue(unique_key() if key is None else key, sysv_ipc.IPC_CREX, mode=0o600)
        cleanup.add(mq.remove)
        return mq

    return make


@pytest.fixture
def sysv_sem(cleanup: Cleanup) -> Callable[..., sysv_ipc.Semaphore]:
    def make(initial: int = 0, key: int | None = None) -> sysv_ipc.Semaphore:
        sem = sysv_ipc.Semaphore(
            unique_key() if key is None else key, sysv_ipc.IPC_CREX, mode=0o600, initial_value=initial
        )
        cleanup.add(sem.remove)
        return sem

    return make


@pytest.fixture
def posix_shm(cleanup: Cleanup) -> Callable[..., tuple[str, posix_ipc.SharedMemory]]:
    """(name without slash, object); the object's fd is closed at once, the name unlinked at teardown."""

    def make(size: int = 4096, data: bytes = b"") -> tuple[str, posix_ipc.SharedMemory]:
        name = unique_name()
        shm = posix_ipc.SharedMemory("/" + name, posix_ipc.O_CREX, mode=0o600, size=size)
        cleanup.add(lambda: posix_ipc.unlink_shared_memory("/" + name))
        if data:
            os.pwrite(shm.fd, data, 0)
        shm.close_fd()
        return name, shm

    return make


@pytest.fixture
def posix_sem(cleanup: Cleanup) -> Callable[..., tuple[str, posix_ipc.Semaphore]]:
    def make(initial: int = 0) -> tuple[str, posix_ipc.Semaphore]:
        name = unique_name()
        sem = posix_ipc.Semaphore("/" + name, posix_ipc.O_CREX, mode=0o600, initial_value=initial)
        cleanup.add(lambda: posix_ipc.unlink_semaphore("/" + name))
        cleanup.add(sem.close)
        return name, sem

    return make


@pytest.fixture
def empty_sem_file(cleanup: Cleanup) -> str:
    """The sem trap (HOSTILE 6): a 0-byte, world-writable `/dev/shm/sem.NAME`; returns NAME."""
    name = unique_name()
    path = f"/dev/shm/sem.{name}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    os.close(fd)
    cleanup.add(lambda: os.unlink(path))
    return name


@pytest.fixture
def posix_mq(cleanup: Cleanup) -> Callable[..., tuple[str, posix_ipc.MessageQueue]]:
    if not mqueue_mounted():
        pytest.skip("/dev/mqueue is not mounted")

    def make(max_messages: int = 8, max_message_size: int = 256) -> tuple[str, posix_ipc.MessageQueue]:
        name = unique_name()
        mq = posix_ipc.MessageQueue(
            "/" + name, posix_ipc.O_CREX, mode=0o600, max_messages=max_messages, max_message_size=max_message_size
        )
        cleanup.add(lambda: posix_ipc.unlink_message_queue("/" + name))
        cleanup.add(mq.close)
        return name, mq

    return make


@pytest.fixture
def fifo_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private directory for FIFOs and socket files; pass `file_dirs=(fifo_dir,)` to the scan."""
    path = tmp_path_factory.mktemp("fifos")
    os.chmod(path, 0o700)
    return str(path)


@pytest.fixture
def make_fifo(fifo_dir: str, cleanup: Cleanup) -> Callable[[str], str]:
    def make(name: str = "") -> str:
        path = os.path.join(fifo_dir, name or unique_name(".fifo"))
        os.mkfifo(path, 0o600)
        cleanup.add(lambda: os.unlink(path))
        assert stat.S_ISFIFO(os.lstat(path).st_mode)
        return path

    return make


# --- the CLI as another user -----------------------------------------------------------------------------------

NOBODY = 65534
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
AS_NOBODY = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")


@dataclass(frozen=True)
class NonRootCli:
    """Runs `python -m ipcwatch` as uid/gid 65534 from a world-readable copy of the package and its dependencies.

    The clone (and its venv) may sit under a directory that user cannot traverse (root's 0700 home, `mktemp -d`).
    """

    python: str
    env: dict[str, str]
    home: str

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [*AS_NOBODY, self.python, "-m", "ipcwatch", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.home, env=self.env,
                              stdin=subprocess.DEVNULL)


def _runtime_distributions() -> dict[str, importlib.metadata.Distribution]:
    """Every installed distribution ipcwatch needs at run time (no extras), by name."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = ["ipcwatch"]
    while todo:
        for req in map(Requirement, importlib.metadata.requires(todo.pop()) or ()):
            if req.name in found or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
                continue
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):  # not installed: optional here
                found[req.name] = importlib.metadata.distribution(req.name)
                todo.append(req.name)
    return found


def _copy_readable(home: Path) -> None:
    """Copy the package (with its built extensions) and its runtime dependencies into `home`, readable by all."""
    shutil.copytree(Path(ipcwatch.__file__).parent, home / "ipcwatch", ignore=shutil.ignore_patterns("__pycache__"))
    for dist in _runtime_distributions().values():
        for file in dist.files or ():
            if file.parts[0] != ".." and "__pycache__" not in file.parts:  # not scripts outside site-packages
                (home / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(dist.locate_file(file), home / file)
    for path in (home, *home.rglob("*")):  # whatever the umask was
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture(scope="session")
def nonroot_cli() -> Iterator[NonRootCli]:
    """The CLI as uid 65534 (see NonRootCli); skips unless root with setpriv and a Python that user can run."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    home = Path(tempfile.mkdtemp(prefix="ipcwatch-nonroot-", dir="/tmp"))  # /tmp: traversable by everyone
    try:
        _copy_readable(home)
        env = {"PATH": SYSTEM_PATH, "HOME": pwd.getpwuid(NOBODY).pw_dir, "LANG": "C.UTF-8", "PYTHONPATH": str(home),
               "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}  # that user's own environment, not ours
        # the venv's base (the extensions were built for it), else the system's Python of the same version; it must
        # start as that user by itself too (the CLI starts children with sys.executable: `demo`)
        system = shutil.which(f"python{sys.version_info[0]}.{sys.version_info[1]}", path=SYSTEM_PATH)
        candidates = [getattr(sys, "_base_executable", None), system]
        probe = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import ipcwatch.cli, psutil'], check=1)"
        for python in filter(None, dict.fromkeys(candidates)):
            check = subprocess.run([*AS_NOBODY, python, "-c", probe], capture_output=True, timeout=60, cwd=home,
                                   env=env)
            if check.returncode == 0:
                yield NonRootCli(python, env, str(home))
                return
        pytest.skip(f"no Python of this version that uid {NOBODY} can run: tried {list(candidates)}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _sweep_leftovers() -> None:
    """Remove anything this run created that a crashed test left behind."""
    for directory in ("/dev/shm", "/dev/mqueue"):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if RUN_TAG in name:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))
    for table, remove in (("shm", sysv_ipc.remove_shared_memory), ("msg", sysv_ipc.remove_message_queue),
                          ("sem", sysv_ipc.remove_semaphore)):
        try:
            with open(f"/proc/sysvipc/{table}") as f:
                rows = [line.split() for line in f.readlines()[1:]]
        except OSError:
            continue
        for row in rows:
            key, ident = int(row[0]), int(row[1])
            if key in _issued_keys:
                with contextlib.suppress(Exception):
                    remove(ident)


@pytest.fixture(scope="session", autouse=True)
def sweep_leftovers() -> Iterator[None]:
    yield
    _sweep_leftovers()
