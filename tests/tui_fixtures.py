"""Recorded snapshots for the dashboard tests (a hand-built host with every kind, a synthetic large one), and a
real terminal (a pty) to run the real dashboard in.

The snapshots never touch the host, so snapshot tests (and the benchmark) give the same screen everywhere. The
hostile names are the ones HOSTILE.md describes: markup that would run an action, and a terminal title escape.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ipcwatch.record import replace
from ipcwatch.scan import KINDS, Holder, IpcObject, Process, ScanError, Snapshot, Waiter
from ipcwatch.scan.containers import Container
from ipcwatch.scan.info import (
    EventfdInfo,
    FifoInfo,
    KindInfo,
    PipeInfo,
    PosixMqInfo,
    PosixSemInfo,
    PosixShmInfo,
    SemValue,
    SignalfdInfo,
    SysvMsgInfo,
    SysvSemInfo,
    SysvShmInfo,
    UnixInfo,
)
from ipcwatch.scan.namespaces import Namespace, qualified_ref

TAKEN_AT = 1_700_000_000.0
FIXED_NOW = TAKEN_AT + 1.0
HOSTILE_MARKUP = "[@click=app.quit]x[/]"
HOSTILE_TITLE = "t\x1b]2;PWNED\x07"


def fixed_clock() -> float:
    return FIXED_NOW


def _proc(pid: int, comm: str, *cmd: str, user: str = "root", uid: int = 0) -> Process:
    return Process(pid, 1, comm, tuple(cmd), uid, user, 1000 + pid, "S")


PROCESSES = {
    p.pid: p
    for p in (
        _proc(101, "postgres", "postgres", "-D", "/var/lib/pg", user="postgres", uid=999),
        _proc(102, "postgres", "postgres: writer", user="postgres", uid=999),
        _proc(201, "nginx", "nginx", "-g", "daemon off;", user="www-data", uid=33),
        _proc(301, "evil\x1b]2;x\x07", "evil", "[@click=app.quit]", user="mallory", uid=1001),
        _proc(401, "sshd", "sshd: admin"),
    )
}


def _holder(pid: int, fd: int | None, mode: str = "rw") -> Holder:
    proc = PROCESSES[pid]
    return Holder(pid, proc.comm, proc.user, fd, mode, proc.start)


def _obj(kind: str, ref_tail: str, **kw: object) -> IpcObject:
    base: dict[str, object] = {
        "name": None,
        "id": None,
        "key": None,
        "owner": "root",
        "uid": 0,
        "mode": 0o600,
        "size": 4096,
        "holders": (),
        "stale": False,
        "stale_reason": None,
        "identity": f"{kind}:{ref_tail}",
    }
    base.update(kw)
    return IpcObject(ref=f"{kind}:{ref_tail}", kind=kind, **base)  # type: ignore[arg-type]


def recorded_objects() -> list[IpcObject]:
    sems = tuple(SemValue(i, v, n, 0, 101) for i, (v, n) in enumerate([(1, 0), (0, 2)]))
    return [
        _obj(
            "sysv-shm",
            "3",
            id=3,
            key=0x0052E2C1,
            owner="postgres",
            uid=999,
            size=56 * 1024 * 1024,
            holders=(_holder(101, None), _holder(102, None)),
            info=SysvShmInfo(2, 101, 102, "", None, None, 0, 0, 999, None, 0),
        ),
        _obj(
            "sysv-shm",
            "7",
            id=7,
            key=0x1DC0BEEF,
            size=4096,
            stale=True,
            stale_reason="no attachers; creator 555 is gone",
            info=SysvShmInfo(0, 555, 555, "", None, None, 0, 0, 0, None, 0),
        ),
        _obj(
            "sysv-msg",
            "2",
            id=2,
            key=0x00001234,
            size=128,
            info=SysvMsgInfo(3, 128, 16384, 201, 201, 0, 0, 0, None, 0),
            waiters=(Waiter(201, 202, "msgrcv"),),
        ),
        _obj(
            "sysv-sem",
            "5",
            id=5,
            key=0x0052E2C2,
            owner="postgres",
            uid=999,
            size=2,
            info=SysvSemInfo(2, sems, 2, 0, 0, 0, None, 0),
            waiters=(Waiter(102, 102, "semop"), Waiter(101, 105, "semop")),
        ),
        _obj(
            "posix-shm",
            HOSTILE_MARKUP,
            name=HOSTILE_MARKUP,
            holders=(_holder(301, 5),),
            info=PosixShmInfo(0, 0, 0, 4096),
        ),
        _obj(
            "posix-shm",
            HOSTILE_TITLE,
            name=HOSTILE_TITLE,
            stale=True,
            stale_reason="no process has it open or mapped; last written 3d ago",
            info=PosixShmInfo(0, 0, 0, 0),
        ),
        _obj(
            "posix-mq",
            "jobs",
            name="jobs",
            size=64,
            holders=(_holder(201, 9, "w"),),
            info=PosixMqInfo(0, 0, 64, 1, 10, 8192, "none", None, None),
        ),
        _obj(
            "posix-sem",
            "lock",
            name="lock",
            size=32,
            holders=(_holder(101, None), _holder(201, None)),
            info=PosixSemInfo(0, 0, 0, 1, 0, None),
        ),
        _obj(
            "fifo",
            "/run/app/ctl",
            name="/run/app/ctl",
            size=0,
            holders=(_holder(401, 4, "r"),),
            info=FifoInfo(1, 0, 0, 65536, False, 0),
        ),
        _obj(
            "pipe",
            "9001",
            id=9001,
            size=12,
            mode=None,
            holders=(_holder(201, 1, "w"), _holder(401, 0, "r")),
            info=PipeInfo(1, 1, 12, 65536),
        ),
        _obj(
            "unix",
            "7001",
            id=7001,
            name="/run/app.sock",
            mode=None,
            size=None,
            holders=(_holder(401, 3),),
            info=UnixInfo("stream", "listen", "/run/app.sock", pending_connections=0, backlog=128, waiting_clients=()),
        ),
        _obj(
            "unix",
            "/tmp/old.sock",
            name="/tmp/old.sock",
            size=None,
            stale=True,
            stale_reason="socket file with no listener",
            info=UnixInfo(None, "file only", "/tmp/old.sock"),
        ),
    ]


def recorded_snapshot(objects: list[IpcObject] | None = None) -> Snapshot:
    return Snapshot(
        objects=tuple(recorded_objects() if objects is None else objects),
        processes=PROCESSES,
        errors=(ScanError("/proc/4242/fd", "Permission denied"),),
        notes=("/dev/mqueue is not mounted: POSIX message queues cannot be listed",),
        taken_at=TAKEN_AT,
        duration=0.042,
    )


NSFS_DEV = 4
HOST_IPC = Namespace("ipc", NSFS_DEV, 4026531839, (1, 101, 102, 201, 301, 401), 1, True, limits={"shmmni": 4096})
WEB = Container("podman", "ab" * 32, "web")
WEB_IPC = Namespace(
    "ipc", NSFS_DEV, 4026532251, (501, 502), 501, False, container=WEB, limits={"shmmni": 4, "semmni": 32}
)
WEB_MNT = Namespace("mnt", NSFS_DEV, 4026532252, (501, 502), 501, False, container=WEB)
EVIL_IPC = Namespace(
    "ipc", NSFS_DEV, 4026532300, (601,), 601, False, container=Container("docker", "cd" * 32, HOSTILE_MARKUP)
)
PINNED_IPC = Namespace("ipc", NSFS_DEV, 4026532400, (), None, False, pinned_by=("/run/netns/" + HOSTILE_TITLE,))
WEB_NET = Namespace("net", NSFS_DEV, 4026532253, (501, 502), 501, False, container=WEB)
NAMESPACES = (HOST_IPC, WEB_IPC, WEB_MNT, WEB_NET, EVIL_IPC, PINNED_IPC)


def namespaced_snapshot() -> Snapshot:
    """The recorded host plus two containers and a pinned namespace: the web container's segment has the same id
    (3) as the host's, its mount namespace holds a stale POSIX segment, and one container has a hostile name."""
    host = [replace(o, namespace=HOST_IPC) if o.kind.startswith("sysv") else o for o in recorded_objects()]
    procs = {**PROCESSES, 501: _proc(501, "nginx", "nginx"), 502: _proc(502, "php", "php-fpm"), 601: _proc(601, "x")}
    web = Holder(501, "nginx", "root", None, "rw", procs[501].start)
    inside = [
        (WEB_IPC, _obj("sysv-shm", "3", id=3, key=0x0052E2C1, holders=(web,), info=_synthetic_info("sysv-shm", 501))),
        (WEB_MNT, _obj("posix-shm", "cache", name="cache", stale=True, stale_reason="no process has it open")),
        (EVIL_IPC, _obj("sysv-sem", "0", id=0, key=1, size=1, info=SysvSemInfo(1, None, None, None, 0, 0, None, 0))),
    ]
    web_socket = _obj(
        "unix",
        "8001",
        id=8001,
        name="@web",
        holders=(web,),
        info=UnixInfo("stream", "listen", "@web", True, net_namespace=WEB_NET),
    )
    moved = []
    for ns, obj in inside:
        ref = qualified_ref(obj.kind, obj.ref.partition(":")[2], ns)
        moved.append(replace(obj, ref=ref, identity=ref, namespace=ns))
    return Snapshot(
        objects=tuple([*host, *moved, web_socket]),
        processes=procs,
        taken_at=TAKEN_AT,
        duration=0.042,
        namespaces=NAMESPACES,
    )


def sequence_scanner(*snapshots: Snapshot) -> Callable[[], Snapshot]:
    """A scanner that returns each snapshot in turn, then repeats the last one."""
    queue = list(snapshots)

    def scanner() -> Snapshot:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return scanner


def _synthetic_info(kind: str, n: int) -> KindInfo:
    """A plausible record of `kind`: one attachment, `n % 7` messages, one reader and one writer."""
    records: dict[str, Callable[[], KindInfo]] = {
        "sysv-shm": lambda: SysvShmInfo(1, n, n, "", None, None, 0, 0, 0, 0, 0),
        "sysv-msg": lambda: SysvMsgInfo(n % 7, 0, 16384, 0, 0, 0, 0, 0, 0, 0),
        "sysv-sem": lambda: SysvSemInfo(1, (SemValue(0, 1, 0, 0, None),), 0, 0, 0, 0, 0, 0),
        "posix-shm": lambda: PosixShmInfo(0, 0, 0, 4096),
        "posix-mq": lambda: PosixMqInfo(0, 0, 0, n % 7, 10, 8192, "none", None, None),
        "posix-sem": lambda: PosixSemInfo(0, 0, 0, 1, 0, None),
        "fifo": lambda: FifoInfo(1, 1, 0, 65536, False, n),
        "pipe": lambda: PipeInfo(1, 1, 0, 65536),
        "unix": lambda: UnixInfo("stream", "connected", None),
        "eventfd": lambda: EventfdInfo(0, n, False),
        "signalfd": lambda: SignalfdInfo(None, ()),
    }
    return records[kind]()


def synthetic_snapshot(objects: int = 10_000, processes: int = 1_000, salt: int = 0) -> Snapshot:
    """A large host: `objects` spread over every kind, each held by one of `processes` processes.

    `salt` changes a few sizes and replaces a few objects, as between two real scans.
    """
    procs = {pid: _proc(pid, f"worker{pid}", f"/usr/bin/worker --id {pid}") for pid in range(1000, 1000 + processes)}
    out = []
    for n in range(objects):
        kind = KINDS[n % len(KINDS)]
        pid = 1000 + n % processes
        index = n + (objects if salt and n % 97 == 0 else 0)  # ~1% replaced each salted scan
        holder = Holder(pid, procs[pid].comm, "root", 3 + n % 50, "rw", procs[pid].start)
        out.append(
            IpcObject(
                ref=f"{kind}:{index}",
                kind=kind,
                name=f"obj-{index}",
                id=index,
                key=index,
                owner="root",
                uid=0,
                mode=0o600,
                size=4096 + (salt if n % 50 == 0 else 0),
                holders=(holder,),
                stale=n % 31 == 0,
                stale_reason="synthetic" if n % 31 == 0 else None,
                identity=f"{kind}:{index}",
                info=_synthetic_info(kind, n),
            )
        )
    return Snapshot(tuple(out), procs, taken_at=TAKEN_AT, duration=0.5)


CSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]")


class PtyDashboard:
    """`python -m ipcwatch ARGS` in a new session whose controlling terminal is a pty (80x24) that we read.

    Everything the dashboard writes is kept in `output`; `close` kills and reaps it if it is still running.
    """

    def __init__(self, *args: str) -> None:
        self.output = bytearray()
        self.status: int | None = None
        self.reading = threading.Event()  # cleared: nobody reads the terminal (a hung connection); writes block
        self.reading.set()
        root, size = Path(__file__).resolve().parent.parent, struct.pack("HHHH", 24, 80, 0, 0)
        argv, env = [sys.executable, "-m", "ipcwatch", *args], {**os.environ, "TERM": "xterm-256color"}
        self.pid, self.master = pty.fork()
        if self.pid == 0:  # the child: becomes the dashboard, never returns into pytest
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, size)
                os.chdir(root)
                os.execve(sys.executable, argv, env)
            finally:
                os._exit(127)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self.reading.wait():
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every end of the terminal is closed
                return
            if not chunk:
                return
            self.output.extend(chunk)

    def text(self) -> str:
        """What was shown so far, without escape sequences."""
        return CSI.sub(b"", bytes(self.output)).decode(errors="replace")

    def hang_up(self) -> None:
        """The terminal window closes: the kernel sends SIGHUP to the session."""
        os.close(self.master)
        self.master = -1

    def wait(self, timeout: float) -> int | None:
        """The exit code (-N for signal N), or None if it is still running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > deadline:
                return None
            else:
                time.sleep(0.02)
        return self.status

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        self.reading.set()
        if self.wait(0) is None:
            os.kill(self.pid, signal.SIGKILL)
            self.wait(10)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        self._reader.join(5)
