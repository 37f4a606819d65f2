"""Drive a full-screen program in a real terminal: a private tmux server, read through one control-mode client.

    with Terminal(120, 40) as term:
        started = term.launch(["/path/to/ipcwatch", "--read-only"])
        frame = term.watch(lambda f: "objects" in f.text[0], timeout=60)   # first frame that shows it
        term.press("Down")
        frame = term.settle(since=frame, quiet=0.25, timeout=5)           # the paint the key caused
        term.close()                                                      # also on errors: kills all it started

The control client (`tmux -C`) reports every byte the program writes (`%output`) and answers commands such as
`capture-pane` without forking a client each time, so the screen is read only after output and at little cost.
A frame's time is when the output it shows arrived. `Frame.body` blanks cells known to change by themselves
(clock, spinner), found by `volatile_cells`, so a comparison sees only what a key or a scan changed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

SESSION = "bench"
_ESCAPE = re.compile(r"\x1b\[([0-9;:]*)m|\x1b\[[0-9;:?<=>]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]")
_BLOCK_END = re.compile(r"%(end|error) \d+ \d+ \d+")
BLANK = (" ", "")
Cell = tuple[str, str]  # (character, style)


def _restyle(params: str, fg: str, bg: str, attrs: set[int]) -> tuple[str, str]:
    """Apply one SGR sequence to the current colours and attributes (changed in place); the new colours."""
    codes = [int(c or 0) for c in params.replace(":", ";").split(";")]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            fg, bg = "", ""
            attrs.clear()
        elif code in (38, 48):
            width = 2 if codes[i + 1 : i + 2] == [5] else 4
            value = ";".join(map(str, codes[i + 1 : i + 2 + width - 1]))
            fg, bg = (value, bg) if code == 38 else (fg, value)
            i += width
        elif 30 <= code <= 37 or 90 <= code <= 97 or code == 39:
            fg = "" if code == 39 else str(code)
        elif 40 <= code <= 47 or 100 <= code <= 107 or code == 49:
            bg = "" if code == 49 else str(code)
        elif 1 <= code <= 9:
            attrs.add(code)
        elif code == 22:
            attrs -= {1, 2}
        elif 23 <= code <= 29:
            attrs.discard(code - 20)
        i += 1
    return fg, bg


def _cells(line: str) -> tuple[Cell, ...]:
    fg, bg, attrs = "", "", set[int]()
    cells: list[Cell] = []
    pos = 0
    for match in [*_ESCAPE.finditer(line), None]:
        style = f"{fg}|{bg}|{''.join(map(str, sorted(attrs)))}"
        cells += [(char, style) for char in line[pos : match.start() if match else len(line)]]
        if match is not None:
            pos = match.end()
            if match.group(1) is not None:
                fg, bg = _restyle(match.group(1), fg, bg, attrs)
    return tuple(cells)


@dataclass(frozen=True)
class Frame:
    """One capture of the screen, lines with their colour escapes, and when the output it shows arrived."""

    at: float
    lines: tuple[str, ...]

    @cached_property
    def cells(self) -> tuple[tuple[Cell, ...], ...]:
        """Per line, (character, style) per cell."""
        return tuple(_cells(line) for line in self.lines)

    @property
    def text(self) -> list[str]:
        """The lines without colours."""
        return ["".join(char for char, _ in row) for row in self.cells]

    def body(self, volatile: Collection[tuple[int, int]] = ()) -> tuple[tuple[Cell, ...], ...]:
        """The cells, the volatile ones (line, column) blanked: what a comparison of two frames looks at."""
        if not volatile:
            return self.cells
        return tuple(
            tuple(BLANK if (y, x) in volatile else cell for x, cell in enumerate(row))
            for y, row in enumerate(self.cells)
        )

    def line_backgrounds(self) -> list[str]:
        """Per line, the background of most of its cells (a selected row's highlight, whatever its text's style)."""
        return [
            Counter(style.split("|")[1] for _, style in row).most_common(1)[0][0] if row else "" for row in self.cells
        ]


def volatile_cells(frames: Sequence[Frame]) -> set[tuple[int, int]]:
    """Cells that changed between frames taken while nobody pressed a key: status, clock, spinner, counts, churn."""
    if not frames:
        return set()
    first = frames[0].cells
    changed = set()
    for frame in frames[1:]:
        for y, row in enumerate(frame.cells):
            base = first[y] if y < len(first) else ()
            for x in range(max(len(row), len(base))):
                if (row[x] if x < len(row) else BLANK) != (base[x] if x < len(base) else BLANK):
                    changed.add((y, x))
    return changed


def _distance(a: Sequence[Sequence[Cell]], b: Sequence[Sequence[Cell]]) -> int:
    """How many cells differ between two screens."""
    rows = (
        [(x, y) for x, y in zip(a, b, strict=False)] + [(r, ()) for r in a[len(b) :]] + [((), r) for r in b[len(a) :]]
    )
    return sum(
        (x[i] if i < len(x) else BLANK) != (y[i] if i < len(y) else BLANK)
        for x, y in rows
        for i in range(max(len(x), len(y)))
    )


class TerminalError(RuntimeError):
    """tmux is missing, failed, or did not answer in time."""


class Terminal:
    """A width x height terminal (tmux, private socket) running one program; `close` ends everything started."""

    def __init__(self, width: int = 120, height: int = 40) -> None:
        self.width, self.height = width, height
        self.pid: int | None = None  # the program's process
        self._tmux = shutil.which("tmux")
        self._dir = ""
        self._client: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()  # one command at a time
        self._changed = threading.Condition()
        self._blocks: list[list[str]] = []
        self._outputs = 0
        self.last_output = 0.0

    def __enter__(self) -> Terminal:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _argv(self, *args: str) -> list[str]:
        return [str(self._tmux), "-S", os.path.join(self._dir, "tmux.sock"), "-f", "/dev/null", *args]

    def start(self) -> None:
        """Start the server with an idle pane and attach the control client."""
        if self._tmux is None:
            raise TerminalError("tmux is not installed")
        self._dir = tempfile.mkdtemp(prefix="ipcwatch-bench-tmux.")
        size = ("-x", str(self.width), "-y", str(self.height))
        settings = "set -g status off ; set -g remain-on-exit on ; set -g window-size manual"
        cmd = [*self._argv("new-session", "-d", "-s", SESSION, *size, "--", "cat"), ";", *shlex.split(settings)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise TerminalError(f"tmux new-session failed: {done.stderr.strip()}")
        self._client = subprocess.Popen(
            self._argv("-C", "attach-session", "-t", SESSION), stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._reader = threading.Thread(target=self._read, name="tmux-control", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Sort the control client's lines into command answers and output notices."""
        assert self._client is not None and self._client.stdout is not None
        block: list[str] | None = None
        ours = False  # whether the open block answers one of our commands (flags 1), not the attach (flags 0)
        for raw in self._client.stdout:
            if block is None and raw.startswith(b"%output "):  # the most frequent line: not decoded
                with self._changed:
                    self._outputs += 1
                    self.last_output = time.monotonic()
                    self._changed.notify_all()
                continue
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if block is not None:
                if _BLOCK_END.fullmatch(line):  # strict: a captured screen line could start with "%end"
                    if not ours:
                        block = None
                        continue
                    with self._changed:
                        self._blocks.append(block if line.startswith("%end") else ["%error", *block])
                        self._changed.notify_all()
                    block = None
                else:
                    block.append(line)
            elif line.startswith("%begin "):
                block, ours = [], line.split()[-1] != "0"
        with self._changed:
            self._blocks.append(["%error", "tmux control client ended"])
            self._changed.notify_all()

    def command(self, line: str, timeout: float = 10.0) -> list[str]:
        """Run a tmux command through the control client; its output lines."""
        if self._client is None or self._client.stdin is None:
            raise TerminalError("terminal not started")
        with self._lock:
            with self._changed:
                self._blocks.clear()
            self._client.stdin.write(line.encode() + b"\n")
            self._client.stdin.flush()
            deadline = time.monotonic() + timeout
            with self._changed:
                while not self._blocks:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TerminalError(f"tmux did not answer {line.split()[0]} within {timeout:.0f} s")
                    self._changed.wait(left)
                answer = self._blocks.pop(0)
        if answer[:1] == ["%error"]:
            raise TerminalError(f"tmux {line.split()[0]}: {' '.join(answer[1:])}")
        return answer

    def launch(self, argv: Sequence[str]) -> float:
        """Replace the idle pane by `argv` (exec'd by tmux, no shell); returns the monotonic time just before."""
        started = time.monotonic()
        self.command(f"respawn-pane -k -t {SESSION} " + " ".join(shlex.quote(a) for a in argv))
        self.pid = int(self.command(f"display-message -p -t {SESSION} '#{{pane_pid}}'")[0])
        return started

    def alive(self) -> bool:
        """Whether the program runs (not yet reaped by the tmux server counts as ended)."""
        return self.pid is not None and not _zombie(self.pid)

    def press(self, *keys: str) -> float:
        """Send keys (tmux names: Down, Up, Home, q, 0); returns the monotonic time just before."""
        started = time.monotonic()
        self.command(f"send-keys -t {SESSION} " + " ".join(shlex.quote(k) for k in keys))
        return started

    def capture(self) -> Frame:
        """The screen now, stamped with the arrival of the latest output it can show."""
        at = self.last_output
        lines = self.command(f"capture-pane -p -e -t {SESSION}")
        return Frame(at, tuple(lines[: self.height]))

    def _wait_output(self, seen: int, until: float) -> None:
        """Wait until output beyond the `seen`-th notice arrives, or `until`."""
        with self._changed:
            while self._outputs == seen and time.monotonic() < until:
                self._changed.wait(until - time.monotonic())

    def watch(self, done: Callable[[Frame], bool], timeout: float) -> Frame | None:
        """Capture after each burst of output until `done(frame)`; None after `timeout` or if the program ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self._outputs
            frame = self.capture()
            if done(frame):
                return frame
            if not self.alive():
                return None
            self._wait_output(seen, min(deadline, time.monotonic() + 0.5))
        return None

    def settle(
        self, since: Frame, quiet: float, timeout: float, volatile: Collection[tuple[int, int]] = ()
    ) -> Frame | None:
        """After a key: the first frame mostly showing what the screen comes to rest on (no change for `quiet` s):
        at most a third of the cells that differ between `since` and the rest still differ, so a scan's repaint
        of some rows just after does not count, an empty or a half-filled table does. None if the screen did not
        change, or did not rest, within `timeout`."""
        before = since.body(volatile)
        deadline = time.monotonic() + timeout
        frames: list[Frame] = []  # every frame since the screen first changed
        while time.monotonic() < deadline and self.alive():
            seen = self._outputs
            frame = self.capture()
            if frames or frame.body(volatile) != before:
                if frames and frame.body(volatile) == frames[-1].body(volatile):
                    if time.monotonic() - frames[-1].at >= quiet:
                        rested = frames[-1].body(volatile)
                        moved = _distance(before, rested)
                        return next(f for f in frames if _distance(f.body(volatile), rested) * 3 <= moved)
                else:
                    frames.append(frame)
            self._wait_output(seen, min(deadline, time.monotonic() + quiet / 2))
        return None

    def rest(self, quiet: float, timeout: float, volatile: Collection[tuple[int, int]] = ()) -> Frame:
        """Wait until the screen (volatile lines left out) has not changed for `quiet` s, or `timeout`; the frame."""
        deadline = time.monotonic() + timeout
        frame = self.capture()
        since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet:
            seen = self._outputs
            self._wait_output(seen, min(deadline, since + quiet))
            now = self.capture()
            if now.body(volatile) != frame.body(volatile):
                frame, since = now, time.monotonic()
        return frame

    def close(self) -> None:
        """End the program (TERM, then KILL), the tmux server and the client; remove the socket directory."""
        if self.pid is not None:
            _terminate(self.pid)
            self.pid = None
        if self._tmux is not None and self._dir:
            subprocess.run(self._argv("kill-server"), capture_output=True, timeout=10, check=False)
        if self._client is not None:
            with contextlib.suppress(OSError):
                if self._client.stdin is not None:
                    self._client.stdin.close()
            try:
                self._client.wait(5)
            except subprocess.TimeoutExpired:
                self._client.kill()
                self._client.wait()
            self._client = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""


def _terminate(pid: int, grace: float = 3.0) -> None:
    """TERM, then KILL after `grace` s; the process is the tmux server's child, so wait by polling /proc."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _zombie(pid):
                return
            time.sleep(0.02)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True
