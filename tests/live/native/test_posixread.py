"""The native directory listing and file reads and their pure-Python twin agree on real files and queues."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

from ipcwatch.native import posixread
from tests.conftest import Cleanup

try:
    from ipcwatch.native import _posixread
except ImportError:
    _posixread = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(_posixread is None, reason="the C helper is not built")
STAT_FIELDS = posixread.Lstat._fields  # the lstat fields the scan uses, named as os.stat_result names them


def _dir_fd(path: str | Path, cleanup: Cleanup) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    cleanup.add(lambda: os.close(fd))
    return fd


def _same_listing(dir_fd: int) -> list[tuple[str, posixread.Lstat]]:
    native, twin = _posixread.list_files(dir_fd), posixread.py_list_files(dir_fd)
    assert native == twin  # names, order and the stat fields, in order
    for (name, a), (_, b) in zip(native[0], twin[0], strict=True):  # each field as os.lstat fills it, floats too
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        assert [getattr(a, f) for f in STAT_FIELDS] == [getattr(b, f) for f in STAT_FIELDS]
        assert [getattr(a, f) for f in STAT_FIELDS] == [getattr(st, f) for f in STAT_FIELDS]
    assert _posixread.Lstat.n_fields == len(STAT_FIELDS)  # the struct sequence has these fields and no more
    assert os.lseek(dir_fd, 0, os.SEEK_CUR) == 0  # both leave the offset at the start
    return native[0]


def test_every_kind_of_entry_and_hostile_names(tmp_path: Path, cleanup: Cleanup):
    odd = os.fsencode(tmp_path) + b"/odd\xff\nname\x1b"
    with open(odd, "wb") as f:
        f.write(b"\x05\x00\x00\x00\x02\x00\x00\x00" + b"x" * 24)
    (tmp_path / "short").write_bytes(b"abc")
    (tmp_path / "empty").write_bytes(b"")
    os.symlink("/etc/passwd", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "replaced").write_bytes(b"old")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
    dir_fd = _dir_fd(tmp_path, cleanup)
    entries = _same_listing(dir_fd)
    names = {name for name, _ in entries}
    assert names == {os.fsdecode(odd.rsplit(b"/", 1)[1]), "short", "empty", "link", "fifo", "dir", "replaced", "sock"}
    items = [(name, st.st_dev, st.st_ino) for name, st in entries]
    (tmp_path / "new").write_bytes(b"new")
    os.rename(tmp_path / "new", tmp_path / "replaced")  # another inode than the one listed
    items += [("gone", 0, 0), ("dir/../short", 0, 0)]
    for nbytes in (0, 8, 4096):
        native = _posixread.read_files(dir_fd, items, nbytes, False)
        assert native == posixread.py_read_files(dir_fd, items, nbytes, False)
    got = dict(zip([name for name, _, _ in items], native, strict=True))
    assert got[os.fsdecode(odd.rsplit(b"/", 1)[1])] == (b"\x05\x00\x00\x00\x02\x00\x00\x00" + b"x" * 24, None)
    assert got["short"] == (b"abc", None) and got["empty"] == (b"", None)
    assert got["link"] == errno.ELOOP  # never followed
    assert got["fifo"] == got["dir"] == posixread.NOT_REGULAR  # opened without blocking, then refused
    assert got["sock"] == errno.ENXIO
    assert got["replaced"] == posixread.REPLACED
    assert got["gone"] == errno.ENOENT
    assert got["dir/../short"] == posixread.REPLACED  # opened (a path under the fd), refused: not the listed inode


def test_queues_and_their_attributes(posix_mq, cleanup: Cleanup):
    name, mq = posix_mq(max_messages=5, max_message_size=64)
    mq.send(b"one")
    mq.send(b"two")
    dir_fd = _dir_fd("/dev/mqueue", cleanup)
    entries = [(n, st) for n, st in _same_listing(dir_fd) if n == name]
    items = [(n, st.st_dev, st.st_ino) for n, st in entries] + [(name + "-gone", 0, 0)]
    native = _posixread.read_files(dir_fd, items, 256, True)
    twin = posixread.py_read_files(dir_fd, items, 256, True)
    assert native[1] == twin[1] == errno.ENOENT
    (status, attrs), (twin_status, twin_attrs) = native[0], twin[0]
    assert attrs == twin_attrs and attrs[1:] == (5, 64, 2)
    assert status.startswith(b"QSIZE:6 ") and twin_status.startswith(b"QSIZE:6 ")  # one reads what the other read


def test_a_directory_that_cannot_be_listed(tmp_path: Path, cleanup: Cleanup):
    file_fd = _dir_fd(tmp_path, cleanup)
    os.rmdir(tmp_path)  # an empty, removed directory lists nothing
    assert _posixread.list_files(file_fd) == posixread.py_list_files(file_fd) == ([], [])
    with pytest.raises(OSError) as native:
        _posixread.list_files(-1)
    with pytest.raises(OSError) as twin:
        posixread.py_list_files(-1)
    assert native.value.errno == twin.value.errno == errno.EBADF


@pytest.mark.skipif(os.environ.get("IPCWATCH_REQUIRE_C") != "1", reason="only when IPCWATCH_REQUIRE_C=1")
def test_c_is_in_use_when_required():
    assert posixread.IMPLEMENTATION == "c"
    assert posixread.list_files is _posixread.list_files and posixread.read_files is _posixread.read_files


def test_special_files_walk(tmp_path: Path, cleanup: Cleanup):
    """FIFOs and sockets found the same way, in the same order, depth and budget honoured, links never followed."""
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    for where in (tmp_path, tmp_path / "a", tmp_path / "a" / "b", deep):
        os.mkfifo(where / "fifo\n\x1b")
        _bound_socket(where / "sock", cleanup)
        (where / "plain").write_bytes(b"")
    os.symlink(tmp_path / "a", tmp_path / "link-to-a")  # never followed: its FIFOs are found once, by their path
    os.symlink(tmp_path, tmp_path / "loop")
    roots = [str(tmp_path / "a"), str(tmp_path), str(tmp_path / "missing"), str(tmp_path / "a" / "b" / "plain")]
    for depth in (0, 1, 2, 3, 5):
        for budget in (0, 1, 3, 7, 200_000):
            native = _posixread.special_files(roots, depth, budget)
            twin = posixread.py_special_files(roots, depth, budget)
            assert native[1] == twin[1] and [p for p, _ in native[0]] == [p for p, _ in twin[0]], (depth, budget)
            for (_, a), (_, b) in zip(native[0], twin[0], strict=True):
                assert a == b if isinstance(a, int) else [getattr(a, f) for f in STAT_FIELDS] == [
                    getattr(b, f) for f in STAT_FIELDS
                ]
    found, exhausted = _posixread.special_files(roots, 3, 200_000)
    paths = [p for p, _ in found]
    assert not exhausted and paths[0] == str(tmp_path / "a" / "b" / "plain")  # the last root first: not a directory
    assert found[0][1] == errno.ENOTDIR
    assert str(tmp_path / "a" / "b" / "c" / "fifo\n\x1b") not in paths  # 3 levels down from tmp_path: too deep
    assert str(tmp_path / "a" / "b" / "c" / "fifo\n\x1b") in [p for p, _ in _posixread.special_files(roots, 4, 99)[0]]
    assert len([p for p in paths if p.endswith("fifo\n\x1b")]) == 3  # each directory once, whichever root met it
    assert not any("link-to-a" in p or "loop" in p for p in paths)


def _bound_socket(path: Path, cleanup: Cleanup) -> None:
    sock = socket.socket(socket.AF_UNIX)
    cleanup.add(sock.close)
    sock.bind(str(path))
