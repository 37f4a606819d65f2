"""Every subcommand as uid 65534 on a host full of root's objects: no traceback, a clear message, the documented code.

README: "Exit codes: 0 done, 1 failed / already gone / not confirmed, 2 usage, 3 refused (read-only, replaced
object, in use), 4 timed out". Objects are root's, mode 0600, so reading them is denied and changing them fails;
every test then checks, as root, that nothing was changed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass

import posix_ipc
import pytest
import sysv_ipc

from tests.conftest import NOBODY, Child, Cleanup, NonRootCli, obj_of, unique_name

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to be root's objects and to drop to 65534)")

HOLDER = """
    import os, sys, posix_ipc, sysv_ipc
    shm = sysv_ipc.SharedMemory({shm_key})  # attached: a holder
    psem = posix_ipc.Semaphore("/{psem}")
    r, w = os.pipe()
    print("READY", flush=True)
    sys.stdin.read()
"""


@dataclass
class Host:
    """Root's objects, one or more of every kind, and a root process holding some of them."""

    shm: sysv_ipc.SharedMemory
    msg: sysv_ipc.MessageQueue
    sem: sysv_ipc.Semaphore
    pshm: str
    pmq: str
    psem: str
    holder: Child


@pytest.fixture
def host(sysv_shm, sysv_msg, sysv_sem, posix_shm, posix_mq, posix_sem, make_fifo, spawn, cleanup: Cleanup) -> Host:
    shm = sysv_shm()
    msg = sysv_msg()
    msg.send(b"root's message")
    sem = sysv_sem(initial=1)
    pshm, _ = posix_shm(data=b"root's secret")
    pmq, mq = posix_mq()
    mq.send(b"root's posix message")
    psem, _ = posix_sem(initial=1)
    make_fifo()
    a, b = socket.socketpair()
    cleanup.add(a.close)
    cleanup.add(b.close)
    holder = spawn(HOLDER.format(shm_key=shm.key, psem=psem))
    return Host(shm, msg, sem, pshm, pmq, psem, holder)


def check(result: subprocess.CompletedProcess[str], code: int, *said: str) -> None:
    """The exit code is `code`, nothing crashed, and each of `said` appears (case-insensitive) in the output."""
    output = (result.stdout + result.stderr).lower()
    assert "traceback" not in output, result.stderr
    assert result.returncode == code, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    for words in said:
        assert words.lower() in output, (words, result.stdout[-2000:], result.stderr[-2000:])


def test_listing_shows_roots_objects_and_says_what_is_hidden(host: Host, nonroot_cli: NonRootCli) -> None:
    table = nonroot_cli.run("list")
    check(table, 0, "not root", "permission denied")
    assert f"0x{host.shm.key:08x}" in table.stdout and host.pshm in table.stdout

    result = nonroot_cli.run("list", "--json")
    check(result, 0)
    data = json.loads(result.stdout)
    refs = {o["ref"]: o for o in data["objects"]}
    for ref in (f"sysv-shm:{host.shm.id}", f"sysv-msg:{host.msg.id}", f"sysv-sem:{host.sem.id}",
                f"posix-shm:{host.pshm}", f"posix-mq:{host.pmq}", f"posix-sem:{host.psem}"):
        assert ref in refs, ref
        assert refs[ref]["stale"] is False, ref  # what cannot be seen is never called stale
    assert any("not root" in n for n in data["notes"])

    check(nonroot_cli.run("list", "--stale"), 0, "not root")


def test_why_on_a_root_process_says_it_cannot_see(host: Host, nonroot_cli: NonRootCli) -> None:
    check(nonroot_cli.run("why", str(host.holder.pid)), 0, f"{host.holder.pid}", "permission denied")


def test_reading_roots_objects_is_denied_clearly(host: Host, nonroot_cli: NonRootCli) -> None:
    shm_ref = f"sysv-shm:{host.shm.id}"
    before = obj_of(shm_ref).info.nattch
    result = nonroot_cli.run("hexdump", shm_ref)
    check(result, 1, "permission denied")
    assert "note:" not in result.stderr and "output above" not in result.stderr  # nothing was read or changed
    assert obj_of(shm_ref).info.nattch == before
    check(nonroot_cli.run("hexdump", f"posix-shm:{host.pshm}"), 1, "permission denied")
    check(nonroot_cli.run("peek", f"sysv-msg:{host.msg.id}"), 1, "permission denied")
    check(nonroot_cli.run("peek", f"posix-mq:{host.pmq}"), 1, "could not be read", "owner root")
    check(nonroot_cli.run("sem", f"sysv-sem:{host.sem.id}", "show"), 1, "cannot be read")
    check(nonroot_cli.run("sem", f"posix-sem:{host.psem}", "show"), 1, "permission denied")


def test_changing_roots_objects_fails_and_changes_nothing(host: Host, nonroot_cli: NonRootCli) -> None:
    shm, msg, sem = (f"sysv-shm:{host.shm.id}", f"sysv-msg:{host.msg.id}", f"sysv-sem:{host.sem.id}")
    denied, not_permitted = (1, "permission denied"), (1, "not permitted")
    for args, (code, said) in (
        (("send", msg, "x"), denied),
        (("send", f"posix-mq:{host.pmq}", "x"), denied),
        (("receive", "--yes", msg), denied),
        (("receive", "--yes", f"posix-mq:{host.pmq}"), denied),
        (("sem", sem, "post"), denied),
        (("sem", f"posix-sem:{host.psem}", "post"), denied),
        (("sem", sem, "set", "--value", "5", "--yes"), denied),
        (("kill", "--yes", str(host.holder.pid)), not_permitted),
        (("rm", "--yes", shm), (3, "in use")),  # the holder has it attached: refused before trying
        (("rm", "--yes", "--force-in-use", shm, msg, sem), not_permitted),
        (("rm", "--yes", f"posix-shm:{host.pshm}", f"posix-mq:{host.pmq}", f"posix-sem:{host.psem}"), not_permitted),
    ):
        check(nonroot_cli.run(*args), code, said)
    assert host.msg.current_messages == 1
    assert host.sem.value == 1
    assert posix_ipc.MessageQueue("/" + host.pmq).current_messages == 1
    assert posix_ipc.Semaphore("/" + host.psem).value == 1
    assert host.holder.proc.poll() is None
    for ref in (f"sysv-shm:{host.shm.id}", f"posix-shm:{host.pshm}", f"posix-sem:{host.psem}"):
        obj_of(ref)  # still there


def test_read_only_refuses_before_trying(host: Host, nonroot_cli: NonRootCli) -> None:
    check(nonroot_cli.run("--read-only", "rm", "--yes", f"sysv-shm:{host.shm.id}"), 3, "refused", "read-only")
    check(nonroot_cli.run("--read-only", "kill", "--yes", str(host.holder.pid)), 3, "refused")
    check(nonroot_cli.run("--read-only", "clean", "--yes"), 3, "refused")


def test_clean_cannot_remove_roots_stale_objects(posix_shm, cleanup: Cleanup, nonroot_cli: NonRootCli) -> None:
    hidden, _ = posix_shm()  # stale to root; to 65534 its holders are invisible, so it is not called stale
    path = f"/tmp/{unique_name('.sock')}"  # a socket file nobody listens on: stale to anyone, removable by root only
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(path)
    cleanup.add(lambda: os.unlink(path))
    check(nonroot_cli.run("clean"), 0, "nothing was removed", path)
    result = nonroot_cli.run("clean", "--yes")
    offered = [line for line in result.stdout.splitlines() if line.startswith("[x] ")]  # other users' leftovers
    check(result, 1 if offered else 0)  # ours is too recent to be offered (the last minute is kept)
    for line in offered:
        assert f"{line.split()[1].rstrip(':')}: permission denied" in result.stderr, line
    assert hidden not in result.stdout and os.path.exists(path)
    obj_of(f"posix-shm:{hidden}")


def owned_by_nobody() -> set[str]:
    """Everything uid 65534 owns in /dev/shm, /dev/mqueue and the SysV tables."""
    found = set()
    for directory in ("/dev/shm", "/dev/mqueue"):
        for name in os.listdir(directory) if os.path.isdir(directory) else ():
            try:
                if os.lstat(os.path.join(directory, name)).st_uid == NOBODY:
                    found.add(os.path.join(directory, name))
            except FileNotFoundError:
                pass
    for table in ("shm", "msg", "sem"):
        with open(f"/proc/sysvipc/{table}") as f:
            header = f.readline().split()
            for row in (dict(zip(header, line.split(), strict=False)) for line in f):
                if int(row["uid"]) == NOBODY:
                    found.add(f"{table}:{row['key']}")
    return found


def test_demo_runs_or_says_why_not_and_leaves_nothing(nonroot_cli: NonRootCli, cleanup: Cleanup) -> None:
    before = owned_by_nobody()
    result = nonroot_cli.run("demo", "--for", "1", timeout=120)
    check(result, result.returncode)
    assert result.returncode in (0, 1, 3), result.stderr
    assert (result.stdout + result.stderr).strip()  # it said something
    assert owned_by_nobody() <= before


def test_usage_errors_are_usage_errors(nonroot_cli: NonRootCli) -> None:
    check(nonroot_cli.run("rm", "--yes", "bogus:1"), 1)  # a ref that names nothing: already gone
    check(nonroot_cli.run("kill", "not-a-pid"), 2, "invalid")

