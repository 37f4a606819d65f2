"""Removal on real objects: identity re-check (incl. a SysV id reused in a private IPC namespace), in-use
objects need force, planted symlinks are never followed, vanished objects are "already gone"."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import posix_ipc
import pytest

from ipcwatch.actions import clean as cleaning
from ipcwatch.actions.outcome import Status
from ipcwatch.actions.remove import remove, unlink_checked
from ipcwatch.scan import ScanConfig
from tests.conftest import needs_root, scan_kinds, unique_name
from tests.paths import REPO

ROOT = str(REPO)


def test_remove_sysv_segment(sysv_shm):
    shm = sysv_shm()
    obj = scan_kinds("sysv-shm").get(f"sysv-shm:{shm.id}")
    outcome = remove(obj.ref, obj.identity)
    assert outcome.ok, outcome.message
    assert scan_kinds("sysv-shm").get(obj.ref) is None
    assert remove(obj.ref, obj.identity).status is Status.GONE


def test_wrong_identity_is_refused(sysv_msg):
    mq = sysv_msg()
    obj = scan_kinds("sysv-msg").get(f"sysv-msg:{mq.id}")
    outcome = remove(obj.ref, obj.identity + "x")
    assert outcome.status is Status.REFUSED and "replaced" in outcome.message
    assert scan_kinds("sysv-msg").get(obj.ref) is not None


def test_read_only_refuses(sysv_sem):
    sem = sysv_sem()
    obj = scan_kinds("sysv-sem").get(f"sysv-sem:{sem.id}")
    assert remove(obj.ref, obj.identity, read_only=True).status is Status.REFUSED
    assert scan_kinds("sysv-sem").get(obj.ref) is not None


_REUSE = """
import json, subprocess, sys, sysv_ipc
from ipcwatch.actions.remove import remove
from ipcwatch.scan import ScanConfig, scan
first = sysv_ipc.SharedMemory(0x4242, sysv_ipc.IPC_CREX, size=4096, mode=0o600)
seen = scan(ScanConfig(kinds=frozenset({"sysv-shm"}))).get(f"sysv-shm:{first.id}")
first.remove()
with open("/proc/sys/kernel/shm_next_id", "w") as f:
    f.write(str(first.id))
subprocess.run([sys.executable, "-c",
    "import sysv_ipc; sysv_ipc.SharedMemory(0x4242, sysv_ipc.IPC_CREX, size=8192, mode=0o600)"], check=True)
now = scan(ScanConfig(kinds=frozenset({"sysv-shm"}))).get(f"sysv-shm:{first.id}")
outcome = remove(seen.ref, seen.identity)
after = scan(ScanConfig(kinds=frozenset({"sysv-shm"}))).get(f"sysv-shm:{first.id}")
print(json.dumps({"seen": seen.identity, "now": now.identity, "status": outcome.status.name,
                  "message": outcome.message, "still_there": after is not None}))
"""


@needs_root
@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare is not installed")
def test_reused_sysv_id_is_refused_in_a_private_ipc_namespace():
    result = subprocess.run(
        ["unshare", "--ipc", sys.executable, "-c", textwrap.dedent(_REUSE)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["seen"].split(":")[1] == report["now"].split(":")[1]  # same id...
    assert report["seen"] != report["now"]  # ...another segment
    assert report["status"] == "REFUSED" and "replaced" in report["message"]
    assert report["still_there"]


def test_in_use_needs_force(posix_shm, spawn):
    name, _ = posix_shm()
    child = spawn(f'import os\nfd = os.open("/dev/shm/{name}", os.O_RDONLY)\nprint("READY", flush=True)\ninput()\n')
    obj = scan_kinds("posix-shm").get(f"posix-shm:{name}")
    assert any(h.pid == child.pid for h in obj.holders)
    outcome = remove(obj.ref, obj.identity)
    assert outcome.status is Status.REFUSED and "in use" in outcome.message
    assert any(str(child.pid) in line for line in outcome.data)
    assert os.path.exists(f"/dev/shm/{name}")
    assert remove(obj.ref, obj.identity, force_in_use=True).ok
    assert not os.path.exists(f"/dev/shm/{name}")


def test_posix_objects_are_unlinked(posix_sem, posix_mq):
    name, sem = posix_sem()
    sem.close()  # our own mapping would make it "in use"
    obj = scan_kinds("posix-sem").get(f"posix-sem:{name}")
    assert remove(obj.ref, obj.identity).ok
    assert not os.path.exists(f"/dev/shm/sem.{name}")
    qname, mq = posix_mq()
    mq.close()
    obj = scan_kinds("posix-mq").get(f"posix-mq:{qname}")
    assert remove(obj.ref, obj.identity).ok
    with pytest.raises(posix_ipc.ExistentialError):
        posix_ipc.MessageQueue("/" + qname)


def test_planted_symlink_is_never_followed(cleanup, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    name = unique_name()
    link = f"/dev/shm/{name}"
    os.symlink(victim, link)
    cleanup.add(lambda: os.unlink(link))
    assert scan_kinds("posix-shm").get(f"posix-shm:{name}") is None
    assert remove(f"posix-shm:{name}", None).status is Status.GONE
    # a real object swapped for a link between the scan and the unlink
    real = unique_name()
    fd = os.open(f"/dev/shm/{real}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    cleanup.add(lambda: os.unlink(f"/dev/shm/{real}"))
    obj = scan_kinds("posix-shm").get(f"posix-shm:{real}")
    os.unlink(f"/dev/shm/{real}")
    os.symlink(victim, f"/dev/shm/{real}")
    outcome = unlink_checked("/dev/shm", real, obj.identity, obj.uid, "posix-shm", obj.ref)
    assert outcome.status is Status.REFUSED and "symbolic link" in outcome.message
    assert os.path.islink(f"/dev/shm/{real}") and victim.read_bytes() == b"precious"


def test_stale_fifo_file_is_removed(make_fifo, fifo_dir):
    path = make_fifo()
    config = ScanConfig(file_dirs=(fifo_dir,))
    obj = scan_kinds("fifo", file_dirs=(fifo_dir,)).get(f"fifo:{path}")
    assert obj is not None and obj.stale
    assert remove(obj.ref, obj.identity, config=config).ok
    assert not os.path.exists(path)


def test_pipes_and_live_objects_are_not_removable():
    r, w = os.pipe()
    try:
        inode = os.fstat(r).st_ino
        outcome = remove(f"pipe:{inode}", None)
        assert outcome.status is Status.REFUSED and "no name" in outcome.message
    finally:
        os.close(r)
        os.close(w)


def test_clean_plan_and_removal(posix_shm):
    name, _ = posix_shm()
    path = f"/dev/shm/{name}"
    snapshot = scan_kinds("posix-shm")
    recent = cleaning.plan_from(snapshot).candidates
    mine = [c for c in recent if c.ref == f"posix-shm:{name}"]
    assert len(mine) == 1 and not mine[0].selected  # just created: touched in the last minute
    assert mine[0].age is not None and mine[0].age < 60 and "no process" in mine[0].reason
    old = os.stat(path).st_mtime - 3600
    os.utime(path, (old, old))
    plan = cleaning.plan_from(snapshot, now=os.stat(path).st_ctime + 3600)
    mine = [c for c in plan.candidates if c.ref == f"posix-shm:{name}"]
    assert mine[0].selected
    assert "would remove 1 of" in plan.summary(mine)
    assert cleaning.clean(mine, read_only=True)[0].status is Status.REFUSED
    assert os.path.exists(path)
    outcomes = cleaning.clean(mine)
    assert [o.status for o in outcomes] == [Status.DONE]
    assert not os.path.exists(path)
