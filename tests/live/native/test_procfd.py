"""The native fd-table walk and pipe fill: the C helper and its pure-Python twin agree on real children's fds."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from ipcwatch.native import procfd
from tests.conftest import Child, Cleanup, needs_root, unique_name

try:
    from ipcwatch.native import _procfd
except ImportError:
    _procfd = None  # type: ignore[assignment]

pytestmark = needs_root  # mknod of a device node, and reading other processes' fd tables
needs_c = pytest.mark.skipif(_procfd is None, reason="the C helper is not built")
PIPE_BYTES = 123
FIFO_BYTES = 45
CHILD = """
import os, sys
os.write({w}, b"p" * {pipe_bytes})
os.write({fifo_w}, b"f" * {fifo_bytes})
print(os.open("/dev/null", os.O_RDONLY))
print(os.open({node!r}, os.O_RDONLY))
print("READY", flush=True)
sys.stdin.read()
"""


@dataclass
class Holder:
    """A child holding one of everything, and what the test knows about each fd."""

    child: Child
    fds: dict[str, int]
    pipe_ino: int
    sock_ino: int
    fifo: str
    fifo_key: tuple[int, int]
    deleted_fifo: str
    deleted_key: tuple[int, int]
    shm_path: str
    shm_key: tuple[int, int]
    plain_key: tuple[int, int]
    devnull: int
    node: int
    node_ino: int


def signalfd(mask: int) -> int:
    """A new signalfd for the signals in the kernel mask `mask` (Python has no wrapper for it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    sigset = (ctypes.c_ulong * 16)(mask)
    fd = libc.signalfd(-1, ctypes.byref(sigset), os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "signalfd")
    return fd


def _keep(cleanup: Cleanup, fd: int) -> int:
    cleanup.add(lambda: os.close(fd))
    return fd


def _fifo_ends(cleanup: Cleanup, path: str) -> tuple[int, int]:
    read_end = _keep(cleanup, os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    return read_end, _keep(cleanup, os.open(path, os.O_WRONLY))


@pytest.fixture
def holder(spawn, make_fifo, posix_shm, cleanup: Cleanup, tmp_path) -> Holder:
    r, w = (_keep(cleanup, fd) for fd in os.pipe())
    s1, s2 = socket.socketpair()
    cleanup.add(s1.close)
    cleanup.add(s2.close)
    # A FIFO whose name is not valid UTF-8: the link text must come back as os.fsdecode gives it.
    fifo = make_fifo(unique_name("-\udcff.fifo"))
    fifo_r, fifo_w = _fifo_ends(cleanup, fifo)
    deleted_fifo = make_fifo()
    gone_r, gone_w = _fifo_ends(cleanup, deleted_fifo)
    shm_name, _ = posix_shm()
    shm_fd = _keep(cleanup, os.open(f"/dev/shm/{shm_name}", os.O_RDWR | os.O_NOFOLLOW))
    plain = _keep(cleanup, os.open(tmp_path / "plain", os.O_RDWR | os.O_CREAT, 0o600))
    efd = _keep(cleanup, os.eventfd(0))
    sfd = _keep(cleanup, signalfd(1 << (signal.SIGUSR1 - 1)))
    epoll = select.epoll()  # anon_inode:[eventpoll]: not an object of ours
    ns_fds = {t: _keep(cleanup, os.open(f"/proc/self/ns/{t}", os.O_RDONLY)) for t in ("ipc", "mnt", "net", "uts")}
    cleanup.add(epoll.close)
    node_path = str(tmp_path / "null-node")
    os.mknod(node_path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers, on a private inode
    fds = {
        "r": r,
        "w": w,
        "sock": s1.fileno(),
        "fifo_r": fifo_r,
        "fifo_w": fifo_w,
        "gone_r": gone_r,
        "gone_w": gone_w,
        "shm": shm_fd,
        "plain": plain,
        "efd": efd,
        "sfd": sfd,
        "epoll": epoll.fileno(),
        **{f"ns_{t}": fd for t, fd in ns_fds.items()},
    }
    code = CHILD.format(w=w, fifo_w=fifo_w, pipe_bytes=PIPE_BYTES, fifo_bytes=FIFO_BYTES, node=node_path)
    child = spawn(code, pass_fds=fds.values())
    os.unlink(deleted_fifo)

    def key(fd: int) -> tuple[int, int]:
        st = os.fstat(fd)
        return st.st_dev, st.st_ino

    return Holder(
        child=child,
        fds=fds,
        pipe_ino=os.fstat(r).st_ino,
        sock_ino=os.fstat(s1.fileno()).st_ino,
        fifo=fifo,
        fifo_key=key(fifo_r),
        deleted_fifo=deleted_fifo,
        deleted_key=key(gone_r),
        shm_path=f"/dev/shm/{shm_name}",
        shm_key=key(shm_fd),
        plain_key=key(plain),
        devnull=int(child.lines[0]),
        node=int(child.lines[1]),
        node_ino=os.stat(node_path).st_ino,
    )


@pytest.fixture
def fd_dir(holder: Holder, cleanup: Cleanup) -> int:
    return _keep(cleanup, os.open(f"/proc/{holder.child.pid}/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))


def _one_end(fills: Callable) -> Callable:
    """fill_one(proc_root, pid, fd, inode): `fills` of one pipe through one read end."""
    return lambda proc_root, pid, fd, inode: fills(proc_root, [(inode, [(pid, fd)])])[0]


def _impls() -> Iterator[tuple[Callable, Callable]]:
    yield procfd.py_fd_table, _one_end(procfd.py_pipe_fills)
    if _procfd is not None:
        yield _procfd.fd_table, _one_end(_procfd.pipe_fills)


def _shm_dev() -> int:
    return os.stat("/dev/shm").st_dev


def test_both_implementations_give_the_same_table(holder: Holder, fd_dir: int) -> None:
    for devs in ((), (_shm_dev(),), frozenset({_shm_dev(), holder.plain_key[0]}), [2**70, -1], (procfd.ANON_DEVS,)):
        tables = [fd_table(fd_dir, devs) for fd_table, _ in _impls()]
        assert tables[0], "the twin saw nothing"
        assert all(table == tables[0] for table in tables), devs


def test_classification_and_modes(holder: Holder, fd_dir: int) -> None:
    fds, shm_dev = holder.fds, _shm_dev()
    for fd_table, _ in _impls():
        table = {entry[1]: entry for entry in fd_table(fd_dir, frozenset({shm_dev}))}
        assert table[fds["r"]] == ("p", fds["r"], holder.pipe_ino, "r")
        assert table[fds["w"]] == ("p", fds["w"], holder.pipe_ino, "w")
        assert table[fds["sock"]] == ("s", fds["sock"], holder.sock_ino)
        assert table[fds["fifo_r"]] == ("f", fds["fifo_r"], *holder.fifo_key, "r", True, 1, holder.fifo)
        assert table[fds["fifo_w"]] == ("f", fds["fifo_w"], *holder.fifo_key, "w", True, 1, holder.fifo)
        deleted = ("f", fds["gone_r"], *holder.deleted_key, "r", True, 0, f"{holder.deleted_fifo} (deleted)")
        assert table[fds["gone_r"]] == deleted
        assert table[fds["shm"]] == ("f", fds["shm"], *holder.shm_key, "rw", False, 1, holder.shm_path)
        if holder.plain_key[0] != shm_dev:
            assert fds["plain"] not in table  # a regular file elsewhere holds no IPC object
        assert holder.devnull not in table and holder.node not in table
        assert table[fds["efd"]] == ("a", fds["efd"], "eventfd")
        assert table[fds["sfd"]] == ("a", fds["sfd"], "signalfd")
        assert fds["epoll"] not in table
        for ns_type in ("ipc", "mnt", "net"):
            inode = os.stat(f"/proc/self/ns/{ns_type}").st_ino
            assert table[fds[f"ns_{ns_type}"]] == ("n", fds[f"ns_{ns_type}"], ns_type, inode)
        assert fds["ns_uts"] not in table  # a namespace type no object lives in
        # Only file_devs decides for non-FIFO files: without /dev/shm the shm fd is gone, the FIFOs stay.
        bare = {entry[1] for entry in fd_table(fd_dir, ())}
        assert fds["shm"] not in bare and {fds["fifo_r"], fds["fifo_w"]} <= bare
        # ANON_DEVS: every file on a device of major 0 (tmpfs, mqueue), whatever its number
        anon = {entry[1] for entry in fd_table(fd_dir, (procfd.ANON_DEVS,))}
        assert fds["shm"] in anon and {fds["fifo_r"], fds["fifo_w"]} <= anon
        assert (fds["plain"] in anon) == (os.major(holder.plain_key[0]) == 0)


def test_pipe_fill_through_both(holder: Holder) -> None:
    pid, fds = holder.child.pid, holder.fds
    capacity = fcntl.fcntl(fds["r"], fcntl.F_GETPIPE_SZ)
    for _, fill_one in _impls():
        assert fill_one("/proc", pid, fds["r"], holder.pipe_ino) == (PIPE_BYTES, capacity)
        assert fill_one("/proc", pid, fds["fifo_r"], holder.fifo_key[1]) == (FIFO_BYTES, capacity)
        assert fill_one("/proc", pid, fds["r"], holder.pipe_ino + 1) is None  # another pipe now behind the number
        assert fill_one("/proc", pid, 999_999, holder.pipe_ino) is None  # a closed fd
        assert fill_one("/proc", pid, fds["r"], -1) is None
        assert fill_one("/proc/nonexistent", pid, fds["r"], holder.pipe_ino) is None


def test_pipe_fills_of_many_through_their_first_answering_end(holder: Holder, spawn) -> None:
    other = spawn('import sys\nprint("READY", flush=True)\nsys.stdin.read()')
    pid, fds = holder.child.pid, holder.fds
    capacity = fcntl.fcntl(fds["r"], fcntl.F_GETPIPE_SZ)
    stdin_ino = os.fstat(other.proc.stdin.fileno()).st_ino
    requests = [
        (holder.pipe_ino, [(pid, 999_999), (other.pid, 0), (pid, fds["r"])]),  # closed, another pipe, then the one
        (holder.fifo_key[1], [(pid, fds["fifo_r"])]),
        (stdin_ino, [(pid, fds["r"]), (other.pid, 0)]),  # back to the other process
        (holder.pipe_ino, []),
        (2**64, [(pid, fds["r"])]),
        (-1, [(pid, fds["r"])]),
        (holder.pipe_ino, [(pid, -1), (-5, fds["r"])]),
    ]
    expected = [(PIPE_BYTES, capacity), (FIFO_BYTES, capacity), (0, capacity), None, None, None, None]
    assert procfd.py_pipe_fills("/proc", requests) == expected
    if _procfd is not None:
        assert _procfd.pipe_fills("/proc", requests) == expected
        assert _procfd.pipe_fills("/proc", []) == []


def test_a_recycled_fd_number_is_never_reopened(holder: Holder) -> None:
    """The fd now names a device with the very inode asked for: the O_PATH check refuses it before any open."""
    libc = ctypes.CDLL(None, use_errno=True)
    watch_fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert watch_fd >= 0, os.strerror(ctypes.get_errno())
    try:
        node_path = f"/proc/{holder.child.pid}/fd/{holder.node}"
        assert libc.inotify_add_watch(watch_fd, os.fsencode(node_path), 0x20) >= 0  # IN_OPEN

        def opened() -> bool:
            try:
                return bool(os.read(watch_fd, 4096))
            except BlockingIOError:
                return False

        for _, fill_one in _impls():
            assert fill_one("/proc", holder.child.pid, holder.node, holder.node_ino) is None
            assert fill_one("/proc", holder.child.pid, holder.devnull, os.stat("/dev/null").st_ino) is None
        assert not opened()
        os.close(os.open(node_path, os.O_RDONLY))  # the watch does see a real open
        assert opened()
    finally:
        os.close(watch_fd)


def test_errors_and_no_leaks(spawn, cleanup: Cleanup) -> None:
    child = spawn('import sys\nprint("READY", flush=True)\nsys.stdin.read()')
    fd_dir = _keep(cleanup, os.open(f"/proc/{child.pid}/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
    stdin = child.proc.stdin.fileno()
    fill = (0, fcntl.fcntl(stdin, fcntl.F_GETPIPE_SZ))
    before = sorted(os.listdir("/proc/self/fd"))
    for _ in range(200):
        for fd_table, fill_one in _impls():
            assert fd_table(fd_dir, ())
            assert fill_one("/proc", child.pid, 0, os.fstat(stdin).st_ino) == fill
    assert sorted(os.listdir("/proc/self/fd")) == before
    child.stop()  # closes its stdin and stdout pipes here too
    before = sorted(os.listdir("/proc/self/fd"))
    raised = []
    for fd_table, _ in _impls():
        with pytest.raises(OSError) as info:
            fd_table(fd_dir, ())
        raised.append((type(info.value), info.value.errno))
        with pytest.raises(OSError) as info:
            fd_table(-1, ())
        assert info.value.errno == errno.EBADF
    assert raised[0][1] == errno.ENOENT and all(r == raised[0] for r in raised)
    assert sorted(os.listdir("/proc/self/fd")) == before


def _loader(require_c: str, block_c: bool) -> subprocess.CompletedProcess[str]:
    prelude = "import sys; sys.modules['ipcwatch.native._procfd'] = None\n" if block_c else ""
    env = {**os.environ, "IPCWATCH_REQUIRE_C": require_c}
    code = prelude + "from ipcwatch.native import procfd; print(procfd.IMPLEMENTATION)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)


@needs_c
def test_the_loader_prefers_c_and_require_c_forbids_the_twin() -> None:
    assert _loader("1", block_c=False).stdout.strip() == "c"
    assert _loader("0", block_c=True).stdout.strip() == "python"
    refused = _loader("1", block_c=True)
    assert refused.returncode != 0 and not refused.stdout and "_procfd" in refused.stderr


@pytest.mark.skipif(os.environ.get("IPCWATCH_REQUIRE_C") != "1", reason="only when IPCWATCH_REQUIRE_C=1")
def test_c_is_in_use_when_required() -> None:
    assert procfd.IMPLEMENTATION == "c"
    assert procfd.fd_table is _procfd.fd_table and procfd.pipe_fills is _procfd.pipe_fills
    assert procfd.read_processes is _procfd.read_processes and procfd.shared_maps is _procfd.shared_maps


def test_many_fds_and_long_paths_cross_batches(spawn, make_fifo, cleanup: Cleanup, fifo_dir: str) -> None:
    """Over a thousand fds, and FIFO links near PATH_MAX, fill several native batches: same table as the twin."""
    deep = fifo_dir
    for level in range(15):
        deep = os.path.join(deep, f"{level:02d}" + "d" * 250)
        os.mkdir(deep)
        cleanup.add(lambda path=deep: os.rmdir(path))
    long_fifo = make_fifo(os.path.relpath(os.path.join(deep, "f" * 200), fifo_dir))
    assert 3900 < len(os.fsencode(long_fifo)) < 4096
    read_end, write_end = _fifo_ends(cleanup, long_fifo)
    code = f"""
    import os, resource, sys
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096 if hard == resource.RLIM_INFINITY else min(4096, hard), hard))
    for _ in range(300):
        os.dup({read_end}), os.dup({write_end}), *os.pipe()
    print("READY", flush=True)
    sys.stdin.read()
    """
    child = spawn(code, pass_fds=(read_end, write_end))
    fd_dir = _keep(cleanup, os.open(f"/proc/{child.pid}/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
    tables = [fd_table(fd_dir, ()) for fd_table, _ in _impls()]
    assert sum(1 for entry in tables[0] if entry[0] == "f" and entry[-1] == long_fifo) == 602
    assert len(tables[0]) > 1200 and all(table == tables[0] for table in tables)
