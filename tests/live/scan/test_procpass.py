"""The /proc pass's visitors: what the batch read of a process, the rest through its directory opened again when a
visitor needs it, and only while its start time says it is still the same process (a recycled pid is not), one
directory fd at a time."""

from __future__ import annotations

import _thread
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from ipcwatch.kinds import Kind
from ipcwatch.scan import ScanConfig, procs, scan
from ipcwatch.scan.model import Process
from ipcwatch.scan.procdir import ProcDir
from tests.conftest import wait_until

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

    def visit(pid: int, proc_dir: ProcDir, proc: Process) -> None:
        seen.append((pid, os.readlink(f"/proc/self/fd/{proc_dir.fd}"), proc.start))

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
        proc_root=str(tmp_path), read_maps=False, visitors=[lambda pid, proc_dir, proc: seen.append(proc_dir.fd)]
    )
    records = procs.read_proc_pass(config)
    (tmp_path / "4242" / "stat").unlink()
    assert procs.index_processes(records, config).processes.keys() == {4242} and seen == []
    assert procs.scan_processes(config).processes == {} and seen == []  # its stat is gone: not read at all


def test_a_scan_that_cannot_start_a_thread_reads_everything_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """pids.max or RLIMIT_NPROC reached (a crowded container): the /proc pass and the fills run inline, same result."""
    from ipcwatch.native import passthread  # noqa: PLC0415 - its _thread is replaced for this test only

    def refuse(*_: object) -> int:
        raise RuntimeError("can't start new thread")

    read_end, write_end = os.pipe()
    try:
        config = ScanConfig(kinds=frozenset({Kind.PIPE}))
        threaded = scan(config)
        monkeypatch.setattr(
            passthread, "_thread", SimpleNamespace(allocate_lock=_thread.allocate_lock, start_new_thread=refuse)
        )
        inline = scan(config)
        mine = os.fstat(read_end).st_ino
        for snapshot in (threaded, inline):
            pipe = next(o for o in snapshot.objects if o.id == mine)
            assert {(h.pid, h.fd) for h in pipe.holders} == {(os.getpid(), read_end), (os.getpid(), write_end)}
        assert not any("thread" in e.message for e in inline.errors)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_one_thread_sleeper_is_sampled_from_what_the_pass_read(spawn, monkeypatch: pytest.MonkeyPatch) -> None:
    """The blocked-thread sampling of a one-thread process asleep in read() on a pipe needs nothing but what the
    pass read (its syscall, wchan and sched files and its fd table); a threaded one has its directory opened again."""
    opened: list[int] = []
    real_fd = ProcDir.fd

    def fd(self: ProcDir) -> int:
        opened.append(self.pid)
        return real_fd.fget(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(ProcDir, "fd", property(fd))
    alone = spawn("import os; r, w = os.pipe(); print('READY', flush=True); os.read(r, 1)")
    threaded = spawn("""
        import os, threading
        r, w = os.pipe()
        threading.Thread(target=os.read, args=(r, 1), daemon=True).start()
        print("READY", flush=True)
        os.read(r, 1)
    """)

    def waiters() -> dict[int, str] | None:
        opened.clear()
        snap = scan(ScanConfig(kinds=frozenset({Kind.PIPE})))
        found = {w.pid: o.ref for o in snap.objects for w in o.waiters if w.pid in (alone.pid, threaded.pid)}
        return found if len(found) == 2 else None

    found = wait_until(waiters, timeout=20, interval=0.05)
    assert found[alone.pid].startswith("pipe:") and found[threaded.pid].startswith("pipe:")
    assert alone.pid not in opened and threaded.pid in opened
