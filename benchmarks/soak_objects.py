"""The churn soak's objects: one creator and remover for every kind (SysV ids re-used on purpose through
/proc/sys/kernel/*_next_id, POSIX names re-created), soak-owned holder processes, the churn thread, and what the
kernel says is behind a ref. Every name carries TAG and every SysV key is in SOAK_KEYS, so the kernel can be
checked. Objects are made with ipcwatch.workload.objects, keys found with its KeyRange.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import posix_ipc
import sysv_ipc

from ipcwatch.workload import objects
from ipcwatch.workload.keys import KeyRange

KINDS = ("sysv-shm", "sysv-msg", "sysv-sem", "posix-shm", "posix-mq", "posix-sem", "fifo", "pipe", "unix")
SYSV = {"sysv-shm": "shm", "sysv-msg": "msg", "sysv-sem": "sem"}
POSIX = {"posix-shm": "/dev/shm/", "posix-mq": "/dev/mqueue/", "posix-sem": "/dev/shm/sem."}
TAG = f"ipcsoak.{os.getpid()}."  # every POSIX name and the run directory carry it
KEY_PREFIX = (0x5A << 16) | (os.getpid() & 0xFFFF)
SOAK_KEYS = KeyRange(KEY_PREFIX << 8, 256)  # 0x5aPPPPnn: this run's SysV keys
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
POOL = 120  # churned objects alive at once, about
_libc = ctypes.CDLL(None, use_errno=True)


class Interrupted(BaseException):
    """A signal asked the soak to stop: it cleans up and reports."""


@dataclass(eq=False)
class Obj:
    """One object the soak made: its ref as ipcwatch names it, and what the kernel showed at creation."""

    kind: str
    ref: str
    ident: int | str  # SysV id or POSIX name (no slash); for files and sockets the ref itself
    stamp: object = None  # SysV key or POSIX inode: what tells this object from a replacement
    handle: object = None
    fds: list = field(default_factory=list)  # fds, sockets and attached segments the soak holds
    path: str | None = None
    protected: bool = False  # a scenario's object: the churn leaves it alone


def sysv_rows(table: str) -> list[list[str]]:
    with contextlib.suppress(OSError), open(f"/proc/sysvipc/{table}") as f:
        return [line.split() for line in f.readlines()[1:]]
    return []


def kernel_stamp(kind: str, ident: int | str) -> object:
    """What the kernel has under a SysV id (its key) or a POSIX name (its inode) now; None when nothing."""
    if kind in SYSV:
        return next((int(r[0]) for r in sysv_rows(SYSV[kind]) if r[1] == str(ident)), None)
    try:
        return os.stat(POSIX[kind] + str(ident)).st_ino
    except OSError:
        return None


def fork_child(lifetime: float, children: dict[int, str], role: str, keep: Iterable[int] = ()) -> int:
    """A soak-owned process holding the inherited fds `keep` (and no others) for `lifetime` s; it dies with the
    soak. Registered in `children` before a stop signal can interrupt us."""
    keep = set(keep)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    pid = os.fork()
    if pid == 0:
        try:
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            for fd in os.listdir("/proc/self/fd"):
                if int(fd) > 2 and int(fd) not in keep:
                    with contextlib.suppress(OSError):
                        os.close(int(fd))
            time.sleep(lifetime)
        finally:
            os._exit(0)
    children[pid] = role
    signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return pid


class Objects:
    """Everything the soak creates, the one place that creates and removes it, and its child processes."""

    def __init__(self, run_dir: Path) -> None:
        self.lock = threading.RLock()  # also serialises SysV creation, so *_next_id is ours until used
        self.live: dict[str, Obj] = {}
        self.children: dict[int, str] = {}  # pid -> "churn" (reaped by the churn) or "driver"
        self.run_dir = run_dir
        self.n = 0
        self.created: Counter[str] = Counter()
        self.swept = 0  # SysV objects found by key at the end that the bookkeeping had lost

    def _next(self) -> int:
        self.n += 1
        return self.n

    def create(
        self,
        kind: str,
        *,
        ident: int | str | None = None,
        messages: int = 0,
        hold: bool = False,
        protected: bool = False,
    ) -> Obj | None:
        """A new object (`ident`: under that SysV id or POSIX name); None when the kernel said no."""
        with self.lock:
            try:
                obj = self._create(kind, ident, messages, hold)
            except (OSError, ValueError, sysv_ipc.Error, posix_ipc.Error):
                return None
            if obj is None:
                return None
            obj.protected = protected
            self.live[obj.ref] = obj
            self.created[kind] += 1
            return obj

    def _create(self, kind: str, ident: int | str | None, messages: int, hold: bool) -> Obj | None:
        if kind in SYSV:
            return self._create_sysv(kind, ident, messages, hold)
        if kind in POSIX:
            name = str(ident) if ident is not None else f"{TAG}{self._next()}"
            obj = Obj(kind, f"{kind}:{name}", name)
            if kind == "posix-shm":
                obj.handle = objects.posix_shm(name)
                obj.fds.append(obj.handle.fd) if hold else obj.handle.close_fd()
            elif kind == "posix-mq":
                obj.handle = objects.posix_mq(name, max_messages=4, max_message_size=64)
                for _ in range(messages):
                    obj.handle.send(b"soak", timeout=0)
                obj.fds.append(obj.handle.mqd) if hold else obj.handle.close()
            else:
                objects.posix_sem(name).close()
            obj.stamp = kernel_stamp(kind, name)
            return obj
        if kind == "pipe":
            r, w = os.pipe()
            os.write(w, b"x" * (self.n % 100))
            return Obj(kind, f"pipe:{os.fstat(r).st_ino}", "", fds=[r, w])
        path = str(self.run_dir / f"{kind}{self._next()}")
        if kind == "fifo":
            objects.fifo(path)
            fds = [os.open(path, os.O_RDWR | os.O_NONBLOCK)] if hold else []
            return Obj(kind, f"fifo:{path}", path, fds=fds, path=path)
        if hold:
            listener = objects.unix_listener(path, backlog=4)
            return Obj(kind, f"unix:{os.fstat(listener.fileno()).st_ino}", path, fds=[listener], path=path)
        pair = socket.socketpair()
        pair[0].send(b"soak")
        return Obj(kind, f"unix:{os.fstat(pair[0].fileno()).st_ino}", "", fds=list(pair))

    def _create_sysv(self, kind: str, ident: int | str | None, messages: int, hold: bool) -> Obj | None:
        next_id = Path(f"/proc/sys/kernel/{SYSV[kind]}_next_id")
        make: Callable[[int], sysv_ipc.SharedMemory | sysv_ipc.MessageQueue | sysv_ipc.Semaphore] = {
            "sysv-shm": lambda k: sysv_ipc.SharedMemory(k, sysv_ipc.IPC_CREX, size=4096),
            "sysv-msg": lambda k: sysv_ipc.MessageQueue(k, sysv_ipc.IPC_CREX),
            "sysv-sem": lambda k: sysv_ipc.Semaphore(k, sysv_ipc.IPC_CREX, initial_value=0),
        }[kind]
        if ident is not None:  # consumed by the next creation (ours: the lock is held); -1 cannot be written back
            next_id.write_text(str(ident))
        try:
            handle = SOAK_KEYS.create(make)
        except RuntimeError:  # every key of the run is in use
            return None
        obj = Obj(kind, f"{kind}:{handle.id}", handle.id, stamp=handle.key, handle=handle)
        if ident is not None and handle.id != ident:  # another program took the id first
            self.remove(obj)
            return None
        try:
            if kind == "sysv-shm":
                obj.fds.append(handle) if hold else handle.detach()
            for _ in range(messages if kind == "sysv-msg" else 0):
                handle.send(b"soak", block=False)
        except sysv_ipc.Error:
            self.remove(obj)
            raise
        return obj

    def remove(self, obj: Obj) -> None:
        with self.lock:
            self.live.pop(obj.ref, None)
            for held in obj.fds:
                with contextlib.suppress(OSError, sysv_ipc.Error, posix_ipc.Error):
                    os.close(held) if isinstance(held, int) else (held.detach() if obj.kind in SYSV else held.close())
            obj.fds.clear()
            with contextlib.suppress(OSError, sysv_ipc.Error, posix_ipc.Error):
                if obj.kind in SYSV:
                    obj.handle.remove()
                elif obj.kind in POSIX:
                    unlink = {
                        "posix-shm": posix_ipc.unlink_shared_memory,
                        "posix-mq": posix_ipc.unlink_message_queue,
                        "posix-sem": posix_ipc.unlink_semaphore,
                    }[obj.kind]
                    if kernel_stamp(obj.kind, obj.ident) == obj.stamp:  # never a replacement made meanwhile
                        unlink("/" + str(obj.ident))
                elif obj.path:
                    os.unlink(obj.path)

    def replace(self, obj: Obj, messages: int = 0) -> Obj | None:
        """Remove `obj` and create another object under its ref (SysV: the same id via *_next_id; POSIX: the
        same name); None when the kernel gave the id to someone else."""
        with self.lock:
            self.remove(obj)
            return self.create(obj.kind, ident=obj.ident, messages=messages, protected=True)

    def fork_at(self, pid: int) -> int | None:
        """A new soak-owned process under `pid`, just freed; None when another process took it first."""
        for _ in range(3):
            Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
            child = fork_child(120, self.children, "driver")
            if child == pid:
                return child
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            self.children.pop(child)
        return None

    def reap(self, role: str = "churn") -> None:
        for pid in [p for p, r in self.children.items() if r == role]:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            self.children.pop(pid, None)

    def close(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        self.children.clear()
        with contextlib.suppress(ChildProcessError):  # any other child that has exited (a client, a helper command)
            while os.waitpid(-1, os.WNOHANG)[0] > 0:  # is reaped: a zombie is not a process the soak left running
                pass
        for obj in list(self.live.values()):
            self.remove(obj)
        for directory in ("/dev/shm", "/dev/mqueue"):  # safety nets, counted: a bookkeeping slip still shows
            for name in [n for n in os.listdir(directory) if TAG in n] if os.path.isdir(directory) else []:
                self.swept += 1
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))
        for kind, table in SYSV.items():
            for row in sysv_rows(table):
                if int(row[0]) in SOAK_KEYS:
                    self.swept += 1
                    with contextlib.suppress(sysv_ipc.Error):
                        {
                            "sysv-shm": sysv_ipc.SharedMemory,
                            "sysv-msg": sysv_ipc.MessageQueue,
                            "sysv-sem": sysv_ipc.Semaphore,
                        }[kind](int(row[0])).remove()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def churn(objs: Objects, rng: random.Random, stop: threading.Event) -> None:
    """Create and remove objects of every kind, and fork short-lived holders of some, until `stop`."""
    while not stop.wait(0.02):
        with objs.lock:
            free = [o for o in objs.live.values() if not o.protected]
            if len(free) < POOL or rng.random() < 0.4:
                objs.create(rng.choice(KINDS), messages=rng.randrange(3), hold=rng.random() < 0.3)
            if len(free) > POOL // 2 and rng.random() < 0.5:
                objs.remove(rng.choice(free))
            fds = [f for o in free for f in o.fds if isinstance(f, int)]
            if fds and rng.random() < 0.15 and len(objs.children) < 30:
                fork_child(rng.uniform(0.3, 4.0), objs.children, "churn", rng.sample(fds, min(3, len(fds))))
            objs.reap()


def queued(obj: Obj) -> int | None:
    """Messages in a queue, from the kernel."""
    if obj.kind == "sysv-msg":
        return next((int(r[4]) for r in sysv_rows("msg") if r[1] == str(obj.ident)), None)
    with contextlib.suppress(posix_ipc.Error):
        mq = posix_ipc.MessageQueue("/" + str(obj.ident))
        try:
            return mq.current_messages
        finally:
            mq.close()
    return None


def sem_value(obj: Obj) -> int | None:
    with contextlib.suppress(sysv_ipc.Error, posix_ipc.Error):
        if obj.kind == "sysv-sem":
            return obj.handle.value
        sem = posix_ipc.Semaphore("/" + str(obj.ident))
        try:
            return sem.value
        finally:
            sem.close()
    return None


def leftovers(run_dir: Path, tmux_socket: str, tmux_socket_path: Path) -> list[str]:
    """What the soak left, read from the kernel, not from its bookkeeping: SysV objects with its keys, POSIX
    names with its tag, its directory, its child processes, its tmux server and that server's socket file."""
    left = [f"{kind}:{r[1]}" for kind, table in SYSV.items() for r in sysv_rows(table) if int(r[0]) in SOAK_KEYS]
    for directory in ("/dev/shm", "/dev/mqueue"):
        with contextlib.suppress(OSError):
            left += [f"{directory}/{name}" for name in os.listdir(directory) if TAG in name]
    if run_dir.exists():
        left.append(str(run_dir))
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
            if int(f.read().rpartition(")")[2].split()[1]) == os.getpid():
                left.append(f"process {entry}")
    if subprocess.run(["tmux", "-L", tmux_socket, "has-session"], capture_output=True).returncode == 0:
        left.append(f"tmux server -L {tmux_socket}")
    elif tmux_socket_path.exists():
        left.append(str(tmux_socket_path))
    return left


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Whether `check()` comes true within `timeout` s (an action runs in a worker of a possibly busy app)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
