"""Shared fixtures: real IPC objects and child processes, each removed at teardown even when a test fails.

Objects are made with ipcwatch.workload (the demo's and the load generator's module too) and recorded in the
test's `made` ledger, which removes them identity-checked at teardown; children start and stop through
workload.children. Every name carries this run's unique prefix and every key comes from TEST_KEYS, so parallel
runs never collide; a session finaliser sweeps what tests made by hand with them, and a killed session's ledgers
are swept by the next one.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import itertools
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
from typing import TypeVar

import posix_ipc
import pytest
import sysv_ipc
from packaging.requirements import Requirement

import ipcwatch
from ipcwatch.actions.verify import lookup
from ipcwatch.scan import IpcObject, ScanConfig, Snapshot, scan
from ipcwatch.scan.parsers import parse_table
from ipcwatch.workload import children, objects
from ipcwatch.workload.children import Child
from ipcwatch.workload.keys import KeyRange
from ipcwatch.workload.ledger import Ledger, sweep

RUN_TAG = f"ipcwt{os.getpid()}x{secrets.token_hex(3)}"
TEST_KEYS = KeyRange(0x49000000, 0x1000000)
LEDGER_TOOL = "tests"
_issued_keys: set[int] = set()
_names = itertools.count()  # the names this run has made


def unique_name(suffix: str = "") -> str:
    """A POSIX-object name no other run uses and this run uses once (without the leading slash): a random token
    alone collided within a run (two of the ~1,000 names a suite makes drew the same 3 bytes)."""
    return f"{RUN_TAG}{next(_names):x}{suffix}"


def unique_key() -> int:
    """A SysV key no live object uses; remembered so the session sweep can remove leftovers."""
    key = TEST_KEYS.free(taken=_issued_keys)
    _issued_keys.add(key)
    return key


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


@pytest.fixture
def made(cleanup: Cleanup) -> Ledger:
    """This test's ledger: what the object fixtures make is recorded in it, and removed (identity-checked) at
    teardown after every callback registered later (handles closed, children stopped) has run."""
    ledger = Ledger.open(LEDGER_TOOL)
    cleanup.add(ledger.remove_all)
    return ledger


@pytest.fixture
def spawn(cleanup: Cleanup, made: Ledger) -> Callable[..., Child]:
    """Start `python -c CODE` in a child; wait until it prints READY; kill and reap it at teardown.

    The code can print values before READY (they come back in `Child.lines`) and should then block, e.g. on
    `sys.stdin.read()` (the child's stdin is a pipe the fixture holds open). `pass_fds` are inherited under the
    same numbers.
    """

    def start(code: str, timeout: float = 20.0, pass_fds: Iterable[int] = ()) -> Child:
        child = children.start([sys.executable, "-c", textwrap.dedent(code)], pass_fds=pass_fds, stdin=True)
        made.add(f"process:{child.pid}")  # a killed session's children are swept with its objects
        cleanup.add(child.stop)
        child.wait_ready(timeout, keep_stdout=True)
        return child

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


def listed_sysv_ids(table: str) -> set[int]:
    """The ids /proc/sysvipc/TABLE lists now (`shm`, `msg` or `sem`)."""
    with open(f"/proc/sysvipc/{table}") as f:
        return {int(line.split()[1]) for line in f.readlines()[1:] if line.strip()}


def children_of(pid: int) -> set[int]:
    """The pids whose parent is `pid`, from /proc/*/stat."""
    found = set()
    for name in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(Path(f"/proc/{name}/stat").read_text().rpartition(")")[2].split()[1]) == pid:
                found.add(int(name))
    return found


def shm_row(shmid: int) -> dict[str, int]:
    """A segment's row in /proc/sysvipc/shm (opening it with sysv_ipc would attach it)."""
    with open("/proc/sysvipc/shm", "rb") as f:
        return next(row for row in parse_table(f.read()) if row["shmid"] == shmid)


# --- real objects ---------------------------------------------------------------------------------------------


SysvObject = TypeVar("SysvObject", sysv_ipc.SharedMemory, sysv_ipc.MessageQueue, sysv_ipc.Semaphore)


def _sysv(made: Ledger, kind: str, make: Callable[[int], SysvObject], key: int | None) -> SysvObject:
    """`make(key)` (a sysv_ipc creation with IPC_CREX: segments start filled with spaces, as tests expect) under
    `key`, else a fresh key of TEST_KEYS; recorded in the test's ledger."""
    obj = make(key) if key is not None else TEST_KEYS.create(make)
    _issued_keys.add(obj.key)
    made.add(f"{kind}:{obj.id}")
    return obj


@pytest.fixture
def sysv_shm(made: Ledger) -> Callable[..., sysv_ipc.SharedMemory]:
    def make(size: int = 4096, key: int | None = None) -> sysv_ipc.SharedMemory:
        shm = _sysv(made, "sysv-shm", lambda k: sysv_ipc.SharedMemory(k, sysv_ipc.IPC_CREX, size=size, mode=0o600), key)
        shm.detach()  # sysv_ipc attaches on creation; tests attach explicitly where they need a holder
        return shm

    return make


@pytest.fixture
def sysv_msg(made: Ledger) -> Callable[..., sysv_ipc.MessageQueue]:
    def make(key: int | None = None) -> sysv_ipc.MessageQueue:
        return _sysv(made, "sysv-msg", lambda k: sysv_ipc.MessageQueue(k, sysv_ipc.IPC_CREX, mode=0o600), key)

    return make


@pytest.fixture
def sysv_sem(made: Ledger) -> Callable[..., sysv_ipc.Semaphore]:
    def make(initial: int = 0, key: int | None = None) -> sysv_ipc.Semaphore:
        def create(k: int) -> sysv_ipc.Semaphore:
            return sysv_ipc.Semaphore(k, sysv_ipc.IPC_CREX, mode=0o600, initial_value=initial)

        return _sysv(made, "sysv-sem", create, key)

    return make


@pytest.fixture
def posix_shm(made: Ledger) -> Callable[..., tuple[str, posix_ipc.SharedMemory]]:
    """(name without slash, object); the object's fd is closed at once, the name unlinked at teardown."""

    def make(size: int = 4096, data: bytes = b"") -> tuple[str, posix_ipc.SharedMemory]:
        name = unique_name()
        shm = objects.posix_shm(name, size, data)
        made.add(f"posix-shm:{name}")
        shm.close_fd()
        return name, shm

    return make


@pytest.fixture
def posix_sem(made: Ledger, cleanup: Cleanup) -> Callable[..., tuple[str, posix_ipc.Semaphore]]:
    def make(initial: int = 0) -> tuple[str, posix_ipc.Semaphore]:
        name = unique_name()
        sem = objects.posix_sem(name, initial)
        made.add(f"posix-sem:{name}")
        cleanup.add(sem.close)
        return name, sem

    return make


@pytest.fixture
def empty_sem_file(made: Ledger) -> str:
    """The sem trap (HOSTILE 6): a 0-byte, world-writable `/dev/shm/sem.NAME`; returns NAME."""
    name = unique_name()
    fd = os.open(f"/dev/shm/sem.{name}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    os.close(fd)
    made.add(f"posix-sem:{name}")
    return name


@pytest.fixture
def posix_mq(made: Ledger, cleanup: Cleanup) -> Callable[..., tuple[str, posix_ipc.MessageQueue]]:
    if not mqueue_mounted():
        pytest.skip("/dev/mqueue is not mounted")

    def make(max_messages: int = 8, max_message_size: int = 256) -> tuple[str, posix_ipc.MessageQueue]:
        name = unique_name()
        mq = objects.posix_mq(name, max_messages, max_message_size)
        made.add(f"posix-mq:{name}")
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
def make_fifo(fifo_dir: str, made: Ledger) -> Callable[[str], str]:
    def make(name: str = "") -> str:
        path = objects.fifo(os.path.join(fifo_dir, name or unique_name(".fifo")))
        made.add(f"fifo:{path}")
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
    with contextlib.suppress(OSError):  # an unsafe state directory: the ledgers say why (no marker)
        sweep(LEDGER_TOOL)  # what killed sessions' ledgers list (their owners are gone; identity-checked)
    yield
    _sweep_leftovers()


_SUITES = ("unit", "live", "tui")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its suite (tests/unit, tests/live, tests/tui): `pytest -m unit` runs the fast ones."""
    for item in items:
        parts = item.path.relative_to(Path(__file__).parent).parts
        if parts and parts[0] in _SUITES:
            item.add_marker(parts[0])
