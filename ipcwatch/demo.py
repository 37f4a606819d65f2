"""A live demo workload: producers and consumers over every IPC kind plus a few stale leftovers, all removed on stop.

The parent creates every object, recording each in a `workload.Ledger` (a marker file) as soon as it exists, and
starts one child process per role (ipcwatch.workload_roles). Children run in their own session (Ctrl-C reaches only
the parent), die with the parent (PR_SET_PDEATHSIG) and are killed and reaped by `Demo.stop`, which then removes
every recorded object and the private directory (made with mkdtemp, never a predictable path) and deletes the
marker. A demo killed with SIGKILL leaves its marker for `workload.sweep`. Names start with `ipcwatch-demo-`; SysV
keys are 0x1dc0XXXX.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import posix_ipc
import sysv_ipc

from ipcwatch.actions.outcome import Outcome
from ipcwatch.workload import Ledger

PREFIX = "ipcwatch-demo-"
KEY_BASE = 0x1DC00000
READY_TIMEOUT = 20.0


@dataclass
class Made:
    """One object the demo made: its ref (as `ipcwatch list` shows it) and what it is for."""

    ref: str
    what: str


@dataclass
class Demo:
    """Start with `start()` (or `with Demo() as demo:`); `stop()` is idempotent and removes everything."""

    directory: str = ""
    made: list[Made] = field(default_factory=list)
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=lambda: Ledger("demo"))

    @property
    def tag(self) -> str:
        return f"{PREFIX}{os.getpid()}-"

    @property
    def pids(self) -> dict[str, int]:
        return {role: proc.pid for role, proc in self.children.items()}

    def __enter__(self) -> Demo:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Create every object and start every child; on any failure, undo all of it and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> list[Outcome]:
        """Kill and reap the children, then remove every recorded object, the private directory and the marker."""
        for proc in self.children.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        for proc in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.stdout is not None and not proc.stdout.closed:
                proc.stdout.close()
        self.children.clear()
        return self.ledger.remove_all()

    # --- creation ---------------------------------------------------------------------------------------------

    def _start(self) -> None:
        self.ledger = Ledger.open("demo")
        self.directory = tempfile.mkdtemp(prefix=PREFIX)
        self.ledger.add(f"dir:{self.directory}")
        starting: list[tuple[str, list[str], tuple[int, ...]]] = []

        shm = _sysv_create(sysv_ipc.SharedMemory, size=65536)
        self.ledger.add(f"sysv-shm:{shm.id}")
        shm.detach()
        sem = _sysv_create(sysv_ipc.Semaphore, initial_value=0)
        self.ledger.add(f"sysv-sem:{sem.id}")
        self._note(f"sysv-shm:{shm.id}", f"SysV shm (key 0x{shm.key:08x}): written by sysv-writer, read by sysv-reader")
        self._note(f"sysv-sem:{sem.id}", f"SysV semaphore (key 0x{sem.key:08x}): posted by the writer, awaited")
        starting += [
            ("sysv-writer", [str(shm.key), str(sem.key)], ()),
            ("sysv-reader", [str(shm.key), str(sem.key)], ()),
        ]

        msq = _sysv_create(sysv_ipc.MessageQueue)
        self.ledger.add(f"sysv-msg:{msq.id}")
        self._note(f"sysv-msg:{msq.id}", f"SysV message queue (key 0x{msq.key:08x}): msg-producer -> msg-consumer")
        starting += [("msg-producer", [str(msq.key)], ()), ("msg-consumer", [str(msq.key)], ())]

        pshm = self._posix(posix_ipc.SharedMemory, "posix-shm", "shm", size=65536)
        pshm.close_fd()
        self._note(f"posix-shm:{self.tag}shm", "POSIX shm: written by pshm-writer, mapped by pshm-reader")
        starting += [("pshm-writer", [f"/{self.tag}shm"], ()), ("pshm-reader", [f"/{self.tag}shm"], ())]

        pmq = self._posix(posix_ipc.MessageQueue, "posix-mq", "mq", max_messages=8)
        pmq.close()
        self._note(f"posix-mq:{self.tag}mq", "POSIX message queue: mq-producer -> mq-consumer")
        starting += [("mq-producer", [f"/{self.tag}mq"], ()), ("mq-consumer", [f"/{self.tag}mq"], ())]

        psem = self._posix(posix_ipc.Semaphore, "posix-sem", "sem", initial_value=0)
        psem.close()
        self._note(f"posix-sem:{self.tag}sem", "POSIX named semaphore: psem-poster -> psem-waiter")
        starting += [("psem-poster", [f"/{self.tag}sem"], ()), ("psem-waiter", [f"/{self.tag}sem"], ())]

        fifo = os.path.join(self.directory, f"{PREFIX}fifo")
        self._mkfifo(fifo)
        self._note(f"fifo:{fifo}", "FIFO: fifo-writer -> fifo-reader")
        starting += [("fifo-writer", [fifo], ()), ("fifo-reader", [fifo], ())]

        read_end, write_end = os.pipe()
        self._note(f"pipe:{os.fstat(read_end).st_ino}", "anonymous pipe: pipe-writer -> pipe-reader")
        starting += [("pipe-writer", [str(write_end)], (write_end,)), ("pipe-reader", [str(read_end)], (read_end,))]

        sock_path = os.path.join(self.directory, f"{PREFIX}server.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sock_path)
        self.ledger.add(f"unix:{sock_path}")
        listener.listen(4)
        self._note(f"unix:{os.fstat(listener.fileno()).st_ino}", f"unix socket {sock_path}: unix-server <- unix-client")
        starting += [("unix-server", [str(listener.fileno())], (listener.fileno(),)), ("unix-client", [sock_path], ())]

        try:
            for role, args, fds in starting:
                self._spawn(role, args, fds)
        finally:
            for fd in (read_end, write_end):
                os.close(fd)
            listener.close()
        for role in list(self.children):
            self._wait_ready(role)
        self._make_leftovers()

    def _make_leftovers(self) -> None:
        self._spawn("sysv-orphan", [str(_free_key())], ())
        lines = self._wait_ready("sysv-orphan")
        orphan_id = int(lines[0])
        self.ledger.add(f"sysv-shm:{orphan_id}")
        self.children.pop("sysv-orphan").wait(timeout=10)
        self._note(f"sysv-shm:{orphan_id}", "stale: SysV shm whose creator exited")

        stale = self._posix(posix_ipc.SharedMemory, "posix-shm", "stale-shm", size=4096)
        stale.close_fd()
        self._note(f"posix-shm:{self.tag}stale-shm", "stale: POSIX shm nobody holds")

        fifo = os.path.join(self.directory, f"{PREFIX}stale.fifo")
        self._mkfifo(fifo)
        self._note(f"fifo:{fifo}", "stale: FIFO nobody opens")

        path = os.path.join(self.directory, f"{PREFIX}stale.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as orphan:
            orphan.bind(path)
        self.ledger.add(f"unix:{path}")
        self._note(f"unix:{path}", "stale: socket file with no listener")

    def _note(self, ref: str, what: str) -> None:
        self.made.append(Made(ref, what))

    def _posix(self, make: Callable[..., Any], kind: str, suffix: str, **kw: object) -> Any:
        obj = make(f"/{self.tag}{suffix}", posix_ipc.O_CREX, mode=0o600, **kw)
        self.ledger.add(f"{kind}:{self.tag}{suffix}")
        return obj

    def _mkfifo(self, path: str) -> None:
        os.mkfifo(path, 0o600)
        self.ledger.add(f"fifo:{path}")

    def _spawn(self, role: str, args: list[str], fds: tuple[int, ...]) -> None:
        self.children[role] = subprocess.Popen(
            [sys.executable, "-m", "ipcwatch.workload_roles", role, str(os.getpid()), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            pass_fds=fds,
            start_new_session=True,
        )
        self.ledger.add(f"process:{self.children[role].pid}")

    def _wait_ready(self, role: str) -> list[str]:
        """Lines the child printed before READY; raise if it exits or takes too long."""
        proc = self.children[role]
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode(errors="replace").strip()
            if line == "READY":
                proc.stdout.close()
                return lines
            if not line and proc.poll() is not None:
                raise RuntimeError(f"demo child {role} exited with {proc.returncode} before it was ready")
            lines.append(line)
        raise RuntimeError(f"demo child {role} was not ready after {READY_TIMEOUT:.0f} s")


def _free_key() -> int:
    """A 0x1dc0XXXX key that no SysV object uses right now."""
    while True:
        key = KEY_BASE | secrets.randbelow(0x10000)
        for table in ("shm", "msg", "sem"):
            with open(f"/proc/sysvipc/{table}") as f:
                if any(line.split()[:1] == [str(key)] for line in f.readlines()[1:]):
                    break
        else:
            return key


def _sysv_create(make: Callable[..., Any], **kw: object) -> Any:
    """Create a SysV object with a fresh demo key, retrying if another process took the key meanwhile."""
    for _ in range(20):
        with contextlib.suppress(sysv_ipc.ExistentialError):
            return make(_free_key(), sysv_ipc.IPC_CREX, mode=0o600, **kw)
    raise RuntimeError("no free SysV key in the demo range 0x1dc0XXXX")
