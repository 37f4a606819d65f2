"""Namespace discovery and reading inside namespaces, on real namespaces: `unshare --ipc --mount --net` children
holding one object of each kind, namespaces pinned with no process, a real podman container. Everything lives in
private namespaces that die with their last process or pin; fixtures kill, unmount and remove even on failure.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sysv_ipc
from hypothesis import given
from hypothesis import strategies as st

from ipcwatch.native import sockdiag
from ipcwatch.scan import containers, namespaces, nsread, unix
from ipcwatch.scan.namespaces import Namespace, discover, parse_ns_link, parse_nsfs_mounts
from tests import container
from tests.conftest import RUN_TAG, needs_root, unique_key, unique_name, wait_until

pytestmark = needs_root
needs_unshare = pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) is not installed")
SIOCGSKNS = 0x894C  # a socket's network namespace, as an fd

CHILD = """
    import json, os, socket, subprocess, sys, threading
    import posix_ipc, sysv_ipc
    cfg = json.loads(sys.argv[1])
    threading.Thread(target=threading.Event().wait, daemon=True).start()  # multithreaded, like most servers
    for fs, where in (("tmpfs", "/dev/shm"), ("mqueue", "/dev/mqueue")):
        subprocess.run(["mount", "-t", fs, "-o", "size=1m" if fs == "tmpfs" else "rw", fs, where], check=True)
    def sysctl(name, value):
        with open("/proc/sys/" + name, "w") as f:
            f.write(str(value))
    sysctl("kernel/shmmni", 1234)
    sysctl("fs/mqueue/queues_max", 77)
    if cfg["shm_next_id"] is not None:
        sysctl("kernel/shm_next_id", cfg["shm_next_id"])
    seg = sysv_ipc.SharedMemory(cfg["key"], sysv_ipc.IPC_CREX, size=4096)  # stays attached: a mapping holder
    seg.write(b"CHILD-SEGMENT")
    fd = os.open("/dev/shm/" + cfg["name"], os.O_CREAT | os.O_RDWR, 0o600)
    os.write(fd, b"CHILD-POSIX-SHM")
    os.symlink(cfg["secret"], "/dev/shm/evil")
    os.symlink(os.path.dirname(cfg["secret"]), "/dev/shm/evildir")
    mq = posix_ipc.MessageQueue("/" + cfg["name"], posix_ipc.O_CREX)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(b"\\0" + cfg["name"].encode())
    srv.listen()
    print(json.dumps({"pid": os.getpid(), "shmid": seg.id}), flush=True)
    sys.stdin.read()
"""
MAKE_SEGMENT = "import sys, sysv_ipc; sysv_ipc.SharedMemory(int(sys.argv[1]), sysv_ipc.IPC_CREX, size=4096)"


@dataclass
class NsChild:
    pid: int  # the python inside the namespaces (host pid)
    shmid: int
    key: int
    name: str  # of its POSIX shm file, its POSIX queue and its abstract socket
    proc: subprocess.Popen[str]


@contextlib.contextmanager
def _unshared(cmd: list[str], stdin: bool = True) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        ["unshare", "--ipc", "--mount", "--net", "--fork", "--kill-child", *cmd],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A host file standing for /etc/shadow: no read under a container root may ever reach it."""
    path = tmp_path / "shadow"
    path.write_text("HOST-SECRET\n")
    return path


@pytest.fixture
def ns_child(secret: Path) -> Iterator[Callable[..., NsChild]]:
    """Start children in new IPC, mount and net namespaces, each holding one object of each kind."""
    stack = contextlib.ExitStack()

    def start(shm_next_id: int | None = None) -> NsChild:
        key, name = unique_key(), unique_name()
        cfg = {"key": key, "name": name, "secret": str(secret), "shm_next_id": shm_next_id}
        proc = stack.enter_context(_unshared([sys.executable, "-c", textwrap.dedent(CHILD), json.dumps(cfg)]))
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"the namespace child exited with {proc.wait()}"
        said = json.loads(line)
        return NsChild(said["pid"], said["shmid"], key, name, proc)

    with stack:
        yield start


@pytest.fixture
def host_segment(sysv_shm: Callable[..., sysv_ipc.SharedMemory]) -> sysv_ipc.SharedMemory:
    seg = sysv_shm()
    seg.attach()
    seg.write(b"HOST-SEGMENT")
    seg.detach()
    return seg


def _ns(found: namespaces.Discovery, pid: int, ns_type: str) -> Namespace:
    ns = found.namespace_of(pid, ns_type)
    assert ns is not None, f"no {ns_type} namespace found for pid {pid}"
    return ns


@needs_unshare
def test_discovery_finds_each_namespace_with_its_pids(ns_child: Callable[..., NsChild]) -> None:
    one, two = ns_child(), ns_child()
    found = discover()
    for ns_type in namespaces.NS_TYPES:
        host = found.host(ns_type)
        assert host is not None and _ns(found, os.getpid(), ns_type) == host
        a, b = _ns(found, one.pid, ns_type), _ns(found, two.pid, ns_type)
        assert len({host.key, a.key, b.key}) == 3 and not a.host and not b.host
        assert one.pid in a.pids and two.pid not in a.pids and os.getpid() not in a.pids
        assert a.representative in a.pids
        assert os.stat(f"/proc/{one.pid}/ns/{ns_type}").st_ino == a.inode
    # the mount namespace is read through a single-threaded process (unshare, which waits), whatever the order
    collector = namespaces.NamespaceCollector(types=("mnt",))
    for pid in (one.pid, one.proc.pid):
        dir_fd = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY)
        try:
            collector.visit(pid, dir_fd)
        finally:
            os.close(dir_fd)
    assert collector.result().namespace_of(one.pid, "mnt").representative == one.proc.pid  # type: ignore[union-attr]
    # not containers: no cgroup of theirs names a runtime
    assert _ns(found, one.pid, "ipc").key not in containers.containers_of(found)


@needs_unshare
def test_nsread_reads_the_child_namespace_not_the_host(
    ns_child: Callable[..., NsChild], host_segment: sysv_ipc.SharedMemory
) -> None:
    child = ns_child(shm_next_id=host_segment.id)
    assert child.shmid == host_segment.id  # the colliding-id case: same id, two segments
    found = discover(types=("ipc",), fds=False)
    inside = nsread.read_ipc(_ns(found, child.pid, "ipc"))
    here = nsread.read_ipc(found.host("ipc"))  # type: ignore[arg-type]
    theirs = [row for row in inside.tables["shm"] if row["shmid"] == child.shmid]
    ours = [row for row in here.tables["shm"] if row["shmid"] == child.shmid]
    assert [r["key"] for r in theirs] == [child.key] and [r["key"] for r in ours] == [host_segment.key]
    assert theirs[0]["cpid"] == child.pid  # pids are host pids
    assert all(row["key"] != host_segment.key for row in inside.tables["shm"])
    assert inside.limits["shmmni"] == 1234 and here.limits["shmmni"] != 1234
    assert inside.limits["mqueue_queues_max"] == 77 and here.limits["mqueue_queues_max"] != 77
    assert not inside.errors


@needs_unshare
def test_sock_diag_socket_lives_in_the_child_network_namespace(ns_child: Callable[..., NsChild]) -> None:
    child = ns_child()
    found = discover(types=("net",), fds=False)
    net = _ns(found, child.pid, "net")
    sock = nsread.sock_diag_socket(net)
    with sock:
        ns_fd = fcntl.ioctl(sock.fileno(), SIOCGSKNS)
        try:
            assert os.fstat(ns_fd).st_ino == net.inode
        finally:
            os.close(ns_fd)
        # the sock_diag client (native and twin) through this socket: the child's abstract socket, none of the host's
        twin = sockdiag.py_unix_dump(sock.fileno())
        listed = unix.dump_sock_diag(sock)  # closes it
    assert sorted(listed) == sorted(twin)
    names = {s.name for s in listed}
    assert b"\0" + child.name.encode() in names
    assert b"\0" + child.name.encode() not in {s.name for s in unix.dump_sock_diag()}


@needs_unshare
@pytest.mark.parametrize("openat2", [True, False], ids=["openat2", "component-by-component"])
def test_mount_namespace_read_under_its_root_without_following_symlinks(
    ns_child: Callable[..., NsChild], secret: Path, monkeypatch: pytest.MonkeyPatch, openat2: bool
) -> None:
    if not openat2:
        monkeypatch.setitem(nsread._openat2_state, "available", False)
    child = ns_child()
    found = discover(types=("mnt",), fds=False)
    mnt = _ns(found, child.pid, "mnt")
    root = nsread.open_root(mnt.representative)  # type: ignore[arg-type]
    try:
        entries = dict(nsread.list_beneath(root, "dev/shm"))
        assert set(entries) == {child.name, "evil", "evildir"}
        assert stat.S_ISLNK(entries["evil"].st_mode) and stat.S_ISREG(entries[child.name].st_mode)
        assert child.name in dict(nsread.list_beneath(root, "dev/mqueue"))
        # the planted absolute symlink: a plain open through /proc/PID/root lands on the host's file ...
        assert Path(f"/proc/{child.pid}/root/dev/shm/evil").read_text() == "HOST-SECRET\n"
        # ... the safe opener refuses it, and a symlinked directory on the way, and '..'
        for path in ("dev/shm/evil", f"dev/shm/evildir/{secret.name}", "dev/shm/../../etc/passwd"):
            with pytest.raises(OSError) as refused:
                os.close(nsread.open_beneath(root, path))
            assert refused.value.errno in (errno.ELOOP, errno.EPERM), path
        assert nsread.list_beneath(root, "dev/shm/evildir") == []
        fd = nsread.open_beneath(root, f"dev/shm/{child.name}", expected=entries[child.name])
        try:
            assert os.read(fd, 100) == b"CHILD-POSIX-SHM"
        finally:
            os.close(fd)
        with pytest.raises(OSError):
            nsread.open_beneath(root, f"dev/shm/{child.name}", expected=os.stat("/"))  # not the file listed
        dirs = nsread.special_dirs(root)
    finally:
        os.close(root)
    host_root = nsread.open_root(os.getpid())
    try:
        host_dirs = nsread.special_dirs(host_root)
    finally:
        os.close(host_root)
    assert dirs.shm_dev is not None and dirs.mqueue_dev is not None and dirs.key != host_dirs.key
    views = nsread.distinct_mount_views([mnt, found.host("mnt"), mnt])  # type: ignore[list-item]
    assert views[dirs.key] == [mnt, mnt] and views[host_dirs.key] == [found.host("mnt")]


@needs_unshare
def test_joining_happens_on_a_fresh_thread_and_never_moves_the_caller(ns_child: Callable[..., NsChild]) -> None:
    child = ns_child()
    ipc = _ns(discover(types=("ipc",), fds=False), child.pid, "ipc")
    before = os.readlink("/proc/thread-self/ns/ipc")

    def where() -> tuple[int, str]:
        return threading.get_ident(), os.readlink("/proc/thread-self/ns/ipc")

    first, second = nsread.in_namespace(ipc, where), nsread.in_namespace(ipc, where)
    assert first[1] == second[1] == f"ipc:[{ipc.inode}]" != before
    assert threading.get_ident() not in (first[0], second[0])
    assert os.readlink("/proc/thread-self/ns/ipc") == before
    with pytest.raises(TimeoutError):
        nsread.in_namespace(ipc, lambda: time.sleep(1), timeout=0.05)
    with pytest.raises(ZeroDivisionError):
        nsread.in_namespace(ipc, lambda: 1 // 0)  # what the work raised, raised to the caller


@needs_unshare
def test_vanished_namespace_is_refused_not_misread(ns_child: Callable[..., NsChild]) -> None:
    child = ns_child()
    ipc = _ns(discover(types=("ipc",), fds=False), child.pid, "ipc")
    child.proc.stdin.close()  # type: ignore[union-attr]
    child.proc.wait(timeout=10)
    with pytest.raises(ProcessLookupError):
        nsread.read_ipc(ipc)
    with pytest.raises(ValueError):
        nsread.in_namespace(Namespace("mnt", ipc.dev, 1, (), None, False), lambda: None)


@pytest.fixture
def pin_dir() -> Iterator[Path]:
    path = Path(f"/run/ipcwatch-test-{RUN_TAG}")
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        for pin in path.iterdir():
            subprocess.run(["umount", "-l", str(pin)], check=False, capture_output=True)
            pin.unlink()
        path.rmdir()


@needs_unshare
def test_namespace_pinned_by_a_bind_mount_or_an_fd(pin_dir: Path, ns_child: Callable[..., NsChild]) -> None:
    pin = pin_dir / "ipcns"
    pin.touch()
    key = unique_key()
    made = subprocess.run(
        ["unshare", f"--ipc={pin}", sys.executable, "-c", MAKE_SEGMENT, str(key)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert made.returncode == 0, made.stderr
    found = discover(types=("ipc",))
    pinned = [ns for ns in found.of_type("ipc") if str(pin) in ns.pinned_by]
    assert len(pinned) == 1 and pinned[0].pinned_only and pinned[0].representative is None
    assert pinned[0].inode == os.stat(pin).st_ino
    rows = nsread.read_ipc(pinned[0]).tables["shm"]  # entered through the pin: its segment outlives ipcmk
    assert [r["key"] for r in rows] == [key]
    # an open nsfs fd keeps a namespace alive after its last process exits
    child = ns_child()
    fd = os.open(f"/proc/{child.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        child.proc.stdin.close()  # type: ignore[union-attr]
        child.proc.wait(timeout=10)
        net = [ns for ns in discover(types=("net",)).of_type("net") if f"/proc/{os.getpid()}/fd/{fd}" in ns.pinned_by]
        assert len(net) == 1 and net[0].pinned_only and net[0].inode == os.fstat(fd).st_ino
    finally:
        os.close(fd)


def test_nsfs_links_and_mountinfo_parse() -> None:
    assert parse_ns_link("ipc:[4026532251]") == ("ipc", 4026532251)
    for bad in ("ipc:[]", "ipc:[12", "user:[5]", "socket:[5]", "ipc:[1x]", "ipc:[99999999999999999999999]", ""):
        assert parse_ns_link(bad) is None
    data = (
        b"612 29 0:4 net:[4026532300] /run/netns/blue rw - nsfs nsfs rw\n"
        b"613 29 0:4 ipc:[4026532301] /run/odd\\040name\\012x rw shared:1 - nsfs nsfs rw\n"
        b"614 29 0:4 ipc:[4026532302] /run/fake rw - tmpfs nsfs rw\n"
        b"garbage\n"
    )
    assert parse_nsfs_mounts(data) == [("net", 4026532300, "/run/netns/blue"), ("ipc", 4026532301, "/run/odd name\nx")]


def test_refs_carry_the_namespace_and_cannot_be_forged_by_a_name() -> None:
    host = Namespace("ipc", 4, 4026531839, (1,), 1, True)
    other = Namespace("ipc", 4, 4026532251, (9,), 9, False)
    assert namespaces.qualified_ref("sysv-shm", "7", host) == "sysv-shm:7"  # the host keeps today's refs
    assert namespaces.qualified_ref("sysv-shm", "7", other) == "sysv-shm@ipc:4026532251:7"
    assert namespaces.split_ref("sysv-shm@ipc:4026532251:7") == ("sysv-shm", ("ipc", 4026532251), "7")
    forged = namespaces.qualified_ref("posix-shm", "x@ipc:4026532251:7", host)
    assert namespaces.split_ref(forged) == ("posix-shm", None, "x@ipc:4026532251:7")
    assert namespaces.qualified_ref("posix-shm", "a:b", other) != forged
    for bad in ("nokind", ":7", "sysv-shm@ipc:12", "sysv-shm@pid:12:7", "sysv-shm@ipc:x:7", "@ipc:1:7"):
        assert namespaces.split_ref(bad) is None, bad


@given(st.text(max_size=30), st.sampled_from(namespaces.NS_TYPES), st.integers(0, 2**64 - 1), st.booleans())
def test_ref_round_trip(rest: str, ns_type: str, inode: int, host: bool) -> None:
    ns = Namespace(ns_type, 4, inode, (), None, host)
    assert namespaces.split_ref(namespaces.qualified_ref("posix-shm", rest, ns)) == (
        "posix-shm",
        None if host else (ns_type, inode),
        rest,
    )


@given(st.binary(max_size=300))
def test_mountinfo_parser_never_raises(data: bytes) -> None:
    for ns_type, inode, where in parse_nsfs_mounts(data + b" - nsfs nsfs rw\n"):
        assert ns_type in namespaces.NS_TYPES and inode >= 0 and isinstance(where, str)


@given(st.text(max_size=40))
def test_ns_link_parser_never_raises(link: str) -> None:
    parsed = parse_ns_link(link)
    assert parsed is None or (link.startswith(f"{parsed[0]}:[") and int(link[4:-1]) == parsed[1])


def test_podman_container_named_and_read() -> None:
    why = container.unavailable()
    if why is not None:
        pytest.skip(why)
    with container.podman_container("ipcmk -M 4096; ipcmk -Q; sleep 300") as box:
        found = discover()
        named = containers.containers_of(found)
        for ns_type in ("ipc", "mnt", "net"):
            ns = _ns(found, box.pid, ns_type)
            assert not ns.host and (named[ns.key].runtime, named[ns.key].id) == ("podman", box.id)
            assert named[ns.key].name == box.name
        inside = wait_until(lambda: (r := nsread.read_ipc(_ns(found, box.pid, "ipc"))).tables["msg"] and r)
        keys = {row["key"] for table in ("shm", "msg") for row in inside.tables[table]}  # type: ignore[union-attr]
        assert len(inside.tables["shm"]) == len(inside.tables["msg"]) == 1  # type: ignore[union-attr]
        host = nsread.read_ipc(found.host("ipc"))  # type: ignore[arg-type]
        assert not keys & {row["key"] for table in ("shm", "msg") for row in host.tables[table]}
        root = nsread.open_root(_ns(found, box.pid, "mnt").representative)  # type: ignore[arg-type]
        try:
            assert nsread.special_dirs(root).mqueue_dev is not None  # podman mounts a /dev/mqueue of its own
        finally:
            os.close(root)
