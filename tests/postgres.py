"""A private PostgreSQL 15 cluster for tests (fixture `postgres`), and psql sessions that hold and wait on locks.

The cluster runs as the `postgres` user (through `setpriv`, which execs, so no extra process sits in between) in
a fresh temporary directory, on a free port of 127.0.0.1 and a private unix socket directory. The finaliser stops it
with `pg_ctl stop -m immediate`, then removes anything it left: its SysV segments, its `/dev/shm/PostgreSQL.*`
segments and the directory. Without root or the Debian package the tests are skipped with the reason.

    def test_x(postgres):
        holder, waiter = postgres.row_lock()   # waiter's backend now sleeps on holder's row lock
        waiter.backend_pid, postgres.postmaster_pid
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

PG_BIN = "/usr/lib/postgresql/15/bin"
PSQL = "/usr/bin/psql"
USER = "postgres"
START_TIMEOUT = 60


def _as_postgres(*argv: str) -> list[str]:
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups", "--", *argv]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dev_shm_segments() -> set[str]:
    return {n for n in os.listdir("/dev/shm") if n.startswith("PostgreSQL.")}


def _sysv_segments_created_by(pids: set[int]) -> list[int]:
    ids = []
    with open("/proc/sysvipc/shm") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if len(cols) > 5 and int(cols[4]) in pids:
                ids.append(int(cols[1]))
    return ids


class Session:
    """An interactive psql connected to the cluster: `send` writes SQL without waiting (it may block in the
    server), `query` writes one statement and returns its single output line."""

    def __init__(self, cluster: Cluster) -> None:
        self.proc = subprocess.Popen(
            _as_postgres(PSQL, *cluster.conninfo, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.backend_pid = int(self.query("SELECT pg_backend_pid();"))

    def send(self, sql: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(sql.rstrip() + "\n")
        self.proc.stdin.flush()

    def query(self, sql: str) -> str:
        self.send(sql)
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@dataclass
class Cluster:
    base: str  # the temporary directory: data/, sock/, log
    port: int
    postmaster_pid: int = 0
    postmaster_fd: int | None = None  # a pidfd: the finaliser can only ever kill this postmaster
    sessions: list[Session] = field(default_factory=list)

    @property
    def data_dir(self) -> str:
        return os.path.join(self.base, "data")

    @property
    def socket_dir(self) -> str:
        return os.path.join(self.base, "sock")

    @property
    def socket_path(self) -> str:
        return os.path.join(self.socket_dir, f".s.PGSQL.{self.port}")

    @property
    def conninfo(self) -> tuple[str, ...]:
        return ("-h", self.socket_dir, "-p", str(self.port), "-U", USER, "-d", "postgres")

    def psql(self, sql: str, timeout: float = 30) -> str:
        """Run SQL in a fresh connection; its output, unaligned and without headers."""
        done = subprocess.run(
            _as_postgres(PSQL, *self.conninfo, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql),
            capture_output=True, text=True, timeout=timeout, check=True,
        )
        return done.stdout.strip()

    def session(self) -> Session:
        """A new connection kept open (closed at teardown); its backend pid is `backend_pid`."""
        s = Session(self)
        self.sessions.append(s)
        return s

    def backend_pids(self) -> set[int]:
        rows = self.psql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'")
        return {int(p) for p in rows.split()}

    def row_lock(self, table: str = "ipcwatch_locks", timeout: float = 20) -> tuple[Session, Session]:
        """Two sessions: the first holds a row lock (BEGIN; UPDATE, not committed), the second waits for it in the
        same UPDATE. Returns once the server reports the second waiting on a lock."""
        self.psql(f"CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, v int); "
                  f"INSERT INTO {table} VALUES (1, 0) ON CONFLICT DO NOTHING;")
        holder, waiter = self.session(), self.session()
        assert holder.query(f"BEGIN; UPDATE {table} SET v = v + 1 WHERE id = 1; SELECT 'held';") == "held"
        waiter.send(f"BEGIN; UPDATE {table} SET v = v + 1 WHERE id = 1;")
        deadline = time.monotonic() + timeout
        query = f"SELECT wait_event_type FROM pg_stat_activity WHERE pid = {waiter.backend_pid}"
        while self.psql(query) != "Lock":
            assert time.monotonic() < deadline, "the second session never waited for the row lock"
            time.sleep(0.05)
        return holder, waiter


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run PostgreSQL as the postgres user"
    for path in (f"{PG_BIN}/initdb", f"{PG_BIN}/pg_ctl", f"{PG_BIN}/postgres", PSQL):
        if not os.access(path, os.X_OK):
            return f"PostgreSQL 15 is not installed ({path} missing; scripts/install-test-peers installs it)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no {USER} user"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing"
    return None


def _start(cluster: Cluster) -> str | None:
    """initdb and start; None when it is up, else why not."""
    os.mkdir(cluster.socket_dir)
    info = pwd.getpwnam(USER)
    for path in (cluster.base, cluster.socket_dir):
        os.chown(path, info.pw_uid, info.pw_gid)
    try:
        subprocess.run(
            _as_postgres(f"{PG_BIN}/initdb", "-D", cluster.data_dir, "-A", "trust", "-U", USER, "--no-sync",
                         "-E", "UTF8", "--locale=C"),
            capture_output=True, text=True, timeout=120, check=True,
        )
        options = f"-p {cluster.port} -k {cluster.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(f"{PG_BIN}/pg_ctl", "-D", cluster.data_dir, "-l", os.path.join(cluster.base, "log"),
                         "-o", options, "-w", "-t", str(START_TIMEOUT), "start"),
            capture_output=True, text=True, timeout=START_TIMEOUT + 30, check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        out = getattr(exc, "stderr", "") or getattr(exc, "stdout", "") or ""
        return f"PostgreSQL could not start: {str(out).strip()[-300:] or exc}"
    with open(os.path.join(cluster.data_dir, "postmaster.pid")) as f:
        cluster.postmaster_pid = int(f.readline())
    cluster.postmaster_fd = os.pidfd_open(cluster.postmaster_pid)
    return None


def _stop(cluster: Cluster, shm_before: set[str]) -> None:
    for s in cluster.sessions:
        s.close()
    if cluster.postmaster_fd is not None:
        stopped = subprocess.run(
            _as_postgres(f"{PG_BIN}/pg_ctl", "-D", cluster.data_dir, "-m", "immediate", "-w", "stop"),
            capture_output=True, timeout=60, check=False,
        )
        if stopped.returncode != 0:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(cluster.postmaster_fd, signal.SIGKILL)
        os.close(cluster.postmaster_fd)
    for shmid in _sysv_segments_created_by({cluster.postmaster_pid}):
        subprocess.run(["ipcrm", "-m", str(shmid)], capture_output=True, check=False)
    for name in _dev_shm_segments() - shm_before:
        with contextlib.suppress(FileNotFoundError):
            if os.stat(f"/dev/shm/{name}", follow_symlinks=False).st_uid == pwd.getpwnam(USER).pw_uid:
                os.unlink(f"/dev/shm/{name}")
    shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[Cluster]:
    """A running private cluster; stopped (immediate) and every trace of it removed afterwards."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    shm_before = _dev_shm_segments()
    cluster = Cluster(tempfile.mkdtemp(prefix="ipcwt-pg"), _free_port())
    try:
        reason = _start(cluster)
        if reason:
            pytest.skip(reason)
        yield cluster
    finally:
        _stop(cluster, shm_before)
