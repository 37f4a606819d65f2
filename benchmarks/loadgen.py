"""Load generator: thousands of live IPC objects of every kind, held by many processes, always cleaned up.

    with Load(per_kind=1000, processes=200) as load:
        ...  # scan, run the TUI, time other tools

    python benchmarks/loadgen.py --per-kind 1000 --processes 200 --hold   # until Ctrl-C, SIGTERM/HUP/QUIT
    python benchmarks/loadgen.py --sweep                                   # leftovers of a crashed run

The leader creates the SysV objects (keys in LOADGEN_KEYS); forked holder children each create and hold a slice
of the rest: POSIX shm (fd open or mapped), queues (fd), named semaphores (mapped), FIFOs (both ends open),
pipes (both ends) and unix sockets (listeners, socketpairs, accepted connections), and attach their slice of
the SysV segments. Every name carries the run prefix `ipcwl.<leader pid>.<token>`, so `--sweep` removes what a
dead leader left. Kernel limits are raised only as far as needed and restored by the last run to finish.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import fcntl
import gc
import json
import mmap
import os
import resource
import secrets
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import posix_ipc
import sysv_ipc

from ipcwatch.workload_stop import StopSignals

KINDS = ("sysv-shm", "sysv-msg", "sysv-sem", "posix-shm", "posix-mq", "posix-sem", "fifo", "pipe", "unix")
LOADGEN_KEYS = range(0x1C9A0000, 0x1C9B0000)  # SysV keys this tool uses; a sweep removes only these
NAME_TAG = "ipcwl."  # POSIX names, FIFO/socket directories: ipcwl.<leader pid>.<token>...
MQ_MAXMSG, MQ_MSGSIZE = 1, 8  # the kernel charges ~96 + 1 * 8 bytes of RLIMIT_MSGQUEUE per queue
MQ_CHARGE = 96 + MQ_MAXMSG * MQ_MSGSIZE
SEM_NSEMS = 2
READY_TIMEOUT = 120.0
_IPC_CREAT, _IPC_EXCL = 0o1000, 0o2000
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_MAP_FAILED = ctypes.c_void_p(-1).value
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_CLEANUP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class LoadError(RuntimeError):
    """The load could not be created (it has been cleaned up already)."""


# --- kernel limits -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """A sysctl value, or one field of a multi-field sysctl such as kernel.sem."""

    name: str
    field: int | None = None

    @property
    def path(self) -> Path:
        return Path("/proc/sys") / self.name.replace(".", "/")

    def read_text(self) -> str:
        return self.path.read_text().strip()

    def value(self, text: str) -> int:
        parts = text.split()
        return int(parts[self.field or 0])

    def with_value(self, text: str, value: int) -> str:
        parts = text.split()
        parts[self.field or 0] = str(value)
        return "\t".join(parts)


def _sysv_rows(table: str) -> list[list[str]]:
    try:
        with open(f"/proc/sysvipc/{table}") as f:
            return [line.split() for line in f.readlines()[1:] if line.strip()]
    except OSError:
        return []


def limits_needed(counts: Mapping[str, int], processes: int) -> dict[Limit, int]:
    """The minimum value of each limit for this load on top of what already exists on the host."""
    margin = 64
    sems = _sysv_rows("sem")
    needs = {
        Limit("kernel.shmmni"): len(_sysv_rows("shm")) + counts["sysv-shm"] + margin,
        Limit("kernel.msgmni"): len(_sysv_rows("msg")) + counts["sysv-msg"] + margin,
        Limit("kernel.sem", 3): len(sems) + counts["sysv-sem"] + margin,
        Limit("kernel.sem", 1): sum(int(r[3]) for r in sems if len(r) > 3) + counts["sysv-sem"] * SEM_NSEMS + margin,
        Limit("fs.mqueue.queues_max"): len(os.listdir("/dev/mqueue")) + counts["posix-mq"] + margin
        if os.path.isdir("/dev/mqueue")
        else 0,
        Limit("fs.mqueue.msg_max"): MQ_MAXMSG,
        Limit("fs.mqueue.msgsize_max"): MQ_MSGSIZE,
    }
    with open("/proc/sys/fs/file-nr") as f:
        allocated = int(f.read().split()[0])
    needs[Limit("fs.file-max")] = allocated + sum(counts.values()) * 3 + processes * 8 + 4096
    return needs


def _state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/run/ipcwatch-loadgen")
    return Path(tempfile.gettempdir()) / f"ipcwatch-loadgen-{os.getuid()}"


@contextlib.contextmanager
def _shared_state() -> Iterator[dict]:
    """The record shared by concurrent runs, under an exclusive lock: {"runs": [leader pids], "limits": {...}}.

    Dead leaders are dropped on every read, so a crashed run never pins the raised limits.
    """
    state_dir = _state_dir()
    state_dir.mkdir(mode=0o700, exist_ok=True)
    with open(state_dir / "lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = state_dir / "state.json"
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = {"runs": [], "limits": {}}
        state["runs"] = [pid for pid in state["runs"] if _alive(pid)]
        yield state
        if state["runs"] or state["limits"]:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(path)
        else:
            path.unlink(missing_ok=True)


def register_run(run_pid: int, needs: Mapping[Limit, int]) -> list[str]:
    """Record a live run and raise each limit that is too low (root only; the original is kept once)."""
    changed = []
    with _shared_state() as state:
        state["runs"].append(run_pid)
        if os.geteuid() != 0:
            return []
        for limit, need in needs.items():
            text = limit.read_text()
            if limit.value(text) >= need:
                continue
            record = state["limits"].setdefault(limit.path.as_posix(), {"original": text})
            limit.path.write_text(limit.with_value(text, need))
            record["set"] = limit.read_text()
            changed.append(f"raised {limit.name} from {limit.value(text)} to {need}")
    return changed


def release_run(run_pid: int | None) -> list[str]:
    """Forget a run; when no live run is left, restore every original value that nobody changed since."""
    restored = []
    with _shared_state() as state:
        state["runs"] = [pid for pid in state["runs"] if pid != run_pid]
        if state["runs"]:
            return []
        for key, record in list(state["limits"].items()):
            path = Path(key)
            with contextlib.suppress(OSError):
                if path.read_text().strip() == record.get("set"):
                    path.write_text(record["original"])
                    restored.append(f"restored {key} to {record['original']}")
                else:
                    restored.append(f"{key} was changed by someone else since; left as it is")
            del state["limits"][key]
    return restored


# --- SysV through libc (sysv_ipc attaches every segment it creates; the leader must not) ---------------------


def _sysv_create(kind: str) -> int:
    """Create one SysV object with a free key in LOADGEN_KEYS; returns its id."""
    flags = _IPC_CREAT | _IPC_EXCL | 0o600
    for _ in range(1000):
        key = ctypes.c_int32(LOADGEN_KEYS.start + secrets.randbelow(len(LOADGEN_KEYS))).value
        if kind == "sysv-shm":
            ident = _libc.shmget(key, ctypes.c_size_t(4096), flags)
        elif kind == "sysv-msg":
            ident = _libc.msgget(key, flags)
        else:
            ident = _libc.semget(key, SEM_NSEMS, flags)
        if ident >= 0:
            return ident
        err = ctypes.get_errno()
        if err != 17:  # EEXIST: another key
            raise OSError(err, f"{kind}: {os.strerror(err)}")
    raise OSError(f"{kind}: no free key in the loadgen range")


def _sysv_remove(kind: str, ident: int) -> None:
    remove = {
        "sysv-shm": sysv_ipc.remove_shared_memory,
        "sysv-msg": sysv_ipc.remove_message_queue,
        "sysv-sem": sysv_ipc.remove_semaphore,
    }[kind]
    with contextlib.suppress(sysv_ipc.ExistentialError, sysv_ipc.PermissionsError):
        remove(ident)


# --- holder children -----------------------------------------------------------------------------------------


def plan_name(prefix: str, kind: str, i: int) -> str:
    """The POSIX name (without the slash) of object i of a kind: `ipcwl.<leader>.<token>.shm12`."""
    return f"{prefix}.{kind.split('-')[-1]}{i}"


@dataclass
class _Plan:
    """What one run creates; child `j` of `processes` takes every object whose index is j modulo processes."""

    prefix: str
    counts: dict[str, int]
    processes: int
    run_dir: str
    leader: int
    sysv_ids: dict[str, list[int]] = field(default_factory=dict)

    def name(self, kind: str, i: int) -> str:
        return plan_name(self.prefix, kind, i)

    def path(self, kind: str, i: int) -> str:
        return os.path.join(self.run_dir, f"{kind[0]}{i}")

    def mine(self, kind: str, j: int) -> range:
        return range(j, self.counts.get(kind, 0), self.processes)


def _raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))  # raising the hard limit needs root


def _map_shared(fd: int, size: int) -> None:
    """Map a file MAP_SHARED for the rest of this process's life (never unmapped: the holder just exits)."""
    address = _libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
    if address in (None, _MAP_FAILED):
        err = ctypes.get_errno()
        raise OSError(err, f"mmap: {os.strerror(err)}")


def _hold_slice(plan: _Plan, j: int) -> list[object]:
    """Create and hold child j's objects; the returned list keeps the Python objects (maps, queues) alive."""
    keep: list[object] = []
    fds = sum(len(plan.mine(k, j)) for k in KINDS) * 2 + 64
    _raise_nofile(fds)
    for n, shmid in enumerate(plan.sysv_ids.get("sysv-shm", [])[j :: plan.processes]):
        keep.append(sysv_ipc.attach(shmid, flags=sysv_ipc.SHM_RDONLY if n % 2 else 0))
    for i in plan.mine("posix-shm", j):
        shm = posix_ipc.SharedMemory("/" + plan.name("posix-shm", i), posix_ipc.O_CREX, mode=0o600, size=4096)
        if i % 2:  # odd: mapped only, the fd closed (mmap.mmap would keep a dup); even: the fd kept open
            _map_shared(shm.fd, 4096)
            shm.close_fd()
        else:
            keep.append(shm)
    for i in plan.mine("posix-mq", j):
        mq = posix_ipc.MessageQueue(
            "/" + plan.name("posix-mq", i),
            posix_ipc.O_CREX,
            mode=0o600,
            max_messages=MQ_MAXMSG,
            max_message_size=MQ_MSGSIZE,
        )
        if i % 5 == 0:
            mq.send(b"loadgen", timeout=0)
        keep.append(mq)
    for i in plan.mine("posix-sem", j):
        keep.append(posix_ipc.Semaphore("/" + plan.name("posix-sem", i), posix_ipc.O_CREX, mode=0o600, initial_value=1))
    for i in plan.mine("fifo", j):
        path = plan.path("fifo", i)
        os.mkfifo(path, 0o600)
        os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        w = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        if i % 3 == 0:
            os.write(w, b"queued")
    for i in plan.mine("pipe", j):
        _, w = os.pipe()
        if i % 3 == 0:
            os.write(w, b"queued")
    keep += _hold_sockets(plan, j)
    return keep


def _hold_sockets(plan: _Plan, j: int) -> list[socket.socket]:
    """A quarter listeners (path and abstract, alternating), the rest connected pairs (socketpair or accepted)."""
    mine = plan.mine("unix", j)
    listeners = len(mine) // 4
    out: list[socket.socket] = []
    for n, i in enumerate(mine[:listeners]):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(plan.path("unix", i) if n % 2 == 0 else f"\0{plan.name('unix', i)}")
        s.listen(64)
        out.append(s)
    left = len(mine) - listeners
    for n in range(0, left - 1, 2):
        if out and n % 4 == 0:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(out[0].getsockname())
            out += [client, out[0].accept()[0]]
        else:
            out += socket.socketpair()
    if left % 2:
        out.append(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
    return out


def _child_main(plan: _Plan, j: int, ctrl_r: int, status_w: int) -> NoReturn:
    """Runs in a forked child: never returns, never runs the leader's cleanup (os._exit)."""
    code = 0
    try:
        for sig in _CLEANUP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != plan.leader:
            os._exit(1)  # the leader died before prctl
        gc.disable()
        for low, high in ((3, min(ctrl_r, status_w)), (min(ctrl_r, status_w) + 1, max(ctrl_r, status_w))):
            os.closerange(low, high)
        os.closerange(max(ctrl_r, status_w) + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        try:
            keep = _hold_slice(plan, j)
        except Exception as exc:  # noqa: BLE001 - reported to the leader, which cleans up
            os.write(status_w, f"E {j} {type(exc).__name__}: {exc}"[:300].encode() + b"\n")
            code = 1
        else:
            os.write(status_w, f"R {j}\n".encode())
            os.close(status_w)
            while os.read(ctrl_r, 1):  # EOF: the leader closed its end (or died)
                pass
            del keep
    finally:
        os._exit(code)


# --- the load ------------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    return pid > 0 and os.path.exists(f"/proc/{pid}")


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold off Ctrl-C, SIGTERM, SIGHUP and SIGQUIT while cleaning up; they are delivered when it is done."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _CLEANUP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Load:
    """Thousands of IPC objects held by `processes` children; a context manager that always cleans up.

    `per_kind` objects of every kind, unless `counts` gives a kind its own number (0 leaves it out).
    """

    def __init__(
        self,
        per_kind: int = 1000,
        processes: int = 200,
        counts: Mapping[str, int] | None = None,
        log: bool = False,
    ) -> None:
        unknown = set(counts or {}) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kind(s): {', '.join(sorted(unknown))}")
        self.counts = {kind: int((counts or {}).get(kind, per_kind)) for kind in KINDS}
        if processes < 1 or any(n < 0 for n in self.counts.values()):
            raise ValueError("processes must be >= 1 and counts >= 0")
        self.processes = processes
        self.leader = os.getpid()
        self.prefix = f"{NAME_TAG}{self.leader}.{secrets.token_hex(3)}"
        self.run_dir = ""
        self.pids: list[int] = []
        self.sysv_ids: dict[str, list[int]] = {k: [] for k in ("sysv-shm", "sysv-msg", "sysv-sem")}
        self.limit_changes: list[str] = []
        self.setup_seconds = 0.0
        self._log = log
        self._ctrl_w: int | None = None
        self._registered = False
        self._closed = True
        self._old_handlers: dict[int, object] = {}

    def _say(self, text: str) -> None:
        if self._log:
            with contextlib.suppress(OSError):  # a hung-up terminal (EIO) must not stop the cleanup
                print(f"loadgen: {text}", file=sys.stderr, flush=True)

    def __enter__(self) -> Load:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Create everything and wait until every holder is ready; on any failure, clean up and raise LoadError."""
        started = time.monotonic()
        self._closed = False
        atexit.register(self.close)
        self._install_handlers()
        try:
            self._start()
        except BaseException as exc:
            self.close()
            if isinstance(exc, Exception) and not isinstance(exc, LoadError):
                raise LoadError(f"{type(exc).__name__}: {exc}") from exc
            raise
        self.setup_seconds = time.monotonic() - started
        self._say(
            f"{sum(self.counts.values())} objects in {self.processes} holders ready in "
            f"{self.setup_seconds:.1f} s (prefix {self.prefix})"
        )

    def _start(self) -> None:
        self._check_mq_budget()
        self._registered = True
        self.limit_changes = register_run(self.leader, limits_needed(self.counts, self.processes))
        for change in self.limit_changes:
            self._say(change)
        for kind in self.sysv_ids:
            for _ in range(self.counts[kind]):
                self.sysv_ids[kind].append(_sysv_create(kind))
        for n, msqid in enumerate(self.sysv_ids["sysv-msg"]):
            if n % 5 == 0:
                msg = b"\1\0\0\0\0\0\0\0loadgen"
                _libc.msgsnd(msqid, msg, ctypes.c_size_t(len(msg) - 8), 0o4000)  # IPC_NOWAIT
        self.run_dir = tempfile.mkdtemp(prefix=self.prefix + ".")
        plan = _Plan(self.prefix, self.counts, self.processes, self.run_dir, self.leader, self.sysv_ids)
        ctrl_r, self._ctrl_w = os.pipe2(os.O_CLOEXEC)
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        gc.collect()
        gc.freeze()  # children then share the leader's pages instead of copying them
        try:
            for j in range(self.processes):
                pid = os.fork()
                if pid == 0:
                    _child_main(plan, j, ctrl_r, status_w)
                self.pids.append(pid)
        finally:
            gc.unfreeze()
            os.close(ctrl_r)
            os.close(status_w)
        try:
            self._wait_ready(status_r)
        finally:
            os.close(status_r)

    def _check_mq_budget(self) -> None:
        """POSIX queues are charged to RLIMIT_MSGQUEUE, per user; raising its hard limit needs CAP_SYS_RESOURCE.

        The holders inherit the leader's limit, so it is raised here when it can be (and the holders are charged
        to the same user: other queues of this user share the budget).
        """
        needed = self.counts["posix-mq"] * MQ_CHARGE
        soft, hard = resource.getrlimit(resource.RLIMIT_MSGQUEUE)
        if needed <= soft or soft == resource.RLIM_INFINITY:
            return
        try:
            resource.setrlimit(resource.RLIMIT_MSGQUEUE, (needed, max(needed, hard)))
        except (ValueError, OSError):
            fits = hard // MQ_CHARGE
            raise LoadError(
                f"{self.counts['posix-mq']} POSIX queues need ~{needed} bytes of RLIMIT_MSGQUEUE; the hard limit is "
                f"{hard} (~{fits} queues) and raising it needs CAP_SYS_RESOURCE: ask for fewer (posix-mq={fits // 2})"
            ) from None

    def _wait_ready(self, status_r: int) -> None:
        ready, buf = 0, b""
        deadline = time.monotonic() + READY_TIMEOUT
        while ready < self.processes:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([status_r], [], [], left)[0]:
                raise LoadError(f"only {ready} of {self.processes} holders were ready after {READY_TIMEOUT:.0f} s")
            chunk = os.read(status_r, 65536)
            if not chunk:
                raise LoadError(f"holders exited early: {ready} of {self.processes} ready")
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b"E "):
                    raise LoadError("a holder failed: " + line[2:].decode(errors="replace"))
                ready += 1

    def _install_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum: int, _frame: object) -> None:
            raise SystemExit(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            self._old_handlers[sig] = signal.signal(sig, stop)

    def close(self) -> None:
        """Stop the holders, remove every object, restore the limits. Idempotent; each step runs even if one fails."""
        if self._closed or os.getpid() != self.leader:
            return
        with _signals_blocked():
            self._closed = True
            if self._ctrl_w is not None:
                os.close(self._ctrl_w)  # holders see EOF and exit
                self._ctrl_w = None
            self._reap()
            for kind, ids in self.sysv_ids.items():
                for ident in ids:
                    _sysv_remove(kind, ident)
            for kind, unlink in (
                ("posix-shm", posix_ipc.unlink_shared_memory),
                ("posix-mq", posix_ipc.unlink_message_queue),
                ("posix-sem", posix_ipc.unlink_semaphore),
            ):
                for i in range(self.counts[kind] if self.run_dir else 0):  # holders create them after run_dir
                    with contextlib.suppress(posix_ipc.ExistentialError, OSError):
                        unlink("/" + plan_name(self.prefix, kind, i))
            if self.run_dir:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            if self._registered:
                for change in release_run(self.leader):
                    self._say(change)
                self._registered = False
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]
            self._old_handlers.clear()
            atexit.unregister(self.close)
        self._say("cleaned up")

    def _reap(self) -> None:
        deadline = time.monotonic() + 10.0
        pending = set(self.pids)
        while pending:
            for pid in list(pending):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    pending.discard(pid)
            if pending and time.monotonic() > deadline:
                for pid in pending:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10.0
            if pending:
                time.sleep(0.01)
        self.pids.clear()


# --- sweeping a crashed run's leftovers ----------------------------------------------------------------------


def _leader_of(name: str) -> int | None:
    """The leader pid in `ipcwl.<pid>.<token>...`, or None when the name is not ours."""
    if name.startswith("sem."):
        name = name[4:]
    if not name.startswith(NAME_TAG):
        return None
    pid = name[len(NAME_TAG) :].split(".", 1)[0]
    return int(pid) if pid.isdigit() else None


def sweep(everything: bool = False) -> dict[str, int]:
    """Remove what dead runs left (everything of ours with `everything`); restore the limits if no run is live.

    POSIX names and directories name their leader. SysV queues and semaphore sets record no creator, so keys in
    LOADGEN_KEYS are removed only when no registered run is alive (segments: also when their creator is gone).
    """
    removed = dict.fromkeys(("sysv", "posix", "dirs"), 0)
    with _shared_state() as state:
        live = bool(state["runs"])

    def orphaned(leader: int | None) -> bool:
        return leader is not None and (everything or not _alive(leader))

    for table, kind in (("shm", "sysv-shm"), ("msg", "sysv-msg"), ("sem", "sysv-sem")):
        for row in _sysv_rows(table):
            key, ident = int(row[0]) & 0xFFFFFFFF, int(row[1])
            if key not in LOADGEN_KEYS:
                continue
            if everything or not live or (table == "shm" and not _alive(int(row[7]))):
                _sysv_remove(kind, ident)
                removed["sysv"] += 1
    for directory in ("/dev/shm", "/dev/mqueue"):
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                if orphaned(_leader_of(name)):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(directory, name))
                        removed["posix"] += 1
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        path = os.path.join(tmp, name)
        if orphaned(_leader_of(name)) and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            removed["dirs"] += 1
    for change in release_run(None):
        print(f"loadgen: {change}", file=sys.stderr)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create (and always remove) a large IPC load for benchmarks.")
    parser.add_argument("--per-kind", type=int, default=1000, metavar="N", help="objects of each kind (1000)")
    parser.add_argument("--processes", type=int, default=200, metavar="P", help="holder processes (200)")
    parser.add_argument("--count", action="append", default=[], metavar="KIND=N", help="override one kind's count")
    parser.add_argument(
        "--hold", action="store_true", help="keep the load until Ctrl-C, SIGTERM, SIGHUP or SIGQUIT (for TUI testing)"
    )
    parser.add_argument("--sweep", action="store_true", help="remove leftovers of runs whose leader is gone")
    parser.add_argument("--all", action="store_true", help="with --sweep: also remove live runs' objects")
    args = parser.parse_args(argv)
    if args.sweep:
        removed = sweep(everything=args.all)
        print(f"swept {removed['sysv']} SysV, {removed['posix']} POSIX objects, {removed['dirs']} directories")
        return 0
    try:
        counts = {kind: int(n) for kind, _, n in (c.partition("=") for c in args.count)}
        load = Load(args.per_kind, args.processes, counts, log=True)
    except ValueError as exc:
        parser.error(str(exc))
    stopped_by: int | None = None
    try:
        with load:
            print(f"prefix {load.prefix}; holders {load.pids[0]}..{load.pids[-1]}; files in {load.run_dir}")
            for kind, n in load.counts.items():
                ids = load.sysv_ids.get(kind, [])
                print(f"  {kind:10} {n}" + (f"  ids {' '.join(map(str, ids))}" if 0 < len(ids) <= 16 else ""))
            if args.hold:
                with StopSignals() as stop:
                    print("holding; Ctrl-C, SIGTERM, SIGHUP or SIGQUIT cleans up and exits", flush=True)
                    load._say(f"{stop.wait()}: cleaning up")
                    stopped_by = stop.received
    except LoadError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0 if stopped_by is None else 128 + stopped_by


if __name__ == "__main__":
    sys.exit(main())
