"""open_beneath's two ways (openat2, and component by component for short paths): the same files, the same refusals."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipcwatch.scan import nsread

CASES = [  # (path under the root, flags, what both ways give: a file type or an errno)
    ("dev/shm", os.O_PATH | os.O_DIRECTORY, "dir"),
    ("dev/shm", os.O_RDONLY | os.O_DIRECTORY, "dir"),
    ("dev/mqueue", os.O_PATH | os.O_DIRECTORY, errno.ELOOP),  # a symlink to a directory
    ("dev/mqueue", os.O_PATH, errno.ELOOP),  # O_PATH alone would open the link itself
    ("link", os.O_PATH, errno.ELOOP),
    ("link/etc", os.O_PATH, errno.ELOOP),  # a symlink on the way
    ("dev/fifo", os.O_PATH, "fifo"),
    ("dev/fifo", os.O_RDONLY, "fifo"),
    ("dev/fifo/x", os.O_PATH, errno.ENOTDIR),
    ("nope/x", os.O_PATH, errno.ENOENT),
    ("dev/shm/deep/file", os.O_RDONLY, "file"),  # three names and more: openat2 when the kernel has it
]


@pytest.fixture
def root(tmp_path: Path) -> Iterator[int]:
    (tmp_path / "dev" / "shm" / "deep").mkdir(parents=True)
    (tmp_path / "dev" / "shm" / "deep" / "file").write_text("x")
    (tmp_path / "dev" / "mqueue").symlink_to("/etc")
    (tmp_path / "link").symlink_to("/")
    os.mkfifo(tmp_path / "dev" / "fifo")
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


def _opened(open_fd: int) -> str:
    try:
        mode = os.fstat(open_fd).st_mode
    finally:
        os.close(open_fd)
    return {0o040000: "dir", 0o010000: "fifo", 0o100000: "file"}.get(mode & 0o170000, oct(mode))


def _open(root: int, path: str, flags: int, way: str) -> str | int:
    """What opening `path` the given way gives: the file type, or the errno of its refusal."""
    flags |= os.O_CLOEXEC | (0 if flags & os.O_PATH else os.O_NONBLOCK | os.O_NOCTTY)  # as open_beneath adds
    try:
        if way == "openat2":
            fd = nsread._openat2(root, path, flags)
            if fd is None:
                pytest.skip("this kernel has no openat2")
        elif way == "components":
            fd = nsread._open_by_components(root, nsread._components(path), flags)
        else:
            fd = nsread.open_beneath(root, path, flags)
    except OSError as exc:
        return exc.errno or 0
    return _opened(fd)


@pytest.mark.parametrize(("path", "flags", "expected"), CASES)
@pytest.mark.parametrize("way", ["openat2", "components", "open_beneath"])
def test_each_way_opens_and_refuses_alike(root: int, path: str, flags: int, expected: str | int, way: str) -> None:
    assert _open(root, path, flags, way) == expected
