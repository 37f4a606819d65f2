"""The /proc pass's visitors: each process is opened again after the batch read it, and visited only when its start
time says it is still the same process (a recycled pid is not), one directory fd at a time."""

from __future__ import annotations

import _thread
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from ipcwatch.kinds import Kind
from ipcwatch.scan import ScanConfig, procs
from ipcwatch.scan.model import Process

STAT = "{pid} (fake) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0"


def _fake(root: Path, pid: int, start: int) -> None:
    proc = root / str(pid)
    proc.mkdir()
    (proc / "stat").write_text(STAT.format(pid=pid, start=start))
    (proc / "cmdline").write_bytes(b"fake\0")
    (proc / "fd").mkdir()


def test_a_pid_recycled_since_the_batch_is_not_visited(tmp_path: Path) -> None:
    _fake(tmp_path, 4242, 777)
    _fake(tmp_path, 4243, 778)
    seen: list[tuple[int, str, int]] = []

    def visit(pid: int, dir_fd: int, proc: Process) -> None:
        seen.append((pid, os.readlink(f"/proc/self/fd/{dir_fd}"), proc.start))

    config = procs.ProcPassConfig(proc_root=str(tmp_path), read_maps=False, visitors=[visit])
    records = procs.read_proc_pass(config)
    (tmp_path / "4243" / "stat").write_text(STAT.format(pid=4243, start=900))  # another process, same pid
    index = procs.index_processes(records, config)
    assert records == []  # consumed as indexed: each record freed once its holds are in the index
    assert seen == [(4242, str(tmp_path / "4242"), 777)]
    assert set(index.processes) == {4242, 4243} and index.errors == []  # read by the batch: it is listed


def test_a_process_gone_before_its_visit_is_not_visited(tmp_path: Path) -> None:
    _fake(tmp_path, 4242, 777)
    seen: list[int] = []
    config = procs.ProcPassConfig(
        proc_root=str(tmp_path), read_maps=False, visitors=[lambda pid, dir_fd, proc: seen.append(pid)]
    )
    records = procs.read_proc_pass(config)
    (tmp_path / "4242" / "stat").unlink()
    assert procs.index_processes(records, config).processes.keys() == {4242} and seen == []
    assert procs.scan_processes(config).processes == {} and seen == []  # its stat is gone: not read at all


def test_a_scan_that_cannot_start_a_thread_reads_everything_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """pids.max or RLIMIT_NPROC reached (a crowded container): the /proc pass and the fills run inline, same result."""
    import ipcwatch.scan as scan_module  # noqa: PLC0415 - its _thread is replaced for this test only

    def refuse(*_: object) -> int:
        raise RuntimeError("can't start new thread")

    read_end, write_end = os.pipe()
    try:
        config = ScanConfig(kinds=frozenset({Kind.PIPE}))
        threaded = scan_module.scan(config)
        monkeypatch.setattr(
            scan_module, "_thread", SimpleNamespace(allocate_lock=_thread.allocate_lock, start_new_thread=refuse)
        )
        inline = scan_module.scan(config)
        mine = os.fstat(read_end).st_ino
        for snapshot in (threaded, inline):
            pipe = next(o for o in snapshot.objects if o.id == mine)
            assert {(h.pid, h.fd) for h in pipe.holders} == {(os.getpid(), read_end), (os.getpid(), write_end)}
        assert not any("thread" in e.message for e in inline.errors)
    finally:
        os.close(read_end)
        os.close(write_end)
