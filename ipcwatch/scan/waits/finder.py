"""The finder: samples every thread in the scan's /proc pass, then maps the waits to the scan's objects."""

from __future__ import annotations

import os
from functools import cached_property

from ipcwatch.kinds import SYSV_KINDS
from ipcwatch.procfs import is_file_identity
from ipcwatch.record import replace
from ipcwatch.scan import syscalls as sc
from ipcwatch.scan.info import UnixInfo
from ipcwatch.scan.model import IpcObject, Process, Waiter
from ipcwatch.scan.procdir import ProcDir
from ipcwatch.scan.procs import HolderIndex
from ipcwatch.scan.waits.decoders import DECODERS, may_wait_on_ipc
from ipcwatch.scan.waits.records import (
    ALWAYS_IPC,
    CLIENT,
    DIR_FLAGS,
    ProcessSample,
    Target,
    ThreadSample,
    WaitSamples,
    is_kernel_thread,
)
from ipcwatch.scan.waits.thread import ThreadReader, scheduler_now, waiting_since


class WaitFinder:
    """One scan's thread sampling: `visit` in the /proc pass, then `attach` to the objects."""

    def __init__(self, machine: str | None = None) -> None:
        self.table = sc.table_for(machine)
        self.problem = None if self.table is not None else f"unknown architecture {os.uname().machine}"
        self.samples: dict[int, ProcessSample] = {}
        self._self_pid = os.getpid()
        self._clock_read: tuple[float, float] | None | bool = False

    def _clock(self) -> tuple[float, float] | None:
        if self._clock_read is False:
            self._clock_read = scheduler_now()
        return self._clock_read  # type: ignore[return-value]

    def visit(self, pid: int, proc_dir: ProcDir, proc: Process) -> None:
        """Sample every thread of one process (a visitor of the scan's /proc pass: most of what a one-thread
        process needs was read by the pass itself, beside the object reads)."""
        if self.table is None or pid == self._self_pid or is_kernel_thread(proc):
            return
        threads: list[ThreadSample] = []
        problem, ipc_inode = None, None
        try:
            if proc_dir.task_links() <= 3:  # 2 + one per thread: skip listing a lone thread
                if proc.state in ("Z", "X"):
                    return  # exited; a zombie leader with live threads is sampled thread by thread below
                threads.append(self._thread(proc_dir, "", pid, proc.state, pid))
            else:
                task_fd = os.open("task", DIR_FLAGS, dir_fd=proc_dir.fd)
                try:
                    tids = [int(name) for name in os.listdir(task_fd) if name.isdigit()]
                finally:
                    os.close(task_fd)
                for tid in tids:
                    try:
                        state = proc.state if tid == pid else None  # /proc/PID/stat is the main thread's
                        threads.append(self._thread(proc_dir, f"task/{tid}/", tid, state, pid))
                    except PermissionError:
                        raise
                    except OSError:
                        continue  # the thread exited while we read it
            if any(t.kind in SYSV_KINDS for thread in threads for t in thread.targets):
                ipc_inode = os.stat("ns/ipc", dir_fd=proc_dir.fd).st_ino
        except PermissionError:
            problem = f"could not read syscall file of {pid} (permission denied)"
        except OSError:
            return  # the process exited
        self.samples[pid] = ProcessSample(tuple(threads), problem, ipc_inode)

    def _thread(self, proc_dir: ProcDir, prefix: str, tid: int, state: str | None, pid: int) -> ThreadSample:
        """One thread; `state` is known for the main thread (the process's stat), else read only when it matters.

        The syscall file answers `running` for a running thread, so a sleeping thread costs one read unless it
        sleeps in a call that can wait on IPC.
        """
        if state is not None and state not in ("S", "D"):
            return ThreadSample(tid, state, None)
        raw = proc_dir.read(f"{prefix}syscall", 512)  # PermissionError: no access
        if raw.startswith(b"running"):
            return ThreadSample(tid, "R", None)
        head = raw.split(b" ", 1)[0]
        name = sc.syscall_name(self.table, int(head)) if head.isdigit() else None
        decode = DECODERS.get(name) if name is not None else None
        call = sc.parse_syscall(raw) if decode is not None or head == b"-1" else None
        if call is None or (name is not None and not may_wait_on_ipc(name, call.args)):
            return ThreadSample(tid, state or "?", name)  # most sleepers: a private futex, a nanosleep, ...
        if state is None:
            state = sc.parse_thread_state(proc_dir.read(f"{prefix}stat", 1024)) or "?"
        if name is None:  # asleep outside a system call (a page fault, a stop): wchan says where
            return ThreadSample(tid, state, None, wchan=ThreadReader(proc_dir, prefix, state, "", ()).wchan())
        if decode is None or state not in ("S", "D"):
            return ThreadSample(tid, state, name)
        thread = ThreadReader(proc_dir, prefix, state, name, call.args, pid)
        timeout = None
        try:
            targets, note = decode(thread)
            timeout = thread.timeout()
        except (FileNotFoundError, ProcessLookupError):
            raise
        except (OSError, ValueError, OverflowError) as exc:
            targets, note = (), f"its wait could not be decoded: {getattr(exc, 'strerror', None) or exc}"
        finally:
            thread.close()
        if not targets:
            return ThreadSample(tid, state, name, note=note, timeout=timeout)
        since = waiting_since(proc_dir, prefix, self._clock())
        return ThreadSample(tid, state, name, thread.wchan(), targets, note, since, timeout)

    def attach(self, objects: list[IpcObject], index: HolderIndex) -> tuple[dict[str, list[Waiter]], WaitSamples]:
        """Map the sampled waits to objects: ({ref: waiters}, the samples with each wait resolved, for the snapshot)."""
        objs: _Objects | None = None  # built when a thread waits on something: most scans have no such thread
        out: dict[str, list[Waiter]] = {}
        samples: dict[int, ProcessSample] = {}
        wanted = {t.match for sample in self.samples.values() for thread in sample.threads for t in thread.targets}
        for pid, sample in self.samples.items():
            if not any(thread.targets for thread in sample.threads):
                samples[pid] = sample
                continue
            threads = []
            for thread in sample.threads:
                if thread.targets:
                    objs = objs or _Objects(objects, wanted)
                    thread = replace(thread, resolved=objs.resolve(thread.targets, sample.ipc_inode))
                    for target, ref in thread.resolved:
                        if ref is not None:
                            out.setdefault(ref, []).append(Waiter(pid, thread.tid, target.op))
                threads.append(thread)
            samples[pid] = replace(sample, threads=tuple(threads))
        return out, WaitSamples(samples, index.unreadable_fd_tables, self.problem, self._self_pid)


class _Objects:
    """The scan's objects, found by what a wait target names: a ref, a file identity or a SysV id in a namespace.
    `wanted`: every target's match (a ref or a file identity): only objects that one names are indexed by it."""

    def __init__(self, objects: list[IpcObject], wanted: set[str]) -> None:
        self.objects, self.wanted = objects, wanted
        self.by_ref = {o.ref: o for o in objects if o.ref in wanted}

    # The other two indexes are built when a target needs them (most targets name a ref: a pipe, a socket).
    @cached_property
    def by_identity(self) -> dict[str, IpcObject]:
        wanted = self.wanted
        return {o.identity: o for o in self.objects if o.identity in wanted and is_file_identity(o.identity)}

    @cached_property
    def by_sysv(self) -> dict[tuple[str, int | None, int], IpcObject]:
        return {
            (o.kind, o.id, o.namespace.inode): o
            for o in self.objects
            if o.kind in SYSV_KINDS and o.namespace is not None
        }

    def find(self, target: Target, ipc_inode: int | None) -> IpcObject | None:
        if target.kind in SYSV_KINDS and ipc_inode is not None:  # a SysV id: unique in its own namespace only
            return self.by_sysv.get((target.kind, _sysv_id(target.match), ipc_inode))
        return self.by_ref.get(target.match) or self.by_identity.get(target.match)

    def resolve(self, targets: tuple[Target, ...], ipc_inode: int | None) -> tuple[tuple[Target, str | None], ...]:
        """The targets that are IPC, each with its object's ref (None: not in the scan), one per object."""
        resolved: list[tuple[Target, str | None]] = []
        for target in targets:
            obj = self.find(target, ipc_inode)
            if obj is None and target.kind not in ALWAYS_IPC:
                continue  # e.g. a TCP socket: not IPC
            if obj is not None and isinstance(obj.info, UnixInfo) and obj.info.state == "listen":
                target = replace(target, role=CLIENT, op=target.op.replace("nothing received", "no client"))
            ref = obj.ref if obj is not None else None
            if ref is None or all(r != ref for _, r in resolved):
                resolved.append((target, ref))
        return tuple(resolved)


def _sysv_id(match: str) -> int | None:
    """The id in a SysV target's `sysv-sem:ID` match."""
    digits = match.rpartition(":")[2]
    return int(digits) if digits.isdigit() else None
