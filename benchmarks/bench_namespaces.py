"""Benchmark the scan across IPC namespaces: 20 namespaces of 100 SysV objects each beside one of 2,000.

    .venv/bin/python benchmarks/bench_namespaces.py                 # 20 x 100 beside 2,000
    .venv/bin/python benchmarks/bench_namespaces.py --namespaces 5 --objects 50 --big 500 --runs 3

Each namespace is an `unshare --ipc` child holding its objects (they die with it: nothing is left behind, even
on a crash the children are killed). The namespace of 2,000 is a child too, so the host's own IPC tables, which
other work may be using, are not filled. Prints: `scan()` of SysV with every namespace, the same scan with the
namespace step reading no other namespace (the host-only cost), their difference per namespace, one `read_ipc`
per namespace, and `for ns: nsenter -t PID -i ipcs -a` over the same namespaces, with ratios. Never fails on speed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from _common import PYTHON, Command, add_runs_argument, header, machine, print_table, time_call, time_commands

from ipcwatch.scan import ScanConfig, nsscan, scan
from ipcwatch.scan.namespaces import discover
from ipcwatch.scan.nsread import read_ipc

SYSV = frozenset({"sysv-shm", "sysv-msg", "sysv-sem"})
CHILD = """
import sys, sysv_ipc
n = int(sys.argv[1])
made = []
for i in range(n):
    kind = i % 3
    if kind == 0:
        made.append(sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, size=4096))
    elif kind == 1:
        made.append(sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX))
    else:
        made.append(sysv_ipc.Semaphore(None, sysv_ipc.IPC_CREX))
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def namespace_child(objects: int) -> Iterator[int]:
    """An `unshare --ipc` child holding `objects` SysV objects; yields its pid; killed (with its namespace) after."""
    proc = subprocess.Popen(
        ["unshare", "--ipc", "--fork", "--kill-child", PYTHON, "-c", CHILD, str(objects)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"namespace child exited with {proc.wait()}")
        inner = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        yield int(inner[0]) if inner else proc.pid
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--objects", type=int, default=100, help="objects in each small namespace")
    parser.add_argument("--big", type=int, default=2000, help="objects in the big namespace")
    add_runs_argument(parser)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (unshare, setns)", file=sys.stderr)
        return 2
    header(f"IPC namespaces: {args.namespaces} x {args.objects} SysV objects beside one of {args.big}")
    print(machine())
    with ExitStack() as stack:
        started = time.monotonic()
        pids = [stack.enter_context(namespace_child(args.objects)) for _ in range(args.namespaces)]
        pids.append(stack.enter_context(namespace_child(args.big)))
        print(f"set up in {time.monotonic() - started:.1f} s; namespace pids {pids[0]}..{pids[-1]}")
        found = discover(fds=False)
        mine = [found.namespace_of(pid, "ipc") for pid in pids]
        spaces = [ns for ns in mine if ns is not None]
        keys = {ns.key for ns in spaces}
        snap = scan(ScanConfig(kinds=SYSV))
        seen = sum(1 for o in snap.objects if o.namespace is not None and o.namespace.key in keys)
        print(f"objects seen in those namespaces: {seen} of {args.namespaces * args.objects + args.big}")

        real = nsscan.read_namespaces
        full = time_call("scan() SysV, every namespace", lambda: scan(ScanConfig(kinds=SYSV)), args.runs)
        nsscan.read_namespaces = lambda d, k, *a, **kw: real(d, frozenset(), *a, **kw)  # type: ignore[assignment]
        try:
            host_only = time_call(
                "scan() SysV, no other namespace read", lambda: scan(ScanConfig(kinds=SYSV)), args.runs
            )  # fmt: skip
        finally:
            nsscan.read_namespaces = real  # type: ignore[assignment]
        reads = time_call(
            f"read_ipc x {len(spaces)}", lambda: [read_ipc(ns) for ns in spaces], args.runs
        )  # fmt: skip
        loop = " ; ".join(f"nsenter -t {pid} -i ipcs -a >/dev/null" for pid in pids)
        ipcs = time_commands([Command.sh(f"nsenter ipcs -a x {len(pids)}", loop, needs=("nsenter", "ipcs"))], args.runs)
        print_table("scan time", [full, host_only])
        print_table("reading every namespace's SysV tables", [reads, *ipcs.values()], reference=reads.label)
        if full.median is not None and host_only.median is not None:
            extra = full.median - host_only.median
            print(f"per-namespace overhead in scan(): {extra / len(spaces) * 1000:.2f} ms "
                  f"({extra * 1000:.1f} ms for {len(spaces)} namespaces, {args.namespaces * args.objects + args.big} "
                  "objects)")  # fmt: skip
        ipcs_median = next(iter(ipcs.values())).median
        if reads.median and ipcs_median:
            print(f"read_ipc per namespace {reads.median / len(spaces) * 1000:.2f} ms, nsenter+ipcs per namespace "
                  f"{ipcs_median / len(pids) * 1000:.2f} ms: ratio {ipcs_median / reads.median:.1f}x")  # fmt: skip
    leftover = [ns.tag for ns in discover(types=("ipc",), fds=False).of_type("ipc") if ns.key in keys]
    print("cleaned up" if not leftover else f"namespaces still alive: {leftover}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
