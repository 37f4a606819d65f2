"""Load generator: thousands of live IPC objects of every kind, held by many processes, always cleaned up.

    with Load(per_kind=1000, processes=200) as load:
        ...  # scan, run the TUI, time other tools

    python benchmarks/loadgen.py --per-kind 1000 --processes 200 --hold   # until Ctrl-C, SIGTERM/HUP/QUIT
    python benchmarks/loadgen.py --sweep                                   # leftovers of a killed run

The leader creates the SysV objects (keys in LOADGEN_KEYS) with ipcwatch.workload.objects; forked holder children
(loadgen_holders) each create and hold a slice of the rest. Everything is recorded in a workload `Ledger` (a marker
file) as it is made, so `close` and `--sweep` (after a SIGKILL) remove it identity-checked, and only it. Names carry
`ipcwl.<leader pid>.<token>`. Kernel limits are raised only as far as needed and restored by the last run to
finish (loadgen_limits).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import resource
import secrets
import select
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping

from loadgen_holders import KINDS, STOP_SIGNALS, Plan, child_main
from loadgen_limits import MQ_CHARGE, SEM_NSEMS, limits_needed, register_run, release_run

from ipcwatch import libc_write
from ipcwatch.actions.outcome import Status
from ipcwatch.stopsignals import StopSignals
from ipcwatch.workload import ledger, objects
from ipcwatch.workload.keys import KeyRange

LOADGEN_KEYS = KeyRange(0x1C9A0000, 0x10000)  # SysV keys this tool uses
NAME_TAG = "ipcwl."  # POSIX names, FIFO/socket directories: ipcwl.<leader pid>.<token>...
TOOL = "loadgen"  # the ledger's marker name
READY_TIMEOUT = 120.0


class LoadError(RuntimeError):
    """The load could not be created (it has been cleaned up already)."""


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold off Ctrl-C, SIGTERM, SIGHUP and SIGQUIT while cleaning up; they are delivered when it is done."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
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
        self.ledger = ledger.Ledger(TOOL)
        self._plan: Plan | None = None
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
        self.ledger = ledger.Ledger.open(TOOL)
        if self.ledger.problem:
            self._say(f"no marker ({self.ledger.problem}): after a SIGKILL, --sweep cannot find this run")
        try:
            for kind, ids in self.sysv_ids.items():
                for _ in range(self.counts[kind]):
                    ids.append(objects.sysv(kind, LOADGEN_KEYS, nsems=SEM_NSEMS)[0])
        finally:  # also what was made before a failure (shmmni reached, say): close removes it
            self.ledger.add_many(f"{kind}:{ident}" for kind, ids in self.sysv_ids.items() for ident in ids)
        for msqid in self.sysv_ids["sysv-msg"][::5]:
            libc_write.msgsnd(msqid, 1, b"loadgen", libc_write.IPC_NOWAIT)
        self.run_dir = tempfile.mkdtemp(prefix=self.prefix + ".")
        self.ledger.add(f"dir:{self.run_dir}")
        plan = self._plan = Plan(self.prefix, self.counts, self.processes, self.run_dir, self.leader, self.sysv_ids)
        ctrl_r, self._ctrl_w = os.pipe2(os.O_CLOEXEC)
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        gc.collect()
        gc.freeze()  # children then share the leader's pages instead of copying them
        try:
            for j in range(self.processes):
                pid = os.fork()
                if pid == 0:
                    child_main(plan, j, ctrl_r, status_w)
                self.pids.append(pid)
        finally:
            gc.unfreeze()
            os.close(ctrl_r)
            os.close(status_w)  # the holders are not recorded: they die with the leader (PR_SET_PDEATHSIG)
        try:
            self._wait_ready(status_r)
        finally:
            os.close(status_r)
        # Every holder is ready, so everything it makes exists. After a failure other holders may still be making
        # objects: close() records them once every holder is reaped, or some would be missed and left behind.
        self._record_posix()

    def _record_posix(self) -> None:
        """Record the POSIX objects the holders made (once; those that exist: also after a failed start)."""
        if self._plan is not None:
            self.ledger.add_many(self._plan.posix_refs())
            self._plan = None

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
            self._record_posix()
            failed = [o for o in self.ledger.remove_all() if o.status in (Status.DENIED, Status.FAILED)]
            for outcome in failed[:10]:
                self._say(outcome.message)
            if failed:
                self._say(f"{len(failed)} could not be removed; marker {self.ledger.marker} kept for --sweep")
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


def sweep(everything: bool = False) -> list[ledger.Swept]:
    """Remove what killed runs' markers list (with `everything`, live runs' too), identity-checked; restore the
    limits if no run is live."""
    swept = ledger.sweep(TOOL, live_too=everything)
    for change in release_run(None):
        print(f"loadgen: {change}", file=sys.stderr)
    return swept


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
        swept = sweep(everything=args.all)
        kept = [marker.marker for marker in swept if marker.kept]
        removed = sum(marker.removed for marker in swept)
        print(f"swept {removed} objects of {len(swept)} runs" + (f"; markers kept: {', '.join(kept)}" if kept else ""))
        return 1 if kept else 0
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
