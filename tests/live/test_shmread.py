"""Byte sources over real objects: POSIX files by pread, SysV segments by mapping or read-only attach; search."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipcwatch.shmread import (
    AttachRefused,
    BytesSource,
    FileSource,
    SourceError,
    SourceGone,
    Status,
    SysvSource,
    open_source,
    search,
)
from tests.conftest import Cleanup, needs_root, obj_of, shm_row


def test_posix_source_reads_restats_and_sees_truncate_and_unlink(posix_shm, cleanup: Cleanup) -> None:
    name, _ = posix_shm(size=8192, data=b"hello posix")
    with open_source(obj_of(f"posix-shm:{name}")) as source:
        assert source.note is None
        assert source.status() == Status(8192, False)
        assert source.read(0, 11) == b"hello posix"
        assert source.read(8190, 100) == bytes(2)  # short at the end
        os.truncate(f"/dev/shm/{name}", 5)
        assert source.size() == 5
        assert source.read(0, 100) == b"hello"
        os.unlink(f"/dev/shm/{name}")
        os.close(os.open(f"/dev/shm/{name}", os.O_CREAT | os.O_RDWR, 0o600))
        cleanup.add(lambda: os.unlink(f"/dev/shm/{name}"))  # a new identity: the fixture's checked removal keeps it
        assert source.status() == Status(5, True)  # unlinked, still readable through our fd
        assert source.read(0, 5) == b"hello"


def test_posix_object_replaced_since_the_scan_is_refused(posix_shm, cleanup: Cleanup) -> None:
    name, _ = posix_shm(size=4096)
    obj = obj_of(f"posix-shm:{name}")
    os.unlink(f"/dev/shm/{name}")
    os.close(os.open(f"/dev/shm/{name}", os.O_CREAT | os.O_RDWR, 0o600))
    cleanup.add(lambda: os.unlink(f"/dev/shm/{name}"))  # a new identity: the fixture's checked removal keeps it
    with pytest.raises(SourceGone, match="replaced"):
        open_source(obj)


def test_symlink_and_fifo_are_never_opened(tmp_path) -> None:
    target = tmp_path / "secret"
    target.write_bytes(b"secret")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(SourceError):
        FileSource(str(link), "link")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match="not a regular file"):
        FileSource(str(fifo), "fifo")  # and it did not block


@needs_root
def test_sysv_read_through_holder_mapping_leaves_no_trace(sysv_shm, spawn) -> None:
    seg = sysv_shm(size=10000)
    child = spawn(
        f"import sys, sysv_ipc; m = sysv_ipc.attach({seg.id}); m.write(b'mapped bytes', 4000); "
        "print('READY', flush=True); sys.stdin.read()"
    )
    before = shm_row(seg.id)
    with open_source(obj_of(f"sysv-shm:{seg.id}")) as source:
        assert source.note is None
        assert source.read(4000, 12) == b"mapped bytes"
        assert source.read(9990, 100) == b" " * 10  # sysv_ipc fills new segments with spaces
        assert source.status() == Status(10000, False)
    after = shm_row(seg.id)
    assert (after["nattch"], after["atime"], after["lpid"]) == (before["nattch"], before["atime"], child.pid)


def test_sysv_read_by_attaching_read_only_then_removed(sysv_shm) -> None:
    seg = sysv_shm(size=4096)
    seg.attach()
    seg.write(b"attached", 10)
    seg.detach()
    source = open_source(obj_of(f"sysv-shm:{seg.id}"))
    try:
        assert source.note is not None and "nattch" in source.note
        assert source.read(10, 8) == b"attached"
        assert shm_row(seg.id)["nattch"] == 0
        seg.remove()
        assert source.status() == Status(None, True)
        with pytest.raises(SourceGone):
            source.read(0, 16)
    finally:
        source.close()


def test_no_attach_refuses_a_segment_nobody_maps_and_leaves_it_untouched(sysv_shm) -> None:
    seg = sysv_shm(size=4096)
    obj = obj_of(f"sysv-shm:{seg.id}")
    before = shm_row(seg.id)
    with pytest.raises(AttachRefused, match="no process has it attached.*--read-only forbids"):
        open_source(obj, allow_attach=False)
    after = shm_row(seg.id)
    assert (after["nattch"], after["atime"], after["lpid"]) == (before["nattch"], before["atime"], before["lpid"])


@needs_root
def test_no_attach_still_reads_through_a_holders_mapping(sysv_shm, spawn) -> None:
    seg = sysv_shm(size=4096)
    spawn(f"import sys, sysv_ipc; m = sysv_ipc.attach({seg.id}); m.write(b'held', 8); print('READY', flush=True); "
          "sys.stdin.read()")
    with open_source(obj_of(f"sysv-shm:{seg.id}"), allow_attach=False) as source:
        assert source.note is None
        assert source.read(8, 4) == b"held"


@needs_root
def test_identity_is_checked_once_per_ttl_and_a_removal_is_never_read_after_detection(
    sysv_shm, spawn, monkeypatch
) -> None:
    seg = sysv_shm(size=8192)
    spawn(f"import sys, sysv_ipc; m = sysv_ipc.attach({seg.id}); m.write(b'held', 0); print('READY', flush=True); "
          "sys.stdin.read()")
    source = SysvSource(obj_of(f"sysv-shm:{seg.id}"), identity_ttl=60)
    checks: list[int] = []
    real_row = source._row
    monkeypatch.setattr(source, "_row", lambda: checks.append(1) or real_row())
    try:
        assert all(source.read(0, 4) == b"held" for _ in range(50))
        assert checks == []  # the check made when it was opened still holds
        assert source.status() == Status(8192, False)
        assert len(checks) == 1  # a status (a poll) always re-checks
        seg.remove()  # the holder keeps it alive under key IPC_PRIVATE: no longer the segment we opened
        assert source.status() == Status(None, True)
        with pytest.raises(SourceGone):
            source.read(0, 4)
        assert len(checks) == 2 and source._fd is None  # detected for good, its memory no longer held
    finally:
        source.close()


def test_an_expired_check_is_made_again_by_a_read(sysv_shm, monkeypatch) -> None:
    seg = sysv_shm(size=4096)
    source = SysvSource(obj_of(f"sysv-shm:{seg.id}"), identity_ttl=0)
    checks: list[int] = []
    real_row = source._row
    monkeypatch.setattr(source, "_row", lambda: checks.append(1) or real_row())
    try:
        source.read(0, 4)
        assert len(checks) == 2  # the expired check, then the one after attaching
        seg.remove()
        with pytest.raises(SourceGone):
            source.read(0, 4)
    finally:
        source.close()


def test_a_closed_segment_source_never_attaches_again(sysv_shm) -> None:
    seg = sysv_shm(size=4096)
    source = open_source(obj_of(f"sysv-shm:{seg.id}"))
    source.close()
    with pytest.raises(SourceError, match="closed"):
        source.read(0, 4)


def test_other_kinds_are_refused(sysv_msg) -> None:
    queue = sysv_msg()
    with pytest.raises(SourceError, match="sysv-shm"):
        open_source(obj_of(f"sysv-msg:{queue.id}"))


def test_bytes_source() -> None:
    source = BytesSource(b"0123456789", "message 1")
    assert source.status() == Status(10, False)
    assert source.read(8, 10) == b"89"
    with pytest.raises(ValueError):
        source.read(-1, 2)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=300),
    pattern=st.binary(min_size=1, max_size=5),
    start=st.integers(0, 320),
    window=st.integers(1, 40),
)
def test_search_agrees_with_find_and_rfind(data: bytes, pattern: bytes, start: int, window: int) -> None:
    source = BytesSource(data, "x")
    forward = search(source, pattern, start, window=window)
    assert (-1 if forward is None else forward) == data.find(pattern, start)
    backward = search(source, pattern, start, backward=True, window=window)
    assert (-1 if backward is None else backward) == data.rfind(pattern, 0, start + len(pattern))


def test_search_reports_progress_and_stops_when_cancelled() -> None:
    source = BytesSource(bytes(1000) + b"needle", "x")
    seen: list[tuple[int, int]] = []
    assert search(source, b"needle", 0, window=100, progress=lambda d, t: seen.append((d, t))) == 1000
    assert seen[0] == (100, 1006) and len(seen) >= 9
    assert search(source, b"needle", 0, window=100, cancelled=lambda: True) is None
