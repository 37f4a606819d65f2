"""The exporter's /metrics agrees with `ipcwatch list --json` on a known population, built in private namespaces.

The population lives in fresh IPC, PID, network and mount namespaces (tmpfs on /dev/shm, /tmp and /run, its own
mqueue), so other tests' objects cannot change the counts between the two scans, and everything is destroyed
with the namespaces even when the test fails. The driver (this file, run as `python -m
tests.live.exporter.test_metrics OUT` inside `unshare`) creates: SysV segments (one held, one stale), queues (a
child blocked in msgrcv on one, a stale one with a message), a semaphore set, POSIX shm (one with each hostile
name), a POSIX queue half full, a named semaphore, a FIFO nobody opened, a unix listener with two pending
clients, a child reading a pipe only it can write (dead partner) and two children reading each other's pipe (a
wait cycle). It then starts `ipcwatch exporter --listen 127.0.0.1:0 --per-object 20`, scrapes /metrics, runs
`ipcwatch list --json` and `ipcwatch why PID --json`, stops the exporter with SIGTERM and writes all of it out.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ipcwatch.exporter.metrics import OTHER_KIND
from ipcwatch.scan import KINDS
from ipcwatch.text import escape
from tests.conftest import needs_root
from tests.paths import REPO
from tests.private_mounts import mount_fresh

ROOT = str(REPO)
HOSTILE = ("new\nline", 'quo"te', "back\\slash", "esc\x1b[31mred\x1b]0;title\x07", "c1\x9bmid")
MQ_MAX = 4
BACKLOG = 4
STALE_MSG = b"m" * 100
SHM_LEAK = 1 << 20

# --- inside the namespaces -------------------------------------------------------------------------------------


def _private_mounts() -> None:
    for target, fstype in (("/dev/shm", "tmpfs"), ("/dev/mqueue", "mqueue"), ("/tmp", "tmpfs"), ("/run", "tmpfs")):
        mount_fresh(target, fstype)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def _fork(body: Any) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    return pid


def _wait_asleep(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
        with open(f"/proc/{pid}/syscall") as f:
            running = f.read().startswith("running")
        if state == "S" and not running:
            return
        time.sleep(0.02)
    raise AssertionError(f"child {pid} never went to sleep")


def _populate(children: list[int]) -> dict[str, Any]:
    import posix_ipc  # noqa: PLC0415 - only inside the namespaces
    import sysv_ipc  # noqa: PLC0415

    held = sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, size=65536)
    waited = sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX)
    sysv_ipc.Semaphore(None, sysv_ipc.IPC_CREX)

    def leave_stale() -> None:  # its creator exits: nattch 0 and creator gone; last sender gone
        sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, size=8192).detach()
        sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX).send(STALE_MSG)

    os.waitpid(_fork(leave_stale), 0)
    leak = posix_ipc.SharedMemory("/leak", posix_ipc.O_CREX, size=SHM_LEAK)
    leak.close_fd()
    for i, name in enumerate(HOSTILE):  # the largest objects, so --per-object shows them all
        fd = os.open(f"/dev/shm/{name}", os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.ftruncate(fd, (1 << 30) + i)  # sparse: allocates nothing
        os.close(fd)
    mq = posix_ipc.MessageQueue("/half", posix_ipc.O_CREX, max_messages=MQ_MAX, max_message_size=64)
    mq.send(b"one")
    mq.send(b"two")
    sem = posix_ipc.Semaphore("/sem", posix_ipc.O_CREX, initial_value=1)
    os.mkfifo("/tmp/nobody.fifo")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("/run/listen.sock")
    listener.listen(BACKLOG)
    clients = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    for c in clients:
        c.connect("/run/listen.sock")

    def hold() -> None:
        held.attach()
        signal.pause()

    children.append(_fork(hold))
    for thing in (listener, *clients):  # the holder child keeps them; the driver lets go
        thing.close()
    mq.close()
    sem.close()

    children.append(_fork(lambda: waited.receive()))  # blocks: the queue is empty

    def read_own_pipe() -> None:
        r, _w = os.pipe()  # it holds the only write end, and it is waiting: a dead partner
        os.read(r, 1)

    children.append(_fork(read_own_pipe))
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()

    def cycle(read_end: int, write_end: int, others: tuple[int, int]) -> Any:
        def body() -> None:
            for fd in others:
                os.close(fd)
            os.read(read_end, 1)
            os.write(write_end, b"x")

        return body

    children.append(_fork(cycle(a_r, a_w, (b_r, b_w))))
    children.append(_fork(cycle(b_r, b_w, (a_r, a_w))))
    for fd in (a_r, b_w, b_r, a_w):
        os.close(fd)
    for pid in children:
        _wait_asleep(pid)
    return {
        "children": children,
        "msgrcv_pid": children[1],
        "self_pipe_pid": children[2],
        "cycle_pids": children[3:5],
        "shmmni": int(_read("/proc/sys/kernel/shmmni")),
        "held_shmid": held.id,
    }


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _start_exporter(err_path: str) -> tuple[subprocess.Popen[bytes], int]:
    err = open(err_path, "wb")  # noqa: SIM115 - the exporter writes to it until it stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "ipcwatch", "exporter", "--listen", "127.0.0.1:0", "--per-object", "20"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    err.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = _read(err_path)
        if "serving http://127.0.0.1:" in text:
            return proc, int(text.split("serving http://127.0.0.1:")[1].split("/")[0])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the exporter did not start: {_read(err_path)}")


def _run_to_file(args: list[str], path: str) -> str:
    with open(path, "wb") as out:  # a file, not a pipe: the command's output adds no object to the scans
        subprocess.run([sys.executable, "-m", "ipcwatch", *args], stdin=subprocess.DEVNULL, stdout=out, timeout=60)
    return _read(path)


def inside(out_path: str) -> None:
    out = open(out_path, "w")  # noqa: SIM115 - opened before a tmpfs hides the host's /tmp
    _private_mounts()
    children: list[int] = []
    try:
        world = _populate(children)
        exporter, port = _start_exporter("/tmp/exporter.err")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
                body = response.read().decode("utf-8")
            listing = json.loads(_run_to_file(["list", "--json"], "/tmp/list.json"))
            why = {pid: json.loads(_run_to_file(["why", str(pid), "--json"], "/tmp/why.json")) for pid in children}
        finally:
            exporter.send_signal(signal.SIGTERM)
            rc = exporter.wait(timeout=15)
        world.update(
            metrics=body,
            list=listing,
            why=why,
            exporter_pid=exporter.pid,
            exporter_rc=rc,
            exporter_err=_read("/tmp/exporter.err"),
        )
        with out:
            json.dump(world, out)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- the test ----------------------------------------------------------------------------------------------------


def _samples(body: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _by(samples: list[tuple[dict[str, str], float]], label: str) -> dict[str, float]:
    return {labels[label]: value for labels, value in samples}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces)")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare or ip is not installed")
    out = tmp_path_factory.mktemp("exporter") / "world.json"
    done = subprocess.run(
        ["unshare", "--ipc", "--pid", "--net", "--mount", "--fork", "--kill-child", "--mount-proc",
         "--propagation", "private", sys.executable, "-m", "tests.live.exporter.test_metrics", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    world = json.loads(out.read_text())
    world["samples"] = _samples(world["metrics"])
    return world


@needs_root
def test_counts_and_stale_per_kind_agree_with_list_json(world: dict[str, Any]) -> None:
    s, objects = world["samples"], world["list"]["objects"]
    for name, pick in (
        ("ipcwatch_objects", lambda o: 1),
        ("ipcwatch_object_bytes", lambda o: o["size"] or 0),
        ("ipcwatch_stale_objects", lambda o: 1 if o["stale"] else 0),
        ("ipcwatch_stale_bytes", lambda o: (o["size"] or 0) if o["stale"] else 0),
    ):
        expected = Counter[str]()
        for o in objects:
            expected[o["kind"]] += pick(o)
        got = _by(s[name], "kind")
        assert set(got) >= set(KINDS), name
        assert {k: got[k] for k in KINDS} == {k: float(expected[k]) for k in KINDS}, name
    got = _by(s["ipcwatch_objects"], "kind")
    assert (got["sysv-shm"], got["sysv-msg"], got["sysv-sem"]) == (2, 2, 1)
    assert (got["posix-shm"], got["posix-mq"], got["posix-sem"], got["fifo"]) == (1 + len(HOSTILE), 1, 1, 1)
    stale = _by(s["ipcwatch_stale_objects"], "kind")
    assert stale["sysv-shm"] >= 1 and stale["sysv-msg"] >= 1 and stale["fifo"] == 1
    assert _by(s["ipcwatch_stale_bytes"], "kind")["sysv-msg"] == len(STALE_MSG)


@needs_root
def test_blocked_threads_agree_with_list_json_waiters(world: dict[str, Any]) -> None:
    waiting: dict[str, set[tuple[int, int]]] = {}
    for o in world["list"]["objects"]:
        for w in o["waiters"]:
            if w["pid"] != world["exporter_pid"]:  # the exporter does not sample its own threads
                waiting.setdefault(o["kind"], set()).add((w["pid"], w["tid"]))
    got = Counter[str]()
    for labels, value in world["samples"]["ipcwatch_blocked_threads"]:
        got[labels["kind"]] += int(value)
    listed = {kind: n for kind, n in got.items() if kind in KINDS}
    assert listed == {kind: len(threads) for kind, threads in waiting.items()}
    # threads waiting on no listed object (the holder child's pause(): a signal) are kind "other"
    unlisted = [b for report in world["why"].values() for b in report["blocked"] if b["ref"] is None]
    assert got.get(OTHER_KIND, 0) == len(unlisted) and set(got) <= {*KINDS, OTHER_KIND}
    by_op = {(labels["kind"], labels["op"]): v for labels, v in world["samples"]["ipcwatch_blocked_threads"]}
    assert by_op[("sysv-msg", "msgrcv")] == 1
    assert (world["msgrcv_pid"], world["msgrcv_pid"]) in waiting["sysv-msg"]


@needs_root
def test_dead_partners_and_wait_cycles_agree_with_why(world: dict[str, Any]) -> None:
    dead = [
        b for report in world["why"].values() for b in report["blocked"]
        if any(c.startswith("dead partner") for c in b["causes"])
    ]  # fmt: skip
    assert world["self_pipe_pid"] in {b["pid"] for b in dead}
    assert world["samples"]["ipcwatch_dead_partners"] == [({}, float(len(dead)))]
    in_cycle = {
        b["pid"] for report in world["why"].values() for b in report["blocked"]
        if any(c.startswith("wait cycle") for c in b["causes"])
    }  # fmt: skip
    assert in_cycle == set(world["cycle_pids"])
    assert world["samples"]["ipcwatch_wait_cycles"] == [({}, 1.0)]


@needs_root
def test_fill_ratios_and_limits(world: dict[str, Any]) -> None:
    s = world["samples"]
    fill = _by(s["ipcwatch_queue_fill_ratio_max"], "kind")
    assert fill["posix-mq"] == 2 / MQ_MAX
    assert fill["unix"] == 2 / BACKLOG
    assert fill["sysv-msg"] == len(STALE_MSG) / 16384  # msg_qbytes: a new IPC namespace's msgmnb
    used, limit = _by(s["ipcwatch_limit_used"], "resource"), _by(s["ipcwatch_limit"], "resource")
    assert (used["shmmni"], used["msgmni"], used["semmni"], used["mqueue_queues_max"]) == (2, 2, 1, 1)
    assert used["shmmax"] == 65536 and used["semmns"] == 1
    assert limit["shmmni"] == world["shmmni"]


@needs_root
def test_hostile_names_make_valid_escaped_labels(world: dict[str, Any]) -> None:
    body = world["metrics"]
    assert not any(ord(ch) < 0x20 and ch != "\n" or 0x7F <= ord(ch) <= 0x9F for ch in body)
    largest = world["samples"]["ipcwatch_largest_object_bytes"]
    shown = {labels["object"]: labels["ref"] for labels, _ in largest}
    for name in HOSTILE:
        assert shown[escape(name)] == escape(f"posix-shm:{name}")
    sized = [o for o in world["list"]["objects"] if o["size"]]
    assert len(largest) == min(20, len(sized))
    idle = {labels["object"]: v for labels, v in world["samples"]["ipcwatch_stale_object_idle_seconds"]}
    assert all(0 <= idle[escape(name)] < 600 for name in HOSTILE)


@needs_root
def test_exporter_stops_cleanly_on_sigterm(world: dict[str, Any]) -> None:
    assert world["exporter_rc"] == 0
    assert "stopped (SIGTERM)" in world["exporter_err"]
    assert "Traceback" not in world["exporter_err"]


if __name__ == "__main__":
    inside(sys.argv[1])
