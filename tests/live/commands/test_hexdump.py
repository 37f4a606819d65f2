"""`ipcwatch hexdump` on real POSIX and SysV objects, compared with `hexdump -C` on the same bytes."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess

import pytest
import sysv_ipc

from ipcwatch import shmread
from ipcwatch.cli import main
from ipcwatch.native.hexformat import hexdump
from ipcwatch.text import parse_size
from tests.conftest import needs_root, shm_row, wait_until

needs_hexdump = pytest.mark.skipif(shutil.which("hexdump") is None, reason="util-linux hexdump is not installed")


def sample_bytes(size: int) -> bytes:
    """Random-looking bytes with repeated regions and a text run (deterministic)."""
    noise = bytes((i * 131 + (i >> 7) * 17) & 0xFF for i in range(size))
    data = bytearray(noise)
    data[300:2300] = bytes(2000)
    data[5000:5600] = b"ipcwatch" * 75
    return bytes(data[:size])


def real_hexdump(path: str, *options: str) -> bytes:
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(["hexdump", "-C", *options, path], capture_output=True, check=True, env=env).stdout


def fill(seg: sysv_ipc.SharedMemory, data: bytes, offset: int = 0) -> bytes:
    """Write into a (detached) segment; return all of its bytes afterwards."""
    seg.attach()
    try:
        seg.write(data, offset)
        return seg.read()
    finally:
        seg.detach()



def run_cli(capsysbinary: pytest.CaptureFixture[bytes], *argv: str, read_only: bool = False) -> tuple[int, bytes, str]:
    code = main([*(["--read-only"] if read_only else []), "hexdump", *argv])
    captured = capsysbinary.readouterr()
    return code, captured.out, captured.err.decode()


@needs_hexdump
@pytest.mark.parametrize(
    "options",
    [[], ["-v"], ["-s", "100", "-n", "5000"], ["-s", "0x20"], ["-s", "1K", "-n", "0x100"], ["-s", "010", "-n", "40"],
     ["-s", "99999"], ["-n", "0"], ["-s", "1.5K", "-v", "-n", "1KB"]],
)
def test_posix_output_equals_hexdump_c(posix_shm, capsysbinary, options: list[str]) -> None:
    data = sample_bytes(9000)
    name, _ = posix_shm(size=len(data), data=data)
    code, out, err = run_cli(capsysbinary, f"/dev/shm/{name}", *options)
    assert (code, err) == (0, "")
    assert out == real_hexdump(f"/dev/shm/{name}", *options)


@needs_hexdump
def test_posix_ref_form_and_streaming_across_windows(posix_shm, capsysbinary, monkeypatch) -> None:
    monkeypatch.setattr("ipcwatch.commands.hexdump.READ_WINDOW", 4096 + 16 * 3)  # many windows, runs across them
    data = bytes(3000) + sample_bytes(20000) + bytes(20000) + b"tail"
    name, _ = posix_shm(size=len(data), data=data)
    code, out, _ = run_cli(capsysbinary, f"posix-shm:{name}")
    assert code == 0
    assert out == real_hexdump(f"/dev/shm/{name}")


@needs_root
def test_sysv_through_a_holders_mapping_has_no_side_effects(sysv_shm, spawn, capsysbinary) -> None:
    seg = sysv_shm(size=6000)
    fill(seg, sample_bytes(6000))
    child = spawn(f"import sys, sysv_ipc; m = sysv_ipc.attach({seg.id}); print('READY', flush=True); sys.stdin.read()")
    before = shm_row(seg.id)
    code, out, err = run_cli(capsysbinary, f"sysv-shm:{seg.id}")
    assert (code, err) == (0, "")
    assert out == hexdump(sample_bytes(6000))
    after = shm_row(seg.id)
    assert (after["nattch"], after["atime"], after["lpid"]) == (before["nattch"], before["atime"], before["lpid"]) == (
        1, before["atime"], child.pid)


def test_sysv_without_holder_attaches_read_only_and_says_so(sysv_shm, capsysbinary) -> None:
    seg = sysv_shm(size=5000)
    expected = fill(seg, b"\x00\xffsecret\x1b]52;c;evil\x07" * 10, 64)
    code, out, err = run_cli(capsysbinary, f"sysv-shm:{seg.id}", "-s", "32", "-n", "300")
    assert code == 0
    assert "nattch" in err and "SHM_RDONLY" in err
    assert out == hexdump(expected[32:332], 32)
    assert b"\x1b" not in out and b"\x07" not in out
    assert shm_row(seg.id)["nattch"] == 0  # detached at once


def test_read_only_refuses_to_attach_a_segment_nobody_maps(sysv_shm, capsysbinary) -> None:
    seg = sysv_shm(size=4096)
    before = shm_row(seg.id)
    code, out, err = run_cli(capsysbinary, f"sysv-shm:{seg.id}", read_only=True)
    assert (code, out) == (3, b"")
    assert "no process has it attached" in err and "--read-only forbids" in err
    after = shm_row(seg.id)
    assert (after["nattch"], after["atime"], after["lpid"]) == (before["nattch"], before["atime"], before["lpid"])


@needs_root
def test_read_only_reads_through_a_holders_mapping(sysv_shm, spawn, capsysbinary) -> None:
    seg = sysv_shm(size=3000)
    fill(seg, sample_bytes(3000))
    spawn(f"import sys, sysv_ipc; m = sysv_ipc.attach({seg.id}); print('READY', flush=True); sys.stdin.read()")
    code, out, err = run_cli(capsysbinary, f"sysv-shm:{seg.id}", read_only=True)
    assert (code, err) == (0, "")
    assert out == hexdump(sample_bytes(3000))


def test_object_that_shrinks_mid_read_fails_cleanly(posix_shm, capsysbinary, monkeypatch) -> None:
    data = sample_bytes(64 * 1024)
    name, _ = posix_shm(size=len(data), data=data)
    monkeypatch.setattr("ipcwatch.commands.hexdump.READ_WINDOW", 16 * 1024)
    real_read = shmread.FileSource.read

    def read_then_truncate(self, offset: int, length: int) -> bytes:
        chunk = real_read(self, offset, length)
        os.truncate(f"/dev/shm/{name}", 20000)  # the owner shrinks it after our first window
        return chunk

    monkeypatch.setattr(shmread.FileSource, "read", read_then_truncate)
    code, out, err = run_cli(capsysbinary, f"posix-shm:{name}", "-v")
    assert code == 1
    assert "shrank to 20000 bytes" in err and "Traceback" not in err
    assert out == hexdump(data[:20000], verbose=True)


def test_segment_removed_mid_read_fails_cleanly(sysv_shm, capsysbinary, monkeypatch) -> None:
    seg = sysv_shm(size=64 * 1024)
    monkeypatch.setattr("ipcwatch.commands.hexdump.READ_WINDOW", 16 * 1024)
    real_read = shmread.SysvSource._read_attached

    def read_then_remove(self, offset: int, length: int) -> bytes:
        chunk = real_read(self, offset, length)
        seg.remove()
        return chunk

    monkeypatch.setattr(shmread.SysvSource, "_read_attached", read_then_remove)
    code, out, err = run_cli(capsysbinary, f"sysv-shm:{seg.id}")
    assert code == 1
    assert "was removed" in err and "Traceback" not in err
    assert out.startswith(b"00000000  20 20")


def test_terabyte_sparse_object_reads_without_allocating(posix_shm, capsysbinary) -> None:
    name, shm = posix_shm(size=4096)
    path = f"/dev/shm/{name}"
    os.truncate(path, 1 << 40)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"end of terabyte!", (1 << 40) - 16)
    finally:
        os.close(fd)
    blocks = os.stat(path).st_blocks
    code, out, _ = run_cli(capsysbinary, path, "-s", str((1 << 40) - 4 * 1024 * 1024))
    assert code == 0
    assert out.endswith(b"|end of terabyte!|\n10000000000\n")
    assert out.count(b"\n") == 4  # one zero line, `*`, the text line, the end offset
    wait_until(lambda: os.stat(path).st_blocks <= blocks + 8)


def test_not_shared_memory_is_refused(sysv_msg, capsysbinary) -> None:
    queue = sysv_msg()
    code, out, err = run_cli(capsysbinary, f"sysv-msg:{queue.id}")
    assert (code, out) == (1, b"")
    assert "sysv-shm" in err


def test_hostile_posix_name_is_escaped_in_errors(capsysbinary) -> None:
    code, _, err = run_cli(capsysbinary, "posix-shm:nope\x1b]0;pwned\x07")
    assert code == 1
    assert "\x1b" not in err and "\\x1b" in err


@needs_hexdump
@pytest.mark.parametrize("text", ["0", "17", "0x1f", "0X10", "010", "1k", "1K", "2KiB", "1KB", "1kb", "1.5K", "1M"])
def test_sizes_are_read_like_hexdump(text: str, tmp_path) -> None:
    path = tmp_path / "big"
    path.write_bytes(sample_bytes(3 << 20))
    first_offset = real_hexdump(str(path), "-s", text, "-n", "1").split(b" ", 1)[0]
    assert parse_size(text) == int(first_offset, 16)


@pytest.mark.parametrize("text", ["", "-1", "zz", "1.5", "0x1.5K", "1Q", "08"])
def test_bad_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)
