"""The load generator's holder children: forked by the leader, each makes and holds its slice of the load.

Child `j` of `processes` takes every object whose index is j modulo processes: it attaches its share of the SysV
segments (even: read-write, odd: read-only) and makes, with ipcwatch.workload.objects, POSIX shm (even: fd open,
odd: mapped only), queues (every fifth with a message), named semaphores, FIFOs (both ends open, every third with
bytes queued), pipes (the same) and unix sockets (a quarter listeners, path and abstract, the rest connected pairs:
accepted connections and socketpairs). It reports `R j` (or `E j why`) on the status pipe, then holds everything
until the control pipe reaches end of file (the leader closed it, or died), and dies with the leader anyway.
"""

from __future__ import annotations

import ctypes
import gc
import mmap
import os
import resource
import signal
import socket
from dataclasses import dataclass, field
from typing import NoReturn

import sysv_ipc
from loadgen_limits import MQ_MAXMSG, MQ_MSGSIZE

from ipcwatch.workload import objects

KINDS = ("sysv-shm", "sysv-msg", "sysv-sem", "posix-shm", "posix-mq", "posix-sem", "fifo", "pipe", "unix")
POSIX_KINDS = ("posix-shm", "posix-mq", "posix-sem")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_MAP_FAILED = ctypes.c_void_p(-1).value


def plan_name(prefix: str, kind: str, i: int) -> str:
    """The POSIX name (without the slash) of object i of a kind: `ipcwl.<leader>.<token>.shm12`."""
    return f"{prefix}.{kind.split('-')[-1]}{i}"


@dataclass
class Plan:
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

    def posix_refs(self) -> list[str]:
        """The ref of every POSIX object the holders make."""
        return [f"{kind}:{self.name(kind, i)}" for kind in POSIX_KINDS for i in range(self.counts.get(kind, 0))]


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


def _hold_slice(plan: Plan, j: int) -> list[object]:
    """Create and hold child j's objects; the returned list keeps the Python objects (maps, queues) alive."""
    keep: list[object] = []
    fds = sum(len(plan.mine(k, j)) for k in KINDS) * 2 + 64
    _raise_nofile(fds)
    for n, shmid in enumerate(plan.sysv_ids.get("sysv-shm", [])[j :: plan.processes]):
        keep.append(sysv_ipc.attach(shmid, flags=sysv_ipc.SHM_RDONLY if n % 2 else 0))
    for i in plan.mine("posix-shm", j):
        shm = objects.posix_shm(plan.name("posix-shm", i))
        if i % 2:  # odd: mapped only, the fd closed (mmap.mmap would keep a dup); even: the fd kept open
            _map_shared(shm.fd, 4096)
            shm.close_fd()
        else:
            keep.append(shm)
    for i in plan.mine("posix-mq", j):
        mq = objects.posix_mq(plan.name("posix-mq", i), MQ_MAXMSG, MQ_MSGSIZE)
        if i % 5 == 0:
            mq.send(b"loadgen", timeout=0)
        keep.append(mq)
    for i in plan.mine("posix-sem", j):
        keep.append(objects.posix_sem(plan.name("posix-sem", i), initial=1))
    for i in plan.mine("fifo", j):
        path = objects.fifo(plan.path("fifo", i))
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


def _hold_sockets(plan: Plan, j: int) -> list[socket.socket]:
    """A quarter listeners (path and abstract, alternating), the rest connected pairs (socketpair or accepted)."""
    mine = plan.mine("unix", j)
    listeners = len(mine) // 4
    out: list[socket.socket] = []
    for n, i in enumerate(mine[:listeners]):
        out.append(objects.unix_listener(plan.path("unix", i) if n % 2 == 0 else f"\0{plan.name('unix', i)}"))
    left = len(mine) - listeners
    for n in range(0, left - 1, 2):
        if out and n % 4 == 0:
            client = objects.pending_client(out[0])
            out += [client, out[0].accept()[0]]
        else:
            out += socket.socketpair()
    if left % 2:
        out.append(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
    return out


def child_main(plan: Plan, j: int, ctrl_r: int, status_w: int) -> NoReturn:
    """Runs in a forked child: never returns, never runs the leader's cleanup (os._exit)."""
    code = 0
    try:
        for sig in STOP_SIGNALS:
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
