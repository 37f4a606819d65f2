"""The action subcommands as a user runs them (`python -m ipcwatch ...`, stdin not a terminal), on real objects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from ipcwatch.actions import signals
from tests.conftest import scan_kinds
from tests.paths import REPO

ROOT = str(REPO)
SLEEPER = 'print("READY", flush=True)\nimport sys\nsys.stdin.read()\n'


def ipcwatch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipcwatch", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False,
    )


def test_peek_text_and_json(sysv_msg):
    mq = sysv_msg()
    mq.send(b"hi\x1b]0;pwned\x07", type=4)
    out = ipcwatch("peek", f"sysv-msg:{mq.id}")
    assert out.returncode == 0, out.stderr
    assert "#0 type 4 size 12" in out.stdout and "\\x1b]0;pwned\\x07" in out.stdout and "\x1b" not in out.stdout
    data = json.loads(ipcwatch("peek", "--json", f"sysv-msg:{mq.id}").stdout)
    assert data["messages"] == [
        {"index": 0, "type": 4, "size": 12, "hex": b"hi\x1b]0;pwned\x07".hex(), "text": "hi\\x1b]0;pwned\\x07"}
    ]
    assert mq.current_messages == 1


def test_send_and_receive(sysv_msg, posix_mq):
    mq = sysv_msg()
    assert ipcwatch("send", f"sysv-msg:{mq.id}", "de ad", "--hex", "--type", "3").returncode == 0
    assert mq.receive(block=False) == (b"\xde\xad", 3)
    mq.send(b"keep", type=1)
    refused = ipcwatch("receive", f"sysv-msg:{mq.id}")
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert mq.current_messages == 1
    got = ipcwatch("receive", f"sysv-msg:{mq.id}", "--yes")
    assert got.returncode == 0 and "keep" in got.stdout
    assert mq.current_messages == 0
    name, pmq = posix_mq()
    assert ipcwatch("send", f"posix-mq:{name}", "hello", "--priority", "2").returncode == 0
    assert pmq.receive(0) == (b"hello", 2)


def test_read_only_refuses_with_exit_3(sysv_msg, sysv_sem, posix_shm, spawn):
    mq = sysv_msg()
    sem = sysv_sem(initial=1)
    name, _ = posix_shm()
    child = spawn(SLEEPER)
    for args in (
        ("send", f"sysv-msg:{mq.id}", "x"),
        ("receive", f"sysv-msg:{mq.id}", "--yes"),
        ("sem", f"sysv-sem:{sem.id}", "post"),
        ("sem", f"sysv-sem:{sem.id}", "set", "--value", "5", "--yes"),
        ("kill", str(child.pid), "--yes"),
        ("rm", f"posix-shm:{name}", "--yes"),
        ("clean", "--yes"),
    ):
        out = ipcwatch("--read-only", *args)
        assert out.returncode == 3, (args, out.stdout, out.stderr)
        assert "read-only" in out.stderr
    assert mq.current_messages == 0 and sem.value == 1 and child.proc.poll() is None
    assert os.path.exists(f"/dev/shm/{name}")


def test_sem_post_wait_set(sysv_sem, posix_sem):
    sem = sysv_sem(initial=0)
    ref = f"sysv-sem:{sem.id}"
    assert ipcwatch("sem", ref, "post", "--value", "2").returncode == 0
    assert sem.value == 2
    assert ipcwatch("sem", ref, "wait").returncode == 0
    assert sem.value == 1
    timed_out = ipcwatch("sem", ref, "wait", "--value", "5", "--timeout", "0.2")
    assert timed_out.returncode == 4 and "timed out" in timed_out.stderr
    assert ipcwatch("sem", ref, "set", "--value", "7").returncode != 0
    assert sem.value == 1
    assert ipcwatch("sem", ref, "set", "--value", "7", "--yes").returncode == 0
    assert sem.value == 7
    shown = ipcwatch("sem", ref, "show")
    assert shown.returncode == 0 and "#0: value 7" in shown.stdout
    name, psem = posix_sem(initial=0)
    assert ipcwatch("sem", f"posix-sem:{name}", "post").returncode == 0
    assert psem.value == 1


def test_kill_needs_yes_and_checks_identity(spawn):
    child = spawn(SLEEPER)
    out = ipcwatch("kill", str(child.pid))
    assert out.returncode != 0 and child.proc.poll() is None
    start = signals.start_time(child.pid)
    wrong = ipcwatch("kill", str(child.pid), "--expect", f"{child.pid}@{start + 7}", "--yes")
    assert wrong.returncode == 3 and child.proc.poll() is None
    assert ipcwatch("kill", "0", "--yes").returncode == 3
    ok = ipcwatch("kill", str(child.pid), "--expect", f"{child.pid}@{start}", "--signal", "KILL", "--yes")
    assert ok.returncode == 0, ok.stderr
    assert child.proc.wait(timeout=10) == -signal.SIGKILL


def test_rm_needs_yes_and_refuses_a_replaced_object(sysv_shm):
    shm = sysv_shm()
    ref = f"sysv-shm:{shm.id}"
    identity = scan_kinds("sysv-shm").get(ref).identity
    out = ipcwatch("rm", ref)
    assert out.returncode != 0 and "nothing was changed" in out.stderr
    assert scan_kinds("sysv-shm").get(ref) is not None
    wrong = ipcwatch("rm", ref, "--expect", identity + "0", "--yes")
    assert wrong.returncode == 3 and "replaced" in wrong.stderr
    assert scan_kinds("sysv-shm").get(ref) is not None
    done = ipcwatch("rm", ref, "--expect", identity, "--yes")
    assert done.returncode == 0, done.stderr
    assert scan_kinds("sysv-shm").get(ref) is None
    assert ipcwatch("rm", ref, "--yes").returncode == 1


def test_rm_in_use_needs_force(posix_shm, spawn):
    name, _ = posix_shm()
    child = spawn(f'import os\nfd = os.open("/dev/shm/{name}", os.O_RDONLY)\nprint("READY", flush=True)\ninput()\n')
    out = ipcwatch("rm", f"posix-shm:{name}", "--yes")
    assert out.returncode == 3 and f"pid {child.pid}" in out.stderr
    assert os.path.exists(f"/dev/shm/{name}")
    forced = ipcwatch("rm", f"posix-shm:{name}", "--yes", "--force-in-use")
    assert forced.returncode == 0 and "IN USE" in forced.stdout
    assert not os.path.exists(f"/dev/shm/{name}")


def test_clean_without_yes_is_a_dry_run(posix_shm):
    name, _ = posix_shm()
    path = f"/dev/shm/{name}"
    os.utime(path, (1, 1))
    out = ipcwatch("clean")
    assert out.returncode == 0, out.stderr
    assert f"posix-shm:{name}" in out.stdout and "dry run: nothing was removed" in out.stdout
    assert os.path.exists(path)
