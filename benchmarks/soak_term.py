"""The churn soak's terminal: the real dashboard in a detached tmux session (a pty of 120x40, TERM=xterm-256color)
with its raw output logged; keys in, the screen's text out, and a clean quit."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

LOST = "lost"  # the exit status shown when the tmux server itself has gone away
WAIT = 15.0  # seconds to wait for the dashboard to show something (a busy host scans slowly)


class Term:
    """The dashboard in a detached tmux session of 120x40, TERM=xterm-256color; its raw output goes to a log."""

    def __init__(self, run_dir: Path, argv: list[str]) -> None:
        self.socket = f"ipcsoak{os.getpid()}"
        self.socket_path = socket_path(self.socket)  # tmux leaves the file behind when its server is killed
        self.log = run_dir / "pty.log"
        self.conf = run_dir / "tmux.conf"
        self.conf.write_text(
            "set -g remain-on-exit on\nset -g history-limit 5000\nset -g default-terminal xterm-256color\n"
        )
        # COLUMNS/LINES (pytest sets them) would override the pty's size in Textual
        self.client: subprocess.Popen[bytes] | None = None
        self.pid = 0  # the dashboard's, as last started
        self.command = "exec env -u COLUMNS -u LINES TERM=xterm-256color " + shlex.join(argv)

    def tmux(self, *args: str) -> str:
        argv = ["tmux", "-L", self.socket, "-f", str(self.conf), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout

    def start(self) -> None:
        """A session with a placeholder, a control-mode client attached (tmux 3.3 was seen to exit when a fresh
        program wrote to a session nobody was attached to), the log, then the dashboard."""
        self.tmux("new-session", "-d", "-s", "soak", "-x", "120", "-y", "40", "exec sleep 86400")
        self.client = subprocess.Popen(
            ["tmux", "-L", self.socket, "-f", str(self.conf), "-C", "attach", "-t", "soak"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert self.client.stdin is not None
        self.client.stdin.write(b"refresh-client -C 120x40\n")  # a control client's size is the window's
        self.client.stdin.flush()
        deadline = time.monotonic() + 10
        while self.tmux("display", "-p", "-t", "soak", "#{window_width}x#{window_height}").strip() != "120x40":
            if time.monotonic() > deadline:
                raise RuntimeError("tmux did not make a 120x40 terminal")
            time.sleep(0.05)
        self.tmux("pipe-pane", "-t", "soak", f"cat >> {shlex.quote(str(self.log))}")
        self.respawn()

    def respawn(self) -> None:
        self.tmux("respawn-pane", "-k", "-t", "soak", self.command)
        self.pid = self.state()[0]

    def keys(self, *keys: str, literal: bool = False, pause: float = 0.12) -> None:
        for key in keys:  # one at a time: Escape followed at once by a key would read as Alt+key
            self.tmux("send-keys", "-t", "soak", *(("-l", key) if literal else (key,)))
            time.sleep(pause)

    def screen(self, history: bool = False) -> str:
        return self.tmux("capture-pane", "-p", "-t", "soak", *(("-S", "-") if history else ()))

    def state(self) -> tuple[int, bool, str]:
        """The dashboard's pid, whether it has exited, and its exit status; (0, True, "lost") when the tmux server
        has gone away."""
        shown = self.tmux("display", "-p", "-t", "soak", "#{pane_pid} #{pane_dead} #{pane_dead_status}").split()
        if not shown:
            return 0, True, LOST
        return int(shown[0]), shown[1:2] == ["1"], "".join(shown[2:3])

    def wait_for(self, pattern: str, timeout: float = WAIT) -> re.Match[str] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.state()[1]:
            found = re.search(pattern, self.screen())
            if found:
                return found
            time.sleep(0.1)
        return None

    def close(self) -> None:
        self.tmux("kill-server")
        if self.client is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.client.wait(5)
            if self.client.poll() is None:
                self.client.kill()
                self.client.wait()
            self.client = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()


def socket_path(name: str) -> Path:
    """Where `tmux -L name` keeps its socket: $TMUX_TMPDIR (else /tmp), tmux-UID/name."""
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / name


def rss_kb(pid: int) -> int | None:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), None)
    return None


def quit_dashboard(term: Term) -> list[str]:
    """Quit with `q`, stop tmux, and make sure the dashboard process is gone; what went wrong, if anything."""
    problems = []
    pid, dead, _ = term.state()
    if not dead:
        for _ in range(3):  # a busy app reads queued keys at once: Escape then q can arrive as Alt+q
            term.keys("Escape", "Escape", "Escape", pause=0.3)
            term.keys("q", literal=True)
            deadline = time.monotonic() + 10
            while not dead and time.monotonic() < deadline:
                time.sleep(0.2)
                dead = term.state()[1]
        if not dead:
            problems.append("the dashboard did not quit on q (3 tries, 10 s each)")
    status = term.state()[2]
    if dead and status not in ("", "0", LOST):
        problems.append(f"the dashboard exited with status {status} on q")
    term.close()
    pid = pid or term.pid
    for _ in range(50):
        if not pid or not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    else:
        problems.append(f"the dashboard (pid {pid}) outlived its terminal: killed")
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return problems
