"""The scan across namespaces, on real `unshare --ipc --mount --net` children: each namespace's SysV objects are
listed under their own refs with their own holders, even when a SysV id collides with the host's."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import posix_ipc
import pytest
import sysv_ipc

from ipcwatch.actions.outcome import Status
from ipcwatch.actions.remove import remove
from ipcwatch.cli import main
from ipcwatch.record import replace
from ipcwatch.scan import ScanConfig, scan
from ipcwatch.scan.namespaces import split_ref
from tests import container
from tests.conftest import needs_root, unique_key, wait_until
from tests.live.scan import test_namespaces as fixtures
from tests.live.scan.test_namespaces import MAKE_SEGMENT, NsChild, needs_unshare

pytestmark = [needs_root, needs_unshare]
ns_child, secret, host_segment, pin_dir = fixtures.ns_child, fixtures.secret, fixtures.host_segment, fixtures.pin_dir


def test_colliding_sysv_ids_each_have_their_own_holders(
    ns_child: Callable[..., NsChild], host_segment: sysv_ipc.SharedMemory
) -> None:
    child = ns_child(shm_next_id=host_segment.id)
    assert child.shmid == host_segment.id
    snap = scan(ScanConfig(kinds=frozenset({"sysv-shm"})))
    host = snap.get(f"sysv-shm:{host_segment.id}")
    assert host is not None and host.key == host_segment.key
    assert host.namespace is not None and host.namespace.host
    assert child.pid not in host.holder_pids  # the bug: the other namespace's mapper was listed here
    theirs = [o for o in snap.of_kind("sysv-shm") if o.key == child.key]
    assert len(theirs) == 1
    obj = theirs[0]
    parsed = split_ref(obj.ref)
    assert parsed is not None and parsed[1] is not None and parsed[1][0] == "ipc" and parsed[2] == str(child.shmid)
    assert obj.namespace is not None and not obj.namespace.host and child.pid in obj.namespace.pids
    assert child.pid in obj.holder_pids
    assert obj.identity != host.identity and obj.identity.endswith(f"@ipc:{obj.namespace.inode}")
    assert obj.namespace.limits is not None and obj.namespace.limits["shmmni"] == 1234
    data = obj.to_json()["namespace"]
    assert data == {"type": "ipc", "inode": obj.namespace.inode, "host": False, "pinned": False, "container": None}
    assert snap.namespace(obj.namespace.tag) == obj.namespace
    assert any(ns.tag == obj.namespace.tag for ns in snap.namespaces)


def test_hexdump_and_rm_act_on_the_namespace_the_ref_names(
    ns_child: Callable[..., NsChild], host_segment: sysv_ipc.SharedMemory, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    child = ns_child(shm_next_id=host_segment.id)
    snap = scan(ScanConfig(kinds=frozenset({"sysv-shm"})))
    host_ref = f"sysv-shm:{host_segment.id}"
    (theirs,) = [o for o in snap.of_kind("sysv-shm") if o.key == child.key]
    for ref, text in ((host_ref, b"HOST-SEGMENT"), (theirs.ref, b"CHILD-SEGMENT")):
        assert main(["hexdump", ref, "--length", "64"]) == 0
        out = capsysbinary.readouterr().out
        assert text[:8] in out.replace(b"\n", b""), out  # hexdump -C's text column
        other = b"CHILD-SE" if text.startswith(b"HOST") else b"HOST-SEG"
        assert other not in out
    # the child's segment is in use (mapped): removing it needs the second confirmation, and leaves the host's
    assert remove(theirs.ref, theirs.identity, force_in_use=True).status is Status.DONE
    after = scan(ScanConfig(kinds=frozenset({"sysv-shm"})))
    assert after.get(host_ref) is not None and after.get(host_ref).key == host_segment.key  # type: ignore[union-attr]
    gone = after.get(theirs.ref)
    assert gone is None or "dest" in gone.info.status  # attached: freed when the child detaches
    # and the host's segment removed by its ref leaves the child's namespace alone
    assert remove(host_ref, after.get(host_ref).identity).status is Status.DONE  # type: ignore[union-attr]
    assert all(o.key != host_segment.key for o in scan(ScanConfig(kinds=frozenset({"sysv-shm"}))).objects)


def test_list_and_namespaces_commands_select_by_namespace(
    ns_child: Callable[..., NsChild], capsys: pytest.CaptureFixture[str]
) -> None:
    child = ns_child()
    tag = f"ipc:{os.stat(f'/proc/{child.pid}/ns/ipc').st_ino}"
    assert main(["list", "--json", "--kind", "sysv-shm", "--namespace", tag]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [o["key"] for o in data["objects"]] == [child.key]
    assert data["objects"][0]["namespace"]["host"] is False and any(n["label"] == tag for n in data["namespaces"])
    assert main(["list", "--json", "--kind", "sysv-shm", "--namespace", "host"]) == 0
    assert all(o["key"] != child.key for o in json.loads(capsys.readouterr().out)["objects"])
    assert main(["list", "--kind", "sysv-shm", "--namespace", tag]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"== namespace {tag} ==\n") and f"0x{child.key:08x}" in out and f"{child.pid} python" in out
    assert main(["list", "--namespace", "no-such-container"]) == 2
    assert main(["namespaces", "--json", "--namespace", tag]) == 0
    (summary,) = json.loads(capsys.readouterr().out)["namespaces"]
    assert summary["objects"]["sysv-shm"] == 1 and child.pid in summary["pids"]
    assert {"resource": "shmmni", "limit": 1234, "used": 1} in summary["limit_use"]
    assert main(["namespaces"]) == 0
    assert tag in capsys.readouterr().out


def test_posix_objects_of_another_mount_view_are_listed_with_their_holders(
    ns_child: Callable[..., NsChild], secret: object
) -> None:
    child = ns_child()
    snap = scan(ScanConfig(kinds=frozenset({"posix-shm", "posix-mq", "posix-sem"})))
    mnt = os.stat(f"/proc/{child.pid}/ns/mnt").st_ino
    ipc = os.stat(f"/proc/{child.pid}/ns/ipc").st_ino
    shm = snap.get(f"posix-shm@mnt:{mnt}:{child.name}")
    queue = snap.get(f"posix-mq@ipc:{ipc}:{child.name}")
    assert shm is not None and queue is not None, [o.ref for o in snap.objects if "@" in o.ref]
    assert child.pid in shm.holder_pids and child.pid in queue.holder_pids
    assert shm.size == len(b"CHILD-POSIX-SHM") and queue.namespace is not None and queue.namespace.inode == ipc
    assert snap.get(f"posix-shm:{child.name}") is None and snap.get(f"posix-mq:{child.name}") is None
    # the planted symlinks to the host's secret are listed as nothing and never followed
    assert not any(o.name in ("evil", "evildir") for o in snap.objects)


DISK_SHM_CHILD = """
import os, subprocess, sys
subprocess.run(["mount", "--bind", sys.argv[1], "/dev/shm"], check=True)
fd = os.open("/dev/shm/" + sys.argv[2], os.O_CREAT | os.O_RDWR, 0o600)
print(os.getpid(), flush=True)
sys.stdin.read()
"""


def test_a_views_dev_shm_on_a_disk_has_its_holders_found(tmp_path: Path) -> None:
    # The /proc pass starts before the views are known and keeps the open files of anonymous devices (tmpfs,
    # mqueue) only: a view whose /dev/shm is a bind mount of a disk directory has the pass read again, knowing.
    disk = tmp_path / "disk-shm"
    disk.mkdir()
    if os.major(os.stat(disk).st_dev) == 0:
        pytest.skip(f"{tmp_path} is not on a disk-backed filesystem")
    name = f"ipcw-disk-{os.getpid()}"
    with fixtures._unshared([sys.executable, "-c", DISK_SHM_CHILD, str(disk), name]) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"the namespace child exited with {proc.wait()}"
        pid = int(line)
        snap = scan(ScanConfig(kinds=frozenset({"posix-shm"})))
        mnt = os.stat(f"/proc/{pid}/ns/mnt").st_ino
        shm = snap.get(f"posix-shm@mnt:{mnt}:{name}")
        assert shm is not None, [o.ref for o in snap.objects]
        assert pid in shm.holder_pids


def test_podman_container_objects_listed_under_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    why = container.unavailable()
    if why is not None:
        pytest.skip(why)
    with container.podman_container("ipcmk -M 4096; ipcmk -Q; sleep 300") as box:
        ipc = os.stat(f"/proc/{box.pid}/ns/ipc").st_ino

        def listed() -> list[dict[str, object]]:
            assert main(["list", "--json", "--kind", "sysv-shm,sysv-msg", "--namespace", box.name]) == 0
            return json.loads(capsys.readouterr().out)["objects"]

        objects = wait_until(lambda: (found := listed()) and len(found) == 2 and found)
        assert sorted(o["kind"] for o in objects) == ["sysv-msg", "sysv-shm"]  # type: ignore[union-attr]
        for obj in objects:  # type: ignore[union-attr]
            assert obj["ref"].startswith(f"{obj['kind']}@ipc:{ipc}:")
            assert obj["namespace"]["container"]["name"] == box.name
            assert obj["namespace"]["container"]["runtime"] == "podman"
        assert main(["list", "--kind", "sysv-shm,sysv-msg", "--namespace", box.id[:12]]) == 0
        assert f"== namespace {box.name} (ipc:{ipc}) ==" in capsys.readouterr().out
        assert main(["namespaces"]) == 0
        assert f"{box.name} (podman)" in capsys.readouterr().out


def test_a_namespace_pinned_by_a_bind_mount_with_no_process_is_scanned(
    pin_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pin = pin_dir / "ipcns"
    pin.touch()
    key = unique_key()
    made = subprocess.run(
        ["unshare", f"--ipc={pin}", sys.executable, "-c", MAKE_SEGMENT, str(key)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    snap = scan(ScanConfig(kinds=frozenset({"sysv-shm"})))
    (obj,) = [o for o in snap.of_kind("sysv-shm") if o.key == key]
    assert obj.namespace is not None and obj.namespace.pinned_only and str(pin) in obj.namespace.pinned_by
    assert obj.ref.startswith(f"sysv-shm@ipc:{os.stat(pin).st_ino}:") and obj.to_json()["namespace"]["pinned"]
    assert not obj.holders and obj.stale  # nobody attached, its creator gone
    assert main(["namespaces", "--json", "--namespace", obj.namespace.tag]) == 0
    (summary,) = json.loads(capsys.readouterr().out)["namespaces"]
    assert summary["pids"] == [] and summary["pinned_by"] == [str(pin)] and summary["stale"] == 1
    # removed inside the pinned namespace (entered through the pin), by its qualified ref
    assert remove(obj.ref, obj.identity).status is Status.DONE
    assert all(o.key != key for o in scan(ScanConfig(kinds=frozenset({"sysv-shm"}))).objects)


def test_exporter_labels_objects_and_limits_with_their_namespace(
    ns_child: Callable[..., NsChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipcwatch.exporter import metrics  # noqa: PLC0415

    child = ns_child()
    tag = f"ipc:{os.stat(f'/proc/{child.pid}/ns/ipc').st_ino}"
    snap = scan(ScanConfig(kinds=frozenset({"sysv-shm"})))

    def samples(name: str) -> dict[tuple[str, str], float]:
        fams = metrics.snapshot_families(snap, [], [], metrics.BuildOptions())
        (fam,) = [f for f in fams if f.name == name]
        first = "kind" if name.endswith("objects") else "resource"
        return {(s.labels[first], s.labels["namespace"]): s.value for s in fam.samples}

    assert samples("ipcwatch_objects")[("sysv-shm", tag)] == 1
    assert samples("ipcwatch_limit")[("shmmni", tag)] == 1234
    assert samples("ipcwatch_limit_used")[("shmmni", tag)] == 1
    assert ("sysv-shm", "host") in samples("ipcwatch_objects")
    monkeypatch.setattr(metrics, "NAMESPACES_MAX", 0)  # past the cap: counted as "other", no limits of their own
    capped = samples("ipcwatch_objects")
    assert capped[("sysv-shm", "other")] >= 1 and ("sysv-shm", tag) not in capped
    assert not any(where == tag for _, where in samples("ipcwatch_limit"))


BLOCKED_IN_NS = """
import sys, sysv_ipc
with open("/proc/sys/kernel/sem_next_id", "w") as f:
    f.write(sys.argv[1])
sem = sysv_ipc.Semaphore(None, sysv_ipc.IPC_CREX, initial_value=0)
print(sem.id, flush=True)
sem.acquire()  # blocks: nobody else is in this namespace
"""


def test_a_thread_blocked_in_another_namespace_waits_on_that_namespace_s_object(
    sysv_sem: Callable[..., sysv_ipc.Semaphore],
) -> None:
    host = sysv_sem()
    proc = subprocess.Popen(
        ["unshare", "--ipc", "--fork", "--kill-child", sys.executable, "-c", BLOCKED_IN_NS, str(host.id)],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and int(proc.stdout.readline()) == host.id  # the same id in both
        inner = int(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()[0])
        ipc = os.stat(f"/proc/{inner}/ns/ipc").st_ino

        def waiting() -> object:
            snap = scan(ScanConfig(kinds=frozenset({"sysv-sem"})))
            theirs = snap.get(f"sysv-sem@ipc:{ipc}:{host.id}")
            return theirs is not None and theirs.waiters and (snap, theirs)

        snap, theirs = wait_until(waiting)  # type: ignore[misc]
        assert [w.pid for w in theirs.waiters] == [inner]
        assert not snap.get(f"sysv-sem:{host.id}").waiters  # the host's set with that id has nobody waiting
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


SEM_AND_QUEUE_IN_NS = """
import sys, sysv_ipc
def next_id(name, value):
    with open("/proc/sys/kernel/" + name, "w") as f:
        f.write(value)
next_id("sem_next_id", sys.argv[1])
sem = sysv_ipc.Semaphore(None, sysv_ipc.IPC_CREX, initial_value=0)
next_id("msg_next_id", sys.argv[2])
queue = sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX)
print(sem.id, queue.id, flush=True)
sys.stdin.read()
"""


def test_semaphore_and_queue_actions_land_in_the_namespace_the_ref_names(
    sysv_sem: Callable[..., sysv_ipc.Semaphore], sysv_msg: Callable[..., sysv_ipc.MessageQueue]
) -> None:
    from ipcwatch.actions import queues, semaphores  # noqa: PLC0415

    host_sem, host_queue = sysv_sem(), sysv_msg()
    proc = subprocess.Popen(
        ["unshare", "--ipc", "--fork", "--kill-child", sys.executable, "-c", SEM_AND_QUEUE_IN_NS,
         str(host_sem.id), str(host_queue.id)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert [int(x) for x in proc.stdout.readline().split()] == [host_sem.id, host_queue.id]
        snap = scan(ScanConfig(kinds=frozenset({"sysv-sem", "sysv-msg"})))
        (sem,) = [o for o in snap.of_kind("sysv-sem") if o.id == host_sem.id and "@ipc:" in o.ref]
        (queue,) = [o for o in snap.of_kind("sysv-msg") if o.id == host_queue.id and "@ipc:" in o.ref]
        assert semaphores.post(sem).status is Status.DONE
        assert queues.send(queue, b"to-the-namespace").status is Status.DONE
        assert host_sem.value == 0 and host_queue.current_messages == 0  # the host's objects were not touched
        after = scan(ScanConfig(kinds=frozenset({"sysv-sem", "sysv-msg"})))
        assert after.get(sem.ref).info.semaphores[0].value == 1  # type: ignore[union-attr]
        assert after.get(queue.ref).info.messages == 1  # type: ignore[union-attr]
        peeked = queues.peek(after.get(queue.ref))  # type: ignore[arg-type]
        assert peeked.status is Status.DONE and peeked.data.messages[0].body == b"to-the-namespace"
        got = queues.receive(after.get(queue.ref))  # type: ignore[arg-type]
        assert got.status is Status.DONE and got.data.body == b"to-the-namespace"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def test_unix_sockets_of_another_network_namespace_carry_it(ns_child: Callable[..., NsChild]) -> None:
    child = ns_child()
    net = os.stat(f"/proc/{child.pid}/ns/net").st_ino
    pair = socket.socketpair()
    try:
        snap = scan(ScanConfig(kinds=frozenset({"unix"})))
    finally:
        for end in pair:
            end.close()
    (sock,) = [o for o in snap.of_kind("unix") if o.name == "@" + child.name]
    assert child.pid in sock.holder_pids and sock.info.state == "listen"
    assert sock.namespace is None  # a socket inode is unique host-wide: its ref needs no namespace
    assert sock.to_json()["net_namespace"] == {
        "type": "net", "inode": net, "host": False, "pinned": False, "container": None
    }  # fmt: skip
    mine = [o for o in snap.of_kind("unix") if os.getpid() in o.holder_pids]
    assert mine and all(o.info.net_namespace.host for o in mine)


def test_a_namespace_kept_alive_only_by_an_open_fd_is_scanned(ns_child: Callable[..., NsChild]) -> None:
    child = ns_child()
    inode = os.stat(f"/proc/{child.pid}/ns/ipc").st_ino
    keeper = subprocess.Popen(
        [sys.executable, "-c", "import os, sys; print(os.open(sys.argv[1], os.O_RDONLY), flush=True); sys.stdin.read()",
         f"/proc/{child.pid}/ns/ipc"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert keeper.stdout is not None and keeper.stdin is not None
        pin = f"/proc/{keeper.pid}/fd/{int(keeper.stdout.readline())}"
        child.proc.stdin.close()  # type: ignore[union-attr]
        child.proc.wait(timeout=10)
        snap = scan(ScanConfig(kinds=frozenset({"sysv-shm"})))
        ns = snap.namespace(f"ipc:{inode}")
        assert ns is not None and ns.pinned_only and pin in ns.pinned_by  # no process in it, only the fd
        (obj,) = [o for o in snap.of_kind("sysv-shm") if o.key == child.key]  # its segment outlived the child
        assert obj.namespace == ns and obj.ref.startswith(f"sysv-shm@ipc:{inode}:") and not obj.holders
    finally:
        keeper.kill()
        keeper.wait(timeout=10)
        for stream in (keeper.stdin, keeper.stdout):
            if stream is not None:
                stream.close()
    assert scan(ScanConfig(kinds=frozenset({"sysv-shm"}))).namespace(f"ipc:{inode}") is None  # the last pin closed


def test_posix_objects_of_another_mount_view_are_removed_there_only(ns_child: Callable[..., NsChild]) -> None:
    child = ns_child()
    host_twin = Path("/dev/shm") / child.name  # the same name in the host's /dev/shm: it must survive
    host_twin.write_bytes(b"HOST")
    try:
        kinds = frozenset({"posix-shm", "posix-mq"})
        snap = scan(ScanConfig(kinds=kinds))
        mnt, ipc = (os.stat(f"/proc/{child.pid}/ns/{t}").st_ino for t in ("mnt", "ipc"))
        shm, queue = snap.get(f"posix-shm@mnt:{mnt}:{child.name}"), snap.get(f"posix-mq@ipc:{ipc}:{child.name}")
        assert shm is not None and queue is not None
        # a stale identity is refused, nothing removed
        assert remove(shm.ref, "file:0:0", force_in_use=True).status is Status.REFUSED
        view = Path(f"/proc/{child.pid}/root/dev")
        assert (view / "shm" / child.name).exists()
        for obj in (shm, queue):  # the child holds both open: in use, so the second confirmation is given
            assert remove(obj.ref, obj.identity).status is Status.REFUSED
            outcome = remove(obj.ref, obj.identity, force_in_use=True)
            assert outcome.status is Status.DONE, outcome.message
        assert not (view / "shm" / child.name).exists() and not (view / "mqueue" / child.name).exists()
        assert host_twin.read_bytes() == b"HOST"
        after = scan(ScanConfig(kinds=kinds))
        assert after.get(shm.ref) is None and after.get(queue.ref) is None
        assert after.get(f"posix-shm:{child.name}") is not None
    finally:
        host_twin.unlink(missing_ok=True)


def test_removal_in_a_vanished_view_is_refused(ns_child: Callable[..., NsChild]) -> None:
    child = ns_child()
    mnt = os.stat(f"/proc/{child.pid}/ns/mnt").st_ino
    shm = scan(ScanConfig(kinds=frozenset({"posix-shm"}))).get(f"posix-shm@mnt:{mnt}:{child.name}")
    assert shm is not None
    child.proc.stdin.close()  # type: ignore[union-attr]
    child.proc.wait(timeout=10)  # its mount namespace (and private /dev/shm) is gone with it
    assert remove(shm.ref, shm.identity, force_in_use=True).status is Status.GONE


def test_hexdump_of_posix_shm_in_another_mount_view_reads_that_file(
    ns_child: Callable[..., NsChild], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    child = ns_child()
    host_twin = Path("/dev/shm") / child.name  # the same name in the host's view: never read for the child's ref
    host_twin.write_bytes(b"HOST-TWIN-BYTES")
    try:
        mnt = os.stat(f"/proc/{child.pid}/ns/mnt").st_ino
        for ref, text, other in (
            (f"posix-shm@mnt:{mnt}:{child.name}", b"CHILD-PO", b"HOST-TWI"),
            (f"posix-shm:{child.name}", b"HOST-TWI", b"CHILD-PO"),
        ):
            assert main(["hexdump", ref, "--length", "64"]) == 0
            out = capsysbinary.readouterr().out.replace(b"\n", b"")
            assert text in out and other not in out, out
    finally:
        host_twin.unlink(missing_ok=True)


def test_posix_queue_of_another_ipc_namespace_sends_and_receives_there(ns_child: Callable[..., NsChild]) -> None:
    from ipcwatch.actions import queues

    child = ns_child()
    twin = posix_ipc.MessageQueue("/" + child.name, posix_ipc.O_CREX)  # the same name in the host's namespace
    try:
        ipc = os.stat(f"/proc/{child.pid}/ns/ipc").st_ino
        obj = scan(ScanConfig(kinds=frozenset({"posix-mq"}))).get(f"posix-mq@ipc:{ipc}:{child.name}")
        assert obj is not None
        assert queues.send(obj, b"INTO-THE-CHILD", priority=4).status is Status.DONE
        assert twin.current_messages == 0  # nothing landed in the host's queue of the same name
        assert Path(f"/proc/{child.pid}/root/dev/mqueue/{child.name}").read_text().startswith("QSIZE:14 ")
        got = queues.receive(obj)
        assert got.status is Status.DONE and got.data.body == b"INTO-THE-CHILD" and got.data.mtype == 4
        assert queues.receive(obj).status is Status.FAILED  # empty now: never blocks
        stale = replace(obj, identity="file:0:0")
        assert queues.send(stale, b"x").status is Status.REFUSED
    finally:
        twin.close()
        twin.unlink()


def test_posix_semaphore_of_another_mount_view_is_read_and_operated_there(ns_child: Callable[..., NsChild]) -> None:
    from ipcwatch.actions import semaphores

    child = ns_child()
    theirs = Path(f"/proc/{child.pid}/root/dev/shm/sem.{child.name}")  # a sem_t of value 2, made in the child's view
    theirs.write_bytes(struct.pack("=II", 2, 0).ljust(32, b"\0"))
    twin = Path(f"/dev/shm/sem.{child.name}")  # the host's file of the same name: never touched
    twin.write_bytes(struct.pack("=II", 7, 0).ljust(32, b"\0"))
    try:
        mnt = os.stat(f"/proc/{child.pid}/ns/mnt").st_ino
        obj = scan(ScanConfig(kinds=frozenset({"posix-sem"}))).get(f"posix-sem@mnt:{mnt}:{child.name}")
        assert obj is not None
        assert semaphores.values(obj).data == [{"num": 0, "value": 2, "waiters": 0}]
        assert semaphores.post(obj, 1).status is Status.DONE
        assert struct.unpack_from("=I", theirs.read_bytes())[0] == 3
        assert semaphores.wait(obj, 1, timeout=1.0).status is Status.DONE
        assert struct.unpack_from("=I", theirs.read_bytes())[0] == 2
        assert struct.unpack_from("=I", twin.read_bytes())[0] == 7
        assert semaphores.post(replace(obj, identity="file:0:0"), 1).status is Status.REFUSED
    finally:
        twin.unlink(missing_ok=True)


def test_fifos_of_another_mount_view_are_stat_there_and_never_collide(ns_child: Callable[..., NsChild]) -> None:
    child = ns_child()
    name = f"{child.name}.fifo"
    os.mkfifo(f"/proc/{child.pid}/root/dev/shm/{name}", 0o640)  # in the child's private /dev/shm
    host_path = f"/dev/shm/{name}"  # the same path in the host's view
    os.mkfifo(host_path, 0o600)
    host_fd = os.open(host_path, os.O_RDWR | os.O_NONBLOCK)
    code = "import os, sys; os.open(sys.argv[1], os.O_RDWR); print('ok', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        ["nsenter", f"--mount=/proc/{child.pid}/ns/mnt", sys.executable, "-c", code, host_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ok\n"
        mnt = os.stat(f"/proc/{child.pid}/ns/mnt").st_ino
        snap = scan(ScanConfig(kinds=frozenset({"fifo"})))
        theirs, ours = snap.get(f"fifo@mnt:{mnt}:{host_path}"), snap.get(f"fifo:{host_path}")
        assert theirs is not None and ours is not None, [o.ref for o in snap.of_kind("fifo")]
        assert theirs.holder_pids == {holder.pid} and os.getpid() in ours.holder_pids
        assert holder.pid not in ours.holder_pids and theirs.identity != ours.identity
        assert theirs.mode == 0o640 and not theirs.info.deleted  # stat'ed in its own view, not the host's
        assert theirs.namespace is not None and theirs.namespace.inode == mnt
        assert ours.namespace is not None and ours.namespace.host
    finally:
        holder.kill()
        holder.wait(timeout=10)
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()
        os.close(host_fd)
        os.unlink(host_path)
