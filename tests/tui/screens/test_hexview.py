"""The hex view screen driven by a pilot over real POSIX and SysV objects."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable

import pytest
from textual.app import App

from ipcwatch.native.hexformat import hexdump
from ipcwatch.scan import IpcObject, sysv
from ipcwatch.scan.procs import HolderIndex
from ipcwatch.shmread import ByteSource, FileSource, Status, open_source
from ipcwatch.tui.flows import Flows
from ipcwatch.tui.screens.hexview import HexViewScreen, parse_pattern
from ipcwatch.tui.widgets.hexview import LOADING, HexView
from tests.conftest import shm_row


class Host(App[None]):
    def __init__(self, source: ByteSource) -> None:
        super().__init__()
        self.source = source

    def on_mount(self) -> None:
        self.push_screen(HexViewScreen(self.source, refresh_interval=0.25))


def sample(size: int) -> bytes:
    data = bytearray((i * 7 + (i >> 8)) & 0xFF for i in range(size))
    data[64:640] = bytes(576)
    return bytes(data)


async def until(pilot, predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


def lines(view: HexView, count: int) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(count)]


async def loaded_lines(pilot, view: HexView, count: int) -> list[str]:
    """The first `count` lines on screen once the page worker delivered them (render_line never reads)."""
    await until(pilot, lambda: not any(line.endswith(LOADING.strip()) for line in lines(view, count)))
    return lines(view, count)


def header(screen: HexViewScreen) -> str:
    return str(screen.query_one("#hex-header").content)


def posix_source(posix_shm, data: bytes) -> tuple[str, ByteSource]:
    """A source on a new object, opened as open_source does, without a full scan (slow on a busy host)."""
    name, _ = posix_shm(size=len(data), data=data)
    return name, FileSource(f"/dev/shm/{name}", f"posix-shm:{name}")


def sysv_object(shmid: int) -> IpcObject:
    """The segment as the scan lists it, from /proc/sysvipc alone (no /proc pass: it has no holders)."""
    objects = sysv.shm_objects(sysv.read_table("/proc/sysvipc", "shm", []), HolderIndex())
    return next(o for o in objects if o.id == shmid)


def sysv_source(shmid: int) -> ByteSource:
    return open_source(sysv_object(shmid))



class Recorded(ByteSource):
    """A source that records which thread each read and status ran on, and holds reads until `release`."""

    def __init__(self, inner: ByteSource) -> None:
        self.inner, self.title = inner, inner.title
        self.reads: list[tuple[int, int]] = []  # (thread ident, offset)
        self.statuses: list[int] = []
        self.release = threading.Event()

    def status(self) -> Status:
        self.statuses.append(threading.get_ident())
        return self.inner.status()

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((threading.get_ident(), offset))
        assert self.release.wait(10), "the test never released the reads"
        return self.inner.read(offset, length)

    def close(self) -> None:
        self.release.set()
        self.inner.close()


async def test_first_lines_match_hexdump_and_goto_moves(posix_shm) -> None:
    data = sample(1 << 20)
    name, source = posix_source(posix_shm, data)
    app = Host(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HexViewScreen)
        expected = subprocess.run(["hexdump", "-C", "-v", "-n", "512", f"/dev/shm/{name}"], capture_output=True,
                                  check=True, env={**os.environ, "LC_ALL": "C"}).stdout.decode().splitlines()
        assert await loaded_lines(pilot, screen.view, 20) == expected[:20]
        assert screen.view.virtual_size.height == (1 << 20) // 16
        assert name in header(screen) and "1048576 bytes" in header(screen)
        await pilot.press("g")
        await pilot.press(*"0x8004", "enter")
        await pilot.pause()
        assert screen.view.cursor == 0x8004
        assert screen.view.scroll_offset.y == 0x800
        assert (await loaded_lines(pilot, screen.view, 1))[0].startswith("00008000  ")
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, HexViewScreen)


async def test_sysv_segment_lines_match(sysv_shm) -> None:
    seg = sysv_shm(size=3000)
    seg.attach()
    seg.write(b"\x1b]52;c;aGk=\x07 sysv bytes", 100)
    data = seg.read()
    seg.detach()
    source = sysv_source(seg.id)
    app = Host(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        expected = hexdump(data, verbose=True).decode().splitlines()
        assert await loaded_lines(pilot, app.screen.view, 10) == expected[:10]
        assert "nattch" in header(app.screen)


async def test_render_line_never_reads_and_lines_appear_when_the_worker_delivers(posix_shm) -> None:
    data = sample(1 << 20)
    name, inner = posix_source(posix_shm, data)
    source = Recorded(inner)
    ui_thread = threading.get_ident()
    app = Host(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        await until(pilot, lambda: "1048576 bytes" in header(screen))  # the status, asked of a worker
        view = screen.view
        await until(pilot, lambda: source.reads)
        assert lines(view, 3) == ["00000000" + LOADING, "00000010" + LOADING, "00000020" + LOADING]
        source.release.set()
        expected = hexdump(data[:20 * 16], verbose=True).decode().splitlines()
        assert await loaded_lines(pilot, view, 20) == expected[:20]
        view.go_to(0x8004)
        assert (await loaded_lines(pilot, view, 2))[0].startswith("00008000  ")
        assert [offset for _, offset in source.reads] == [0, 0x8000]  # one read per page, not one per line
        assert ui_thread not in {thread for thread, _ in source.reads}
        assert source.statuses and ui_thread not in source.statuses


class FlowHost(App[None]):
    """An app whose flows open the hex view as the dashboard does, with or without --read-only."""

    def __init__(self, *, read_only: bool) -> None:
        super().__init__()
        self.flows = Flows(self, read_only=read_only, changed=lambda: None)  # type: ignore[arg-type]


async def test_read_only_refuses_to_attach_an_unmapped_segment_in_the_dashboard(sysv_shm) -> None:
    seg = sysv_shm(size=4096)
    obj = sysv_object(seg.id)
    before = shm_row(seg.id)
    app = FlowHost(read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        app.flows.hexview(obj)
        await until(pilot, lambda: app._notifications)
        message = " | ".join(str(n.message) for n in app._notifications)
        assert "no process has it attached" in message and "--read-only forbids" in message
        assert not isinstance(app.screen, HexViewScreen)
    after = shm_row(seg.id)
    assert (after["nattch"], after["atime"], after["lpid"]) == (before["nattch"], before["atime"], before["lpid"])
    app = FlowHost(read_only=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.flows.hexview(obj)
        await until(pilot, lambda: isinstance(app.screen, HexViewScreen))
        assert app.screen.status_known and app.screen.status == Status(4096, False)  # stat'ed by the flow
        await until(pilot, lambda: "nattch" in header(app.screen))  # the header fills in on the next paint


async def test_search_finds_planted_patterns_forward_and_back(posix_shm) -> None:
    data = bytearray(sample(3 << 20))
    data[0x12345:0x12349] = b"\xde\xad\xbe\xef"
    data[0x2ABCDE:0x2ABCE2] = b"\xde\xad\xbe\xef"
    data[0x200000:0x200005] = b"hello"
    _, source = posix_source(posix_shm, bytes(data))
    app = Host(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        view = app.screen.view
        await pilot.press("slash", *"de ad be ef", "enter")
        await until(pilot, lambda: view.cursor == 0x12345)
        assert view.match == (0x12345, 4)
        await pilot.press("n")
        await until(pilot, lambda: view.cursor == 0x2ABCDE)
        await pilot.press("N")
        await until(pilot, lambda: view.cursor == 0x12345)
        await pilot.press("slash", *"t:hello", "enter")
        await until(pilot, lambda: view.cursor == 0x200000)
        assert "found" in str(app.screen.query_one("#hex-status").content)


async def test_live_refresh_highlights_a_changed_byte(posix_shm) -> None:
    name, source = posix_source(posix_shm, sample(8192))
    app = Host(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        view = app.screen.view
        await pilot.press("r")
        assert "live" in header(app.screen)
        await pilot.pause(0.2)
        fd = os.open(f"/dev/shm/{name}", os.O_WRONLY)
        try:
            os.pwrite(fd, b"\xab", 0x25)
        finally:
            os.close(fd)
        await until(pilot, lambda: 0x25 in view.changed)
        line = view.render_line(2)
        assert " ab " in line.text
        changed_style = view.get_component_rich_style("hexview--changed")
        assert any(seg.text == "ab" and seg.style == changed_style for seg in line)


async def test_truncate_shows_shrank_and_does_not_crash(posix_shm) -> None:
    name, source = posix_source(posix_shm, sample(64 * 1024))
    app = Host(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.view.go_to(40000)
        os.truncate(f"/dev/shm/{name}", 1000)
        await until(pilot, lambda: "shrank from 65536 to 1000 bytes" in header(screen))
        assert screen.view.line_count == 63
        await pilot.press("g", *"0", "enter")
        await pilot.pause()
        assert (await loaded_lines(pilot, screen.view, 1))[0].startswith("00000000  ")
        assert app.is_running


@pytest.mark.parametrize(
    ("text", "expected"),
    [("de ad be ef", b"\xde\xad\xbe\xef"), ("0xDEAD", b"\xde\xad"), ("t:hi there", b"hi there"), ("t:é", "é".encode())],
)
def test_search_patterns(text: str, expected: bytes) -> None:
    assert parse_pattern(text) == expected


@pytest.mark.parametrize("text", ["xyz", "abc", "t:", " "])
def test_bad_search_patterns(text: str) -> None:
    with pytest.raises(ValueError):
        parse_pattern(text)
