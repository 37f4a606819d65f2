"""`ipcwatch.cli.main` called in-process (by tests and scripts) leaves the caller's cyclic collector as it was; as the
process (`python -m ipcwatch`) it ends with its whole output and its exit code."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

from ipcwatch.cli import main


@pytest.mark.parametrize("enabled", [True, False])
def test_main_in_process_leaves_the_collector_as_it_was(enabled: bool, capsys: pytest.CaptureFixture[str]) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert main(["list", "--kind", "sysv-shm", "--json"]) == 0
        assert '"objects"' in capsys.readouterr().out
        assert gc.isenabled() is enabled
        with pytest.raises(SystemExit):
            main(["list", "--no-such-option"])
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def _cli(*args: str, reader: list[str] | None = None) -> tuple[int, bytes, bytes]:
    """`python -m ipcwatch ARGS` as a process, its stdout read whole or through `reader` (a command)."""
    cli = subprocess.Popen([sys.executable, "-m", "ipcwatch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert cli.stdout is not None and cli.stderr is not None
    if reader is None:
        out, err = cli.communicate(timeout=120)
        return cli.returncode, out, err
    head = subprocess.run(reader, stdin=cli.stdout, capture_output=True, timeout=120, check=True)
    cli.stdout.close()
    err = cli.stderr.read()
    cli.stderr.close()
    return cli.wait(timeout=120), head.stdout, err


def test_the_command_ends_with_its_whole_output_and_its_exit_code() -> None:
    """The process ends without the interpreter's finalization (os._exit): nothing written is lost, the exit code is
    the command's, and a reader that goes away early ends it quietly with 141."""
    code, out, err = _cli("list", "--json")
    assert code == 0 and err == b""
    assert out.endswith(b"}\n") and "objects" in json.loads(out)
    code, _, err = _cli("list", "--kind", "nope")
    assert code == 2 and b"unknown kind" in err
    code, first, err = _cli("list", "--json", reader=["head", "-c", "12"])
    # 141 when head was gone by the last write; 0 when the whole listing fit in the pipe before it went (a quiet host)
    assert first == b'{"objects":[' and err == b"" and code in (0, 141)
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader at all by the time it writes: that ends it quietly with 141, every time
    try:
        gone = subprocess.run(
            [sys.executable, "-m", "ipcwatch", "list", "--json"],
            stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (gone.returncode, gone.stderr) == (141, b"")


def test_output_that_cannot_be_written_ends_with_120_and_says_so() -> None:
    """The last flush fails (a full disk: /dev/full): exit 120 with a message, as the interpreter's own exit would,
    not a traceback. The output is buffered here (no PYTHONUNBUFFERED), so the failure comes at that flush."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "ipcwatch", "list", "--json", "--kind", "sysv-shm"],
            stdout=full, stderr=subprocess.PIPE, env=env, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 120
    assert b"could not write the output" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.parametrize("form", [["--json"], []])
def test_output_refused_mid_command_ends_with_120_and_says_so(form: list[str], posix_shm) -> None:  # noqa: ANN001
    """Output bigger than the buffer: the disk refuses a write while the command runs, not at its last flush: exit
    120 with the message once, not a traceback."""
    for _ in range(100):  # ~50 KB of JSON, ~10 KB of table: past the 8 KiB buffer
        posix_shm()
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "ipcwatch", "list", "--kind", "posix-shm", *form],
            stdout=full, stderr=subprocess.PIPE, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 120, done.stderr
    assert done.stderr.count(b"could not write the output") == 1 and b"Traceback" not in done.stderr
