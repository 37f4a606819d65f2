"""The /proc pass's mapping query: the C helper, its Python twin and the maps-text parser agree on a real child."""

from __future__ import annotations

import errno
import os

import pytest

from ipcwatch.native import procfd
from ipcwatch.procfs import read_at
from ipcwatch.scan import procs
from tests.conftest import Cleanup, needs_root

try:
    from ipcwatch.native import _procfd
except ImportError:
    _procfd = None  # type: ignore[assignment]

pytestmark = needs_root  # reading another process's maps
CHILD = """
import mmap, os, sys, sysv_ipc
seg = sysv_ipc.attach({shmid}, flags=sysv_ipc.SHM_RDONLY)
fd = os.open({path!r}, os.O_RDWR)
shared = mmap.mmap(fd, 4096, mmap.MAP_SHARED)
again = mmap.mmap(fd, 4096, mmap.MAP_SHARED, prot=mmap.PROT_READ)  # the same file twice: one holder entry
private = mmap.mmap(fd, 4096, mmap.MAP_PRIVATE)  # copy-on-write shares nothing: never a holder
print("READY", flush=True)
sys.stdin.read()
"""


def _impls() -> list:
    return [procfd.py_shared_maps] + ([_procfd.shared_maps] if _procfd is not None else [])


@pytest.fixture
def mapper(spawn, sysv_shm, posix_shm, cleanup: Cleanup):
    seg = sysv_shm(size=8192)
    name, _ = posix_shm(size=4096)
    path = f"/dev/shm/{name}"
    child = spawn(CHILD.format(shmid=seg.id, path=path))
    dir_fd = os.open(f"/proc/{child.pid}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    cleanup.add(lambda: os.close(dir_fd))
    return child, dir_fd, seg, os.stat(path)


def _query(impl, dir_fd: int) -> list[procfd.SharedMap]:
    fd = os.open("maps", os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return impl(fd)
    finally:
        os.close(fd)


def test_query_twins_and_the_text_parser_agree(mapper) -> None:
    _, dir_fd, seg, st = mapper
    try:
        results = [_query(impl, dir_fd) for impl in _impls()]
    except OSError as exc:
        if exc.errno in (errno.ENOTTY, errno.EINVAL):
            pytest.skip("kernel without PROCMAP_QUERY")
        raise
    assert all(r == results[0] for r in results)
    ours = [m for m in results[0] if m[1:3] == (st.st_dev, st.st_ino) or m[3].startswith(b"/SYSV")]
    parsed = procs._parse_shared_maps(read_at(dir_fd, "maps", 1 << 20))
    assert ours == [m for m in parsed if m in ours] and len(parsed) == len(ours)
    modes = {(m[0], m[2]) for m in ours}
    assert modes == {("r", seg.id), ("rw", st.st_ino), ("r", st.st_ino)}


def test_the_proc_pass_indexes_each_mapping_once(mapper) -> None:
    child, dir_fd, seg, st = mapper
    index = procs.scan_processes(procs.ProcPassConfig(file_devs=frozenset({st.st_dev})))
    ipc_inode = os.stat("ns/ipc", dir_fd=dir_fd).st_ino
    assert index.shm_segments[(ipc_inode, seg.id)].count((child.pid, None, "r")) == 1
    # mapped rw and r (and its fds, dup'ed by mmap, held rw): one mapping hold, with the union of the modes
    maps = [h for h in index.files[(st.st_dev, st.st_ino)] if h[0] == child.pid and h[1] is None]
    assert maps == [(child.pid, None, "rw")]


def test_a_file_that_is_not_maps_is_refused_alike(cleanup: Cleanup) -> None:
    fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    cleanup.add(lambda: os.close(fd))
    codes = set()
    for impl in _impls():
        with pytest.raises(OSError) as raised:
            impl(fd)
        codes.add(raised.value.errno)
    assert len(codes) == 1 and codes <= {errno.ENOTTY, errno.EINVAL}


def _fake_process(root, pid: int = 4242, maps: bytes = b"") -> str:
    """A /proc/PID look-alike: stat and cmdline files; fd, maps and ns/ipc only as the test adds them."""
    proc = root / str(pid)
    proc.mkdir()
    (proc / "stat").write_bytes(f"{pid} (fake) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0".encode())
    (proc / "cmdline").write_bytes(b"fake\0--flag\0")
    if maps:
        (proc / "maps").write_bytes(maps)
        (proc / "fd").mkdir()
        (proc / "ns").mkdir()
        (proc / "ns" / "ipc").write_bytes(b"")
    return str(proc)


def test_the_pass_falls_back_to_the_maps_text_where_the_query_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(procs, "_procmap_query_works", True)  # restored after the test: the pass turns it off
    line = b"7f0000000000-7f0000001000 rw-s 00000000 00:01 98765                      /SYSV0000abcd (deleted)\n"
    private = b"7f0000002000-7f0000003000 r--p 00000000 00:01 98766                      /SYSV0000abce (deleted)\n"
    _fake_process(tmp_path, 4242, line + private)
    index = procs.scan_processes(procs.ProcPassConfig(proc_root=str(tmp_path)))
    ipc_inode = os.stat(tmp_path / "4242" / "ns" / "ipc").st_ino
    assert index.shm_segments == {(ipc_inode, 98765): [(4242, None, "rw")]}
    assert index.processes[4242].cmdline == ("fake", "--flag") and index.processes[4242].start == 777
    assert procs._procmap_query_works is False
