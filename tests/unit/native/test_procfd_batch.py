"""read_processes on recorded /proc look-alikes: the C helper and its Python twin give the same records, errors
included (a missing stat, fd directory or maps; a maps file that refuses PROCMAP_QUERY; names that are no pid)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ipcwatch.native import procfd

try:
    from ipcwatch.native import _procfd
except ImportError:
    _procfd = None  # type: ignore[assignment]

STAT = "{pid} (fake {pid}) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0"
SYSV_LINE = b"7f0000000000-7f0000001000 rw-s 00000000 00:01 98765                      /SYSV0000abcd (deleted)"
SHM_LINE = b"7f0000002000-7f0000003000 r--s 00000000 00:1a 4242                       /dev/shm/x"
PLAIN_LINE = b"7f0000004000-7f0000005000 r-xp 00000000 08:01 77                         /usr/lib/libc.so.6"


def _impls() -> list:
    return [procfd.py_read_processes] + ([_procfd.read_processes] if _procfd is not None else [])


def _fake(root: Path, pid: int, *, maps: bytes | None = None, fds: dict[str, str] | None = None) -> Path:
    """A /proc/PID look-alike: stat and cmdline; an fd directory of symlinks and fdinfo files when `fds` is given; a
    plain maps file (no PROCMAP_QUERY on it) and ns/ipc when `maps` is."""
    proc = root / str(pid)
    proc.mkdir()
    (proc / "stat").write_text(STAT.format(pid=pid))
    (proc / "cmdline").write_bytes(b"fake\0--flag\0")
    if fds is not None:
        (proc / "fd").mkdir()
        (proc / "fdinfo").mkdir()
        for name, link in fds.items():
            (proc / "fd" / name).symlink_to(link)
            (proc / "fdinfo" / name).write_text(f"pos:\t0\nflags:\t02\neventfd-count:\t{name}\n")
    if maps is not None:
        (proc / "maps").write_bytes(maps)
        (proc / "ns").mkdir()
        (proc / "ns" / "ipc").write_bytes(b"")
    return proc


def _all(root: Path, mode: int, anon: bool = False, waits: bool = False) -> list:
    results = [sorted(impl(str(root), [], mode, anon, waits)) for impl in _impls()]
    assert all(r == results[0] for r in results)
    return results[0]


def test_fd_links_are_classified_alike_and_anon_fds_carry_their_fdinfo(tmp_path: Path) -> None:
    links = {"3": "socket:[123]", "4": "pipe:[77]", "5": "anon_inode:[eventfd]", "6": "ipc:[4026531839]"}
    links |= {"7": "/nonexistent", "8": "anon_inode:[timerfd]", "x": "socket:[9]", "9": "socket:[12x]"}
    _fake(tmp_path, 41, fds=links)
    [(pid, _, _, cmdline, fds, maps, ipc, waits)] = _all(tmp_path, procfd.MAPS_NONE, anon=True)
    assert (pid, cmdline, maps, ipc, waits) == (41, b"fake\0--flag\0", None, None, None)
    assert sorted(fds) == [
        ("a", 5, "eventfd", b"pos:\t0\nflags:\t02\neventfd-count:\t5\n"),
        ("n", 6, "ipc", 4026531839),
        ("p", 4, 77, "rw"),  # a symlink's own mode bits: 0777
        ("s", 3, 123),
    ]
    [record] = _all(tmp_path, procfd.MAPS_NONE, anon=False)
    assert ("a", 5, "eventfd") in record[4]


def test_errors_are_reported_per_process(tmp_path: Path) -> None:
    _fake(tmp_path, 42)  # no fd directory, no maps
    gone = _fake(tmp_path, 43)
    (gone / "stat").unlink()
    (tmp_path / "self").mkdir()  # not a pid
    (tmp_path / ("9" * 19)).mkdir()  # too long to be one
    (tmp_path / "44").write_text("")  # not a directory: skipped like a process gone since the listing
    records = _all(tmp_path, procfd.MAPS_QUERY)
    assert records == [
        (42, records[0][1], os.getuid(), b"fake\0--flag\0", errno.ENOENT, errno.ENOENT, None, None),
        (43, errno.ENOENT),
    ]
    assert records[0][1] == STAT.format(pid=42).encode()


def test_a_maps_file_that_refuses_the_query_turns_the_batch_to_the_text(tmp_path: Path) -> None:
    _fake(tmp_path, 50, maps=b"\n".join([PLAIN_LINE, SYSV_LINE, PLAIN_LINE, SHM_LINE, b""]), fds={})
    _fake(tmp_path, 51, maps=b"", fds={})
    ipc = os.stat(tmp_path / "50" / "ns" / "ipc").st_ino
    assert [r[5:7] for r in _all(tmp_path, procfd.MAPS_QUERY)] == [(errno.ENOTTY, None), (errno.ENOTTY, None)]
    for mode in (procfd.MAPS_FALLBACK, procfd.MAPS_TEXT):
        # only the lines the pass looks for are kept (the text of every process is held until the batch ends)
        assert [r[5:7] for r in _all(tmp_path, mode)] == [(SYSV_LINE + b"\n" + SHM_LINE, ipc), (b"", None)]
    (tmp_path / "50" / "ns" / "ipc").unlink()
    assert _all(tmp_path, procfd.MAPS_TEXT)[0][6] == -errno.ENOENT


def test_a_bad_maps_mode_or_root_is_refused_alike(tmp_path: Path) -> None:
    for impl in _impls():
        with pytest.raises(ValueError):
            impl(str(tmp_path), [], 4, False)
        with pytest.raises(FileNotFoundError):
            impl(str(tmp_path / "missing"), [], 0, False)


def test_what_the_sampling_needs_is_read_of_one_thread_asleep_only(tmp_path: Path) -> None:
    """read_waits: task's link count always; syscall of a one-thread process in S or D; wchan and sched unless it
    runs; each an errno when it cannot be read."""
    syscall = b"0 0x3 0x7f 0x1 0x0 0x0 0x0 0x7ffc 0x7f12\n"
    files = {"syscall": syscall, "wchan": b"pipe_read", "sched": b"se.exec_start : 1.5"}
    layouts = {
        50: ("S", files, 0),  # asleep in read(3): all three
        51: ("D", {"syscall": b"running\n", "wchan": b"x", "sched": b"y"}, 0),  # running: no wchan or sched
        52: ("R", files, 0),  # not asleep: nothing read
        53: ("S", files, 2),  # two threads: sampled thread by thread later, nothing read here
        54: ("S", {"wchan": b"x"}, 0),  # no syscall file: its errno
        55: ("S", {"syscall": b"7 0x0\n"}, 0),  # no wchan or sched: their errnos
    }
    for pid, (state, present, threads) in layouts.items():
        proc = _fake(tmp_path, pid)
        (proc / "stat").write_text(STAT.format(pid=pid).replace(") S ", f") {state} "))
        for tid in range(threads):
            (proc / "task" / str(pid + tid)).mkdir(parents=True)
        (proc / "task").mkdir(exist_ok=True)
        for name, data in present.items():
            (proc / name).write_bytes(data)
    _fake(tmp_path, 56)  # no task directory: None
    (tmp_path / "56" / "syscall").write_bytes(files["syscall"])
    got = {r[0]: r[7] for r in _all(tmp_path, procfd.MAPS_NONE, waits=True)}
    assert got == {
        50: (2, files["syscall"], files["wchan"], files["sched"]),
        51: (2, b"running\n", None, None),
        52: (2, None, None, None),
        53: (4, None, None, None),
        54: (2, errno.ENOENT, None, None),
        55: (2, b"7 0x0\n", errno.ENOENT, errno.ENOENT),
        56: None,
    }
    assert all(r[7] is None for r in _all(tmp_path, procfd.MAPS_NONE))  # not asked for

