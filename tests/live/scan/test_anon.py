"""eventfd and signalfd kinds: real fds in real children, listed with all holders, fdinfo decoded, never stale."""

from __future__ import annotations

import json
import os
import signal

from ipcwatch.cli import main
from ipcwatch.scan import KINDS, Process
from ipcwatch.scan.anon import anon_objects, anon_ref
from ipcwatch.scan.info import EventfdInfo, SignalfdInfo
from ipcwatch.scan.parsers import parse_fdinfo
from ipcwatch.scan.procs import HolderIndex
from tests.conftest import Cleanup, needs_root, obj_of, scan_kinds
from tests.live.native.test_procfd import signalfd

pytestmark = needs_root  # reading other processes' fd tables and fdinfo


def eventfd_ref(fd: int) -> str:
    with open(f"/proc/self/fdinfo/{fd}") as f:
        fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    return f"eventfd:{int(fields['eventfd-id'])}"


def test_an_eventfd_shared_with_a_child_is_one_object_with_both_holders(spawn, cleanup: Cleanup) -> None:
    efd = os.eventfd(5, os.EFD_SEMAPHORE)
    cleanup.add(lambda: os.close(efd))
    child = spawn("import sys; print('READY', flush=True); sys.stdin.read()", pass_fds=[efd])
    grandchild = spawn(
        f"""
        import os, subprocess, sys
        p = subprocess.Popen(["sleep", "600"], pass_fds=[{efd}])
        print(p.pid)
        print("READY", flush=True)
        sys.stdin.read()
        p.kill()
        """,
        pass_fds=[efd],
    )
    sleeper = int(grandchild.lines[0])
    pidfd = os.pidfd_open(sleeper)  # killed at teardown through a pidfd: the orphan never outlives the test
    cleanup.add(lambda: os.close(pidfd))
    cleanup.add(lambda: signal.pidfd_send_signal(pidfd, signal.SIGKILL))
    obj = obj_of(eventfd_ref(efd))
    assert obj.kind == "eventfd" and not obj.stale
    assert {(h.pid, h.fd, h.mode) for h in obj.holders} >= {
        (os.getpid(), efd, "rw"),
        (child.pid, efd, "rw"),
        (grandchild.pid, efd, "rw"),
        (sleeper, efd, "rw"),
    }
    assert obj.info.count == 5 and obj.info.semaphore is True
    assert obj.id == obj.info.eventfd_id
    os.eventfd_write(efd, 2)
    assert obj_of(obj.ref).info.count == 7  # the count is read afresh at each scan


def test_a_lone_eventfd_and_a_signalfd_are_never_stale(spawn) -> None:
    mask = 1 << (signal.SIGURG - 1) | 1 << (signal.SIGRTMIN + 1 - 1)  # glibc's SIGRTMIN+1 is the kernel's RTMIN+3
    child = spawn(f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        sigset = (ctypes.c_ulong * 16)({mask})
        print(libc.signalfd(-1, ctypes.byref(sigset), 0))
        print(os.eventfd(0))
        print("READY", flush=True)
        import sys; sys.stdin.read()
    """)
    sfd, efd = (int(x) for x in child.lines)
    snap = scan_kinds("eventfd", "signalfd")
    sig = snap.get(f"signalfd:{child.pid}:{sfd}")
    assert sig is not None and sig.kind == "signalfd" and not sig.stale
    assert sig.info.signals == ("SIGURG", "SIGRTMIN+3") and sig.info.sigmask == f"{mask:016x}"
    assert [(h.pid, h.fd) for h in sig.holders] == [(child.pid, sfd)]
    lone = [o for o in snap.of_kind("eventfd") if o.holder_pids == {child.pid}]
    assert len(lone) == 1 and not lone[0].stale and lone[0].info.count == 0
    assert lone[0].info.semaphore is False


def test_list_kind_eventfd_and_signalfd(spawn, cleanup: Cleanup, capsys) -> None:
    efd = os.eventfd(3)
    sfd = signalfd(1 << (signal.SIGUSR1 - 1))
    cleanup.add(lambda: os.close(efd))
    cleanup.add(lambda: os.close(sfd))
    child = spawn("import sys; print('READY', flush=True); sys.stdin.read()", pass_fds=[efd])
    ref = eventfd_ref(efd)
    assert {"eventfd", "signalfd"} <= set(KINDS)
    assert main(["list", "--kind", "eventfd,signalfd"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.split()[:1] == [ref])
    assert row.split()[1:5] == ["root", "3", "counter", "2"]
    assert f"signalfd:{os.getpid()}:{sfd}" in out and "SIGUSR1" in out
    assert "Pipes" not in out  # only the kinds asked for
    assert main(["list", "--kind", "eventfd", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    found = next(o for o in data["objects"] if o["ref"] == ref)
    assert {o["kind"] for o in data["objects"]} == {"eventfd"}
    assert found["count"] == 3 and found["stale"] is False and found["eventfd_id"] == int(ref.split(":")[1])
    assert {h["pid"] for h in found["holders"]} == {os.getpid(), child.pid}


def test_refs_from_recorded_fdinfo_and_the_fallback_without_an_id() -> None:
    """Recorded fdinfo: with `eventfd-id` (Linux 6.x) the holders of one eventfd share one ref; a kernel that
    prints no id gives one object per fd, `eventfd:PID:FD`; a signalfd is always per fd."""
    with_id = parse_fdinfo(b"pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1038\neventfd-count:       a\neventfd-id: 7\n")
    old_kernel = parse_fdinfo(b"pos:\t0\nflags:\t02000002\nmnt_id:\t15\neventfd-count:                0\n")
    sig = parse_fdinfo(b"pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1038\nsigmask:\t0000000000400200\n")
    assert anon_ref(10, 3, "eventfd", with_id) == anon_ref(11, 5, "eventfd", with_id) == "eventfd:7"
    assert anon_ref(10, 3, "eventfd", old_kernel) == "eventfd:10:3"
    assert anon_ref(10, 4, "signalfd", sig) == "signalfd:10:4"
    index = HolderIndex()
    index.processes = {pid: Process(pid, 1, "p", (), 0, "root", 100 + pid, "S") for pid in (10, 11)}
    index.anon_fds = [(10, 3, "eventfd", with_id), (11, 5, "eventfd", with_id), (10, 6, "eventfd", old_kernel),
                      (11, 6, "eventfd", old_kernel), (10, 4, "signalfd", sig), (12, 4, "signalfd", sig)]
    objects = {o.ref: o for o in anon_objects(index, frozenset({"eventfd", "signalfd"}))}
    assert set(objects) == {"eventfd:7", "eventfd:10:6", "eventfd:11:6", "signalfd:10:4"}  # pid 12 is gone
    shared = objects["eventfd:7"]
    assert [(h.pid, h.fd) for h in shared.holders] == [(10, 3), (11, 5)] and shared.info.count == 10
    assert shared.identity == "eventfd:7@10@110" and shared.id == 7
    assert objects["eventfd:10:6"].info == EventfdInfo(count=0, eventfd_id=None, semaphore=None)
    assert objects["signalfd:10:4"].info == SignalfdInfo("0000000000400200", ("SIGUSR1", "SIGURG"))
    assert objects["signalfd:10:4"].to_json()["signals"] == ["SIGUSR1", "SIGURG"]
    assert not any(o.stale for o in objects.values())
    assert anon_objects(index, frozenset({"signalfd"})) == [objects["signalfd:10:4"]]
