"""A real PostgreSQL 15: its backends' signal dispositions (the latch's SIGURG), and its IPC listed with the
postmaster and backends as holders. Skipped with the reason where PostgreSQL cannot run."""

from __future__ import annotations

import json
import os

from tests.live.commands.test_signals import ipcwatch
from tests.postgres import Cluster, postgres  # noqa: F401 - the fixture


def _signals(pid: int) -> dict:  # type: ignore[type-arg]
    out = ipcwatch("signals", str(pid), "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_backend_catches_sigterm_and_reads_sigurg_through_a_signalfd(postgres: Cluster) -> None:  # noqa: F811
    """PostgreSQL 15 on Linux wakes its latch with SIGURG: blocked in every thread, read through a signalfd."""
    session = postgres.session()
    backend = _signals(session.backend_pid)
    assert {"SIGTERM", "SIGUSR1", "SIGINT"} <= set(backend["caught"])
    assert "SIGURG" in backend["blocked_by_every_thread"] and backend["signalfd"] == ["SIGURG"]
    now = {v["signal"]: v for v in backend["signals"]}
    assert now["SIGURG"]["effect"] == "signalfd" and "read through a signalfd" in now["SIGURG"]["says"]
    assert now["SIGTERM"]["effect"] == "handler" and now["SIGTERM"]["says"] == "caught by a handler"
    postmaster = _signals(postgres.postmaster_pid)
    assert {"SIGTERM", "SIGHUP", "SIGCHLD"} <= set(postmaster["caught"])


def test_row_lock_waiter_is_a_live_backend(postgres: Cluster) -> None:  # noqa: F811
    holder, waiter = postgres.row_lock()
    assert {holder.backend_pid, waiter.backend_pid} <= postgres.backend_pids()
    waiting = _signals(waiter.backend_pid)
    assert waiting["state"] == "S" and waiting["signalfd"] == ["SIGURG"]


def test_list_shows_its_ipc_with_postmaster_and_backends_as_holders(postgres: Cluster) -> None:  # noqa: F811
    backend = postgres.session().backend_pid
    out = ipcwatch("list", "--json")
    assert out.returncode == 0, out.stderr
    objects = json.loads(out.stdout)["objects"]

    def holders(obj: dict) -> set[int]:  # type: ignore[type-arg]
        return {h["pid"] for h in obj["holders"]}

    sysv = [o for o in objects if o["kind"] == "sysv-shm" and o.get("cpid") == postgres.postmaster_pid]
    assert sysv and {postgres.postmaster_pid, backend} <= holders(sysv[0])
    dsm = [o for o in objects if o["kind"] == "posix-shm" and (o["name"] or "").startswith("PostgreSQL.")]
    assert any({postgres.postmaster_pid, backend} <= holders(o) for o in dsm), dsm
    on_path = [o for o in objects if o["kind"] == "unix" and o.get("path") == postgres.socket_path]
    listener = [o for o in on_path if o["state"] == "listen"]
    assert len(listener) == 1 and holders(listener[0]) == {postgres.postmaster_pid}
    assert backend in set().union(*(holders(o) for o in on_path if o["state"] == "connected"))  # psql's connection
    assert not any(o["stale"] for o in sysv + dsm + listener)
    assert os.path.exists(postgres.socket_path)
