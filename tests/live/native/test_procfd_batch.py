"""The batched /proc pass (read_processes): the C helper and its Python twin agree on real children, in every maps
mode, and the batch never holds an fd per process."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from ipcwatch.native import procfd
from ipcwatch.scan import procs
from tests.conftest import Child, Cleanup, needs_root, wait_until

try:
    from ipcwatch.native import _procfd
except ImportError:
    _procfd = None  # type: ignore[assignment]

pytestmark = needs_root  # reading another process's fds and maps
CHILD = """
import mmap, os, socket, sys, sysv_ipc
seg = sysv_ipc.attach({shmid})
fd = os.open({path!r}, os.O_RDWR)
shared = mmap.mmap(fd, 4096, mmap.MAP_SHARED)
r, w = os.pipe()
a, b = socket.socketpair()
efd = os.eventfd(7)
print(r, w, a.fileno(), efd, fd)
print("READY", flush=True)
sys.stdin.read()
"""
SLEEPERS = 60  # processes started for the low-fd-limit test: more than its 32 fds
MODES = (procfd.MAPS_NONE, procfd.MAPS_QUERY, procfd.MAPS_FALLBACK, procfd.MAPS_TEXT)


def _impls() -> list:
    return [procfd.py_read_processes] + ([_procfd.read_processes] if _procfd is not None else [])


def _root_of(tmp_path: Path, *children: Child) -> str:
    """A proc root that shows only these children: PID -> /proc/PID (the batch opens each entry as a directory)."""
    for child in children:
        (tmp_path / str(child.pid)).symlink_to(f"/proc/{child.pid}")
    return str(tmp_path)


@pytest.fixture
def holder(spawn, sysv_shm, posix_shm):
    seg = sysv_shm(size=8192)
    name, _ = posix_shm(size=4096)
    path = f"/dev/shm/{name}"
    child = spawn(CHILD.format(shmid=seg.id, path=path))
    return child, seg, os.stat(path)


def _by_kind(fds: list, kind: str) -> list:
    return [e for e in fds if e[0] == kind]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("anon", [False, True])
def test_the_twins_agree_on_a_live_child(holder, tmp_path: Path, mode: int, anon: bool) -> None:
    child, seg, st = holder
    root = _root_of(tmp_path, child)
    r, w, sock, efd, shm_fd = (int(n) for n in child.lines[0].split())
    with open(f"/proc/{child.pid}/syscall", "rb") as f:  # asleep in read(0) (READY is printed just before)
        wait_until(lambda: f.seek(0) == 0 and f.read().startswith(b"0 0x0 "))
    results = [impl(root, [st.st_dev], mode, anon, anon) for impl in _impls()]  # the waits read with the fdinfo
    for records in results:
        assert len(records) == 1
        pid, stat, uid, cmdline, fds, maps, ipc, waits = records[0]
        assert (pid, uid) == (child.pid, 0) and procs.parse_stat(stat)[3] == procs.parse_stat(results[0][0][1])[3]
        assert (cmdline, fds, maps, ipc) == results[0][0][3:7]
        if anon:  # one thread asleep in read(0): what the blocked-thread sampling needs, read by the pass
            links, syscall, wchan, sched = waits
            assert links == 3 and syscall.startswith(b"0 0x0 ") and results[0][0][7][:3] == waits[:3]
            assert isinstance(wchan, bytes) and b"se.exec_start" in sched
        else:
            assert waits is None
        assert cmdline.startswith(os.fsencode(sys.executable) + b"\0-c\0")
        assert {(e[1], e[3]) for e in _by_kind(fds, "p")} >= {(r, "r"), (w, "w")}
        assert any(e[1] == sock for e in _by_kind(fds, "s"))
        assert any(e[1] == shm_fd and e[2:4] == (st.st_dev, st.st_ino) for e in _by_kind(fds, "f"))
        [eventfd] = [e for e in _by_kind(fds, "a") if e[1] == efd]
        if anon:
            assert eventfd[2] == "eventfd" and b"eventfd-count:" in eventfd[3]
        else:
            assert eventfd == ("a", efd, "eventfd")
        ns_ipc = os.stat(f"/proc/{child.pid}/ns/ipc").st_ino
        if mode == procfd.MAPS_NONE:
            assert maps is None and ipc is None
        elif mode == procfd.MAPS_TEXT:
            assert isinstance(maps, bytes) and b"/SYSV" in maps and ipc == ns_ipc
        else:  # this kernel has PROCMAP_QUERY, or the fallback read the text
            assert isinstance(maps, list | bytes) and ipc == ns_ipc
            if isinstance(maps, list):
                assert any(m[2] == seg.id and m[3].startswith(b"/SYSV") for m in maps)
                assert any(m[1:3] == (st.st_dev, st.st_ino) and m[0] == "rw" for m in maps)


def test_every_process_of_the_host_is_read_with_a_low_fd_limit() -> None:
    """RLIMIT_NOFILE 32 and more processes than that (SLEEPERS started for the test): the batch (one directory at a
    time) and the visitors (each process opened again, one at a time) still see every process, and no fd is left
    open."""
    code = textwrap.dedent(
        """
        import os, resource
        from ipcwatch.native import procfd
        from ipcwatch.scan import procs
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        before = len(os.listdir("/proc/self/fd"))
        pids = {int(n) for n in os.listdir("/proc") if n.isdigit()}
        for impl in (procfd.read_processes, procfd.py_read_processes):
            records = impl("/proc", [], procfd.MAPS_FALLBACK, True)
            assert len(pids & {r[0] for r in records}) >= len(pids) - 5, (len(pids), len(records))
        visited = []
        config = procs.ProcPassConfig(visitors=[lambda pid, d, proc: visited.append(os.fstat(d.fd).st_ino)])
        index = procs.scan_processes(config)
        assert len(visited) >= len(index.processes) - 5 > 50, (len(visited), len(index.processes))
        assert len(os.listdir("/proc/self/fd")) == before
        print("OK", len(pids))
        """
    )
    # More processes than the limit has fds, whatever the host runs (a CI container may run a dozen): sleepers.
    sleepers = [subprocess.Popen(["sleep", "120"]) for _ in range(SLEEPERS)]
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait(timeout=10)
    assert done.returncode == 0 and done.stdout.startswith("OK"), done.stderr


def test_a_process_gone_between_listing_and_reading_is_skipped(spawn, tmp_path: Path, cleanup: Cleanup) -> None:
    child = spawn('import sys\nprint("READY", flush=True)\nsys.stdin.read()')
    root = _root_of(tmp_path, child)
    child.stop()
    for impl in _impls():
        assert impl(root, [], procfd.MAPS_QUERY, True) == []  # its /proc/PID is gone: nothing, no error


def test_the_twins_agree_on_every_processs_namespaces(spawn, tmp_path: Path) -> None:
    """ns_keys: each ns/TYPE's (st_dev, st_ino) or errno and task's link count, read alike by the helper and its twin
    (one child in new namespaces, one threaded, this process; a name that is no namespace type gives its errno)."""
    child = spawn("import sys; print('READY', flush=True); sys.stdin.read()")
    threaded = spawn(
        "import sys, threading; threading.Thread(target=sys.stdin.read).start(); print('READY', flush=True)"
    )
    unshared = subprocess.Popen(["unshare", "--ipc", "--net", "sleep", "60"])
    try:
        wait_until(lambda: os.readlink(f"/proc/{unshared.pid}/exe").endswith("/sleep"))  # unshared, then exec'd
        root = _root_of(tmp_path, child, threaded, SimpleNamespace(pid=os.getpid()), SimpleNamespace(pid=unshared.pid))
        types = ("ipc", "mnt", "net", "nosuch")
        results = [sorted(impl(root, types)) for impl in (procfd.py_ns_keys, *([_procfd.ns_keys] if _procfd else []))]
        assert all(r == results[0] for r in results)
        by_pid = {pid: (keys, links) for pid, keys, links in results[0]}
        for pid in (child.pid, os.getpid()):
            keys, links = by_pid[pid]
            assert keys[:3] == tuple(
                (os.stat(f"/proc/{pid}/ns/{t}").st_dev, os.stat(f"/proc/{pid}/ns/{t}").st_ino) for t in types[:3]
            )
            assert keys[3] == errno.ENOENT
        assert by_pid[child.pid][1] == 3 and by_pid[threaded.pid][1] == 4
        assert by_pid[unshared.pid][0][0] != by_pid[child.pid][0][0]  # another IPC namespace
        assert by_pid[unshared.pid][0][1] == by_pid[child.pid][0][1]  # the same mount namespace
        for impl in (procfd.py_ns_keys, *([_procfd.ns_keys] if _procfd else [])):
            with pytest.raises(ValueError):
                impl(root, ("ipc/../../x",))
            with pytest.raises(OSError):
                impl(str(tmp_path / "nowhere"), types)
    finally:
        unshared.kill()
        unshared.wait()
