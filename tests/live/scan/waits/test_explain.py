"""`ipcwatch why`: real children blocked on purpose in every kind of IPC wait, named, explained, then released.

Each child prints READY and then blocks; the tests poll the scan until the wait shows (a child needs a moment
to fall asleep). Every child is killed and reaped at teardown (conftest `cleanup`), every object removed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable

import pytest
import sysv_ipc

from ipcwatch.cli import main
from ipcwatch.record import replace
from ipcwatch.scan import ScanConfig, Snapshot, scan
from ipcwatch.scan.waits import BlockedThread, blocked_threads, describe, explain
from ipcwatch.scan.waits.analysis import analyse
from ipcwatch.scan.waits.records import WRITER, Target
from tests.conftest import Child, Cleanup, needs_root, obj_of, wait_until

pytestmark = needs_root  # reading other processes' syscall files and memory needs ptrace rights


@pytest.fixture
def spawn_fds(spawn: Callable[..., Child]) -> Callable[..., Child]:
    """`spawn` with the inherited fds as a second positional argument."""
    return lambda code, fds=(): spawn(code, pass_fds=fds)


class Pipe:
    """An anonymous pipe for children to inherit; `close` drops the test's own ends (once)."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self.inode = os.fstat(self.r).st_ino
        self._open = [self.r, self.w]

    def close(self) -> None:
        while self._open:
            os.close(self._open.pop())


@pytest.fixture
def pipe(cleanup: Cleanup) -> Pipe:
    p = Pipe()
    cleanup.add(p.close)
    return p


def blocked_on(pid: int, kinds: Iterable[str], ref: str | None = None, **config: object) -> BlockedThread:
    """Scan until a thread of pid shows as blocked (on `ref`, when given); return it."""

    def probe() -> BlockedThread | None:
        snap = scan(ScanConfig(kinds=frozenset(kinds), **config))  # type: ignore[arg-type]
        return next((b for b in explain(snap, pid) if ref is None or b.ref == ref), None)

    return wait_until(probe, timeout=20, interval=0.05)  # type: ignore[return-value]


def comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().rstrip("\n")


def wakers(b: BlockedThread) -> dict[int, str]:
    return {w.pid: w.why for w in b.wakers}


def assert_released(child: Child, code: int = 0) -> None:
    """The child's wait ended for real: it finished by itself."""
    assert child.proc.wait(timeout=20) == code


SEM_OPERATOR = """
    import sys, sysv_ipc
    sem = sysv_ipc.Semaphore({key})
    sem.release(); sem.acquire(timeout=0)  # net zero, but this process is now the last operator of sem 0
    print("READY", flush=True)
    {after}
"""


# --- each kind of wait ----------------------------------------------------------------------------------------


def test_semop_on_a_zero_sysv_semaphore(spawn, sysv_sem) -> None:
    sem = sysv_sem(initial=0)
    operator = spawn(SEM_OPERATOR.format(key=sem.key, after="sys.stdin.read()"))
    waiter = spawn(f"""
        import sysv_ipc
        sem = sysv_ipc.Semaphore({sem.key})
        print("READY", flush=True)
        sem.acquire()
    """)
    b = blocked_on(waiter.pid, {"sysv-sem"}, f"sysv-sem:{sem.id}")
    assert b.op == "semop sem 0 -1 (wait)"
    assert b.syscall in ("semop", "semtimedop") and b.state == "S" and b.tid == waiter.pid
    assert wakers(b) == {operator.pid: "last operated on sem 0"}
    assert b.causes == ()
    assert b.waiting_since is not None and time.time() - 60 < b.waiting_since <= time.time() + 1
    sem.release()
    assert_released(waiter)


def test_msgrcv_on_an_empty_sysv_queue(spawn, sysv_msg) -> None:
    mq = sysv_msg()
    mq.send(b"x", type=1)
    mq.receive(type=1)  # empty again; this test process is the last sender
    waiter = spawn(f"""
        import sysv_ipc
        mq = sysv_ipc.MessageQueue({mq.key})
        print("READY", flush=True)
        mq.receive(type=5)
    """)
    b = blocked_on(waiter.pid, {"sysv-msg"}, f"sysv-msg:{mq.id}")
    assert b.op == "msgrcv type 5" and b.syscall == "msgrcv"
    assert wakers(b) == {os.getpid(): "last sent to this queue"}
    mq.send(b"wake", type=5)
    assert_released(waiter)


def test_msgsnd_on_a_full_sysv_queue(spawn, sysv_msg) -> None:
    mq = sysv_msg()
    with pytest.raises(sysv_ipc.BusyError):
        for _ in range(100_000):
            mq.send(b"x" * 1024, block=False)
    mq.receive()
    mq.send(b"x" * 1024, block=False)  # full again; this test process is the last receiver
    waiter = spawn(f"""
        import sysv_ipc
        mq = sysv_ipc.MessageQueue({mq.key})
        print("READY", flush=True)
        mq.send(b"y" * 1024)
    """)
    b = blocked_on(waiter.pid, {"sysv-msg"}, f"sysv-msg:{mq.id}")
    assert b.op == "msgsnd (queue full)"
    assert wakers(b) == {os.getpid(): "last received from this queue"}
    mq.receive()
    assert_released(waiter)


def test_mq_receive_on_an_empty_posix_queue(spawn, posix_mq) -> None:
    name, mq = posix_mq()  # this test process keeps it open for reading and writing
    waiter = spawn(f"""
        import posix_ipc
        mq = posix_ipc.MessageQueue("/{name}")
        print("READY", flush=True)
        mq.receive()
    """)
    b = blocked_on(waiter.pid, {"posix-mq"}, f"posix-mq:{name}")
    assert b.op == "mq_receive (queue empty)" and b.syscall == "mq_timedreceive"
    assert wakers(b)[os.getpid()].startswith("has the queue open for writing (fd ")
    mq.send(b"wake")
    assert_released(waiter)


def test_read_on_an_empty_pipe_names_the_writer(spawn_fds, pipe) -> None:
    writer = spawn_fds(
        f"import os, sys; print('READY', flush=True); sys.stdin.read(); os.write({pipe.w}, b'x')", [pipe.w]
    )
    reader = spawn_fds(f"import os; print('READY', flush=True); os.read({pipe.r}, 1)", [pipe.r])
    pipe.close()
    b = blocked_on(reader.pid, {"pipe"}, f"pipe:{pipe.inode}")
    assert b.op == "read (pipe empty)" and b.syscall == "read"
    assert wakers(b) == {writer.pid: f"holds the write end (fd {pipe.w})"}
    assert b.causes == ()
    assert "0 of 65536 bytes queued" in b.hints
    writer.proc.stdin.close()  # the writer writes one byte and exits
    assert_released(reader)


def test_write_on_a_full_pipe_names_the_reader(spawn_fds, pipe) -> None:
    reader = spawn_fds("import sys; print('READY', flush=True); sys.stdin.read()", [pipe.r])
    writer = spawn_fds(f"import os; print('READY', flush=True); os.write({pipe.w}, b'x' * (1 << 20))", [pipe.w])
    pipe.close()
    b = blocked_on(writer.pid, {"pipe"}, f"pipe:{pipe.inode}")
    assert b.op == "write (pipe full)"
    assert wakers(b) == {reader.pid: f"holds the read end (fd {pipe.r})"}
    assert any(h.endswith("bytes queued") for h in b.hints)


def test_open_of_a_fifo_with_no_writer_is_a_dead_partner(spawn, make_fifo, fifo_dir) -> None:
    path = make_fifo()
    waiter = spawn(f"print('READY', flush=True); open({path!r}, 'rb')")
    b = blocked_on(waiter.pid, {"fifo"}, f"fifo:{path}", file_dirs=(fifo_dir,))
    assert b.op == "open FIFO for reading (no writer)" and b.syscall in ("openat", "open")
    assert b.label == path and b.wchan in ("wait_for_partner", "fifo_open")
    assert b.causes == ("dead partner: no process has the FIFO open for writing",)
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # a writer appears: the open returns
    try:
        assert_released(waiter)
    finally:
        os.close(fd)


def test_accept_on_a_unix_listener(spawn, fifo_dir) -> None:
    path = os.path.join(fifo_dir, "listener.sock")
    waiter = spawn(f"""
        import os, socket
        s = socket.socket(socket.AF_UNIX)
        s.bind({path!r}); s.listen()
        print(os.fstat(s.fileno()).st_ino)
        print("READY", flush=True)
        s.accept()
    """)
    inode = int(waiter.lines[0])
    b = blocked_on(waiter.pid, {"unix"}, f"unix:{inode}", file_dirs=(fifo_dir,))
    assert b.op == "accept" and b.syscall in ("accept", "accept4")
    assert b.label == path and b.wakers == () and b.causes == ()
    assert f"any process that connects to {path} would wake it" in b.hints
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(path)
        assert_released(waiter)


def test_recv_on_a_connected_unix_socket_names_the_peer(spawn_fds, cleanup) -> None:
    mine, theirs = socket.socketpair()
    cleanup.add(mine.close)
    cleanup.add(theirs.close)
    fd, peer_fd = mine.fileno(), theirs.fileno()
    inode, peer_inode = os.fstat(fd).st_ino, os.fstat(peer_fd).st_ino
    peer = spawn_fds(
        f"import os, sys; print('READY', flush=True); sys.stdin.read(); os.write({peer_fd}, b'x')", [peer_fd]
    )
    receiver = spawn_fds(f"import socket; s = socket.socket(fileno={fd}); print('READY', flush=True); s.recv(1)", [fd])
    mine.close()
    theirs.close()
    b = blocked_on(receiver.pid, {"unix"}, f"unix:{inode}")
    assert b.op == "recv (nothing received)" and b.syscall in ("recvfrom", "recvmsg")
    assert wakers(b) == {peer.pid: f"holds the other end (unix:{peer_inode}) (fd {peer_fd})"}
    peer.proc.stdin.close()
    assert_released(receiver)


def test_sem_wait_on_a_posix_named_semaphore(spawn, posix_sem) -> None:
    name, sem = posix_sem(initial=0)  # this test process keeps it open (mapped)
    waiter = spawn(f"""
        import posix_ipc
        sem = posix_ipc.Semaphore("/{name}")
        print("READY", flush=True)
        sem.acquire()
    """)
    b = blocked_on(waiter.pid, {"posix-sem"}, f"posix-sem:{name}")
    assert b.op == "futex wait on sem" and b.syscall in ("futex", "futex_wait")
    assert wakers(b) == {os.getpid(): "has the semaphore open (mapped)"}
    sem.release()
    assert_released(waiter)


@pytest.mark.parametrize(
    ("call", "syscalls"),
    [
        ("p = select.poll(); p.register({r}, select.POLLIN); p.poll()", ("poll", "ppoll")),
        ("select.select([{r}], [], [])", ("select", "pselect6")),
        ("e = select.epoll(); e.register({r}, select.EPOLLIN); e.poll()", ("epoll_wait", "epoll_pwait")),
    ],
    ids=["poll", "select", "epoll"],
)
def test_poll_select_epoll_on_a_pipe(spawn_fds, pipe, call: str, syscalls: tuple[str, ...]) -> None:
    writer = spawn_fds("import sys; print('READY', flush=True); sys.stdin.read()", [pipe.w])
    waiter = spawn_fds(f"import select; print('READY', flush=True); {call.format(r=pipe.r)}", [pipe.r])
    pipe.close()
    b = blocked_on(waiter.pid, {"pipe"}, f"pipe:{pipe.inode}")
    assert b.syscall in syscalls
    assert b.op == f"{b.syscall} for reading (pipe empty)"
    assert wakers(b) == {writer.pid: f"holds the write end (fd {pipe.w})"}


# --- likely causes ------------------------------------------------------------------------------------------


def test_semaphore_whose_last_operator_exited_is_a_dead_partner(spawn, sysv_sem) -> None:
    sem = sysv_sem(initial=0)
    gone = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(SEM_OPERATOR.format(key=sem.key, after="import os; print(os.getpid())")),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    gone_pid = int(gone.stdout.split()[-1])
    waiter = spawn(f"import sysv_ipc; s = sysv_ipc.Semaphore({sem.key}); print('READY', flush=True); s.acquire()")
    b = blocked_on(waiter.pid, {"sysv-sem"}, f"sysv-sem:{sem.id}")
    assert b.wakers == ()
    assert b.causes == (f"dead partner: the last process to operate on sem 0 (pid {gone_pid}) has exited",)


def test_queue_whose_last_sender_exited_is_a_dead_partner(spawn, sysv_msg) -> None:
    mq = sysv_msg()
    code = f"import os, sysv_ipc; sysv_ipc.MessageQueue({mq.key}).send(b'not five', type=1); print(os.getpid())"
    gone_pid = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    waiter = spawn(
        f"import sysv_ipc; q = sysv_ipc.MessageQueue({mq.key}); print('READY', flush=True); q.receive(type=5)"
    )
    b = blocked_on(waiter.pid, {"sysv-msg"}, f"sysv-msg:{mq.id}")
    assert b.op == "msgrcv type 5" and b.wakers == ()
    assert b.causes == (f"dead partner: the queue's last sender (pid {gone_pid}) has exited",)
    assert "1 message(s) queued" in b.hints


def test_reading_a_pipe_only_the_reader_can_write_is_a_dead_partner(spawn) -> None:
    waiter = spawn("import os; r, w = os.pipe(); print('READY', flush=True); os.read(r, 1)")
    b = blocked_on(waiter.pid, {"pipe"})
    assert b.op == "read (pipe empty)" and b.wakers == ()
    assert b.causes == (
        "dead partner: no other process holds the write end; only this process does, and it is waiting",
    )


def test_a_write_end_in_flight_in_a_unix_socket_is_not_a_dead_partner(spawn_fds, pipe, cleanup) -> None:
    """The only write end sits in a unix socket's queue (sent with SCM_RIGHTS, never received, the sender's copy
    closed): no process holds it, yet the reader is blocked, which proves it is open. Not a dead partner."""
    a, b = socket.socketpair()
    cleanup.add(a.close)
    cleanup.add(b.close)
    socket.send_fds(a, [b"w"], [pipe.w])
    waiter = spawn_fds(f"import os; print('READY', flush=True); os.read({pipe.r}, 1)", [pipe.r])
    pipe.close()
    ref = f"pipe:{pipe.inode}"
    blocked = blocked_on(waiter.pid, {"pipe", "unix"}, ref)
    assert blocked.op == "read (pipe empty)" and blocked.wakers == () and blocked.causes == ()
    assert any(
        h.startswith("no visible process holds the write end, yet the wait proves it is open")
        and "in flight in a unix socket's queue" in h
        for h in blocked.hints
    ), blocked.hints
    assert [h.mode for h in obj_of(ref).holders] == ["r"]
    _, fds, _, _ = socket.recv_fds(b, 1, 1)  # the write end arrives: write through it and the reader goes on
    cleanup.add(lambda: [os.close(fd) for fd in fds])
    os.write(fds[0], b"x")
    assert_released(waiter)


def test_two_process_wait_cycle(spawn_fds, pipe, sysv_sem) -> None:
    """A reads a pipe only B writes; B waits on a semaphore only A operated on: A -> B -> A."""
    sem = sysv_sem(initial=0)
    a = spawn_fds(SEM_OPERATOR.format(key=sem.key, after=f"import os; os.read({pipe.r}, 1)"), [pipe.r])
    b = spawn_fds(
        f"""
        import sysv_ipc
        sem = sysv_ipc.Semaphore({sem.key})
        print("READY", flush=True)
        sem.acquire()
    """,
        [pipe.w],
    )
    pipe.close()

    def both() -> list[BlockedThread] | None:
        found = blocked_threads(scan(ScanConfig(kinds=frozenset({"pipe", "sysv-sem"}))))
        mine = [x for x in found if x.pid in (a.pid, b.pid)]
        return mine if len(mine) == 2 and all(x.causes for x in mine) else None

    a_wait, b_wait = sorted(wait_until(both, timeout=20, interval=0.05), key=lambda x: x.pid != a.pid)  # type: ignore[arg-type]
    assert a_wait.ref == f"pipe:{pipe.inode}" and wakers(a_wait) == {b.pid: f"holds the write end (fd {pipe.w})"}
    assert b_wait.ref == f"sysv-sem:{sem.id}" and wakers(b_wait) == {a.pid: "last operated on sem 0"}
    a_, b_ = f"{a.pid} ({comm(a.pid)})", f"{b.pid} ({comm(b.pid)})"
    assert a_wait.causes == (f"wait cycle: {a_} -> {b_} -> {a_}",)
    assert b_wait.causes == (f"wait cycle: {b_} -> {a_} -> {b_}",)
    sem.release()  # break the cycle: B goes on and exits, A stays blocked on the pipe whose writer is now gone
    assert_released(b)


def test_a_thread_of_a_threaded_process_waiting_on_its_own_pipe(spawn) -> None:
    """Another thread of the same process could still write: a hint, not a dead partner."""
    waiter = spawn("""
        import os, threading, time
        r, w = os.pipe()
        reader = threading.Thread(target=os.read, args=(r, 1), daemon=True)
        reader.start()
        print(reader.native_id)
        print("READY", flush=True)
        time.sleep(600)
    """)
    tid = int(waiter.lines[0])
    b = blocked_on(waiter.pid, {"pipe"})
    assert (b.tid, b.op, b.causes) == (tid, "read (pipe empty)", ())
    assert "only this process holds the write end: another of its threads would have to act" in b.hints
    snap = scan(ScanConfig(kinds=frozenset({"pipe"})))
    report = describe(snap, waiter.pid)
    assert [x.tid for x in report.blocked] == [tid]
    assert describe(snap, tid) == report  # a thread id names its process
    assert report.others in (((waiter.pid, "sleeping in clock_nanosleep"),), ((waiter.pid, "sleeping in nanosleep"),))


# --- not blocked on IPC -------------------------------------------------------------------------------------


def test_a_busy_process_is_running_not_blocked(spawn) -> None:
    busy = spawn("print('READY', flush=True)\nwhile True: pass")
    report = describe(scan(ScanConfig(kinds=frozenset({"pipe"}))), busy.pid)
    assert report.blocked == ()
    assert report.others == ((busy.pid, "running"),)


def test_a_sleeping_process_is_not_blocked_on_ipc(spawn) -> None:
    sleeper = spawn("import time; print('READY', flush=True); time.sleep(600)")

    def sleeping() -> object:
        report = describe(scan(ScanConfig(kinds=frozenset({"pipe"}))), sleeper.pid)
        return report if report.others and "nanosleep" in report.others[0][1] else None

    report = wait_until(sleeping, timeout=20, interval=0.05)
    assert report.blocked == ()  # type: ignore[attr-defined]
    assert report.others in (((sleeper.pid, "sleeping in clock_nanosleep"),), ((sleeper.pid, "sleeping in nanosleep"),))  # type: ignore[attr-defined]


def test_a_snapshot_without_this_scans_samples_still_lists_waiters(spawn) -> None:
    waiter = spawn("import os; r, w = os.pipe(); print('READY', flush=True); os.read(r, 1)")
    blocked_on(waiter.pid, {"pipe"})
    snap = scan(ScanConfig(kinds=frozenset({"pipe"})))
    copy = Snapshot(objects=snap.objects, processes={pid: replace(p) for pid, p in snap.processes.items()})
    found = explain(copy, waiter.pid)
    assert [(b.ref, b.op, b.syscall) for b in found] == [(explain(snap, waiter.pid)[0].ref, "read (pipe empty)", "?")]


# --- the CLI ------------------------------------------------------------------------------------------------


def test_cli_explains_a_blocked_process(spawn, sysv_sem, capsys) -> None:
    sem = sysv_sem(initial=0)
    operator = spawn(SEM_OPERATOR.format(key=sem.key, after="sys.stdin.read()"))
    waiter = spawn(f"""
        import ctypes, sysv_ipc
        ctypes.CDLL(None).prctl(15, b"evil\x1b]0;pwned\x07")  # PR_SET_NAME: a hostile comm
        sem = sysv_ipc.Semaphore({sem.key})
        print("READY", flush=True)
        sem.acquire()
    """)
    blocked_on(waiter.pid, {"sysv-sem"}, f"sysv-sem:{sem.id}")
    assert main(["why", str(waiter.pid)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert f"{waiter.pid} (evil\\x1b]0;pwned\\x07): 1 thread(s) blocked on IPC" in out
    assert f"waiting on sysv-sem:{sem.id} (0x{sem.key:08x})" in out
    assert "operation:    semop sem 0 -1 (wait)" in out
    assert f"could wake:   {operator.pid} ({comm(operator.pid)}): last operated on sem 0" in out

    assert main(["why", str(waiter.pid), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pid"] == waiter.pid and data["comm"] == "evil\\x1b]0;pwned\\x07"
    (thread,) = data["blocked"]
    assert thread["ref"] == f"sysv-sem:{sem.id}" and thread["op"] == "semop sem 0 -1 (wait)"
    assert [w["pid"] for w in thread["wakers"]] == [operator.pid]


def test_cli_says_when_a_process_is_not_blocked_on_ipc(spawn, capsys) -> None:
    sleeper = spawn("import time; print('READY', flush=True); time.sleep(600)")
    wait_until(lambda: "nanosleep" in describe(scan(ScanConfig(kinds=frozenset())), sleeper.pid).others[0][1])
    assert main(["why", str(sleeper.pid)]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith(": not blocked on IPC: sleeping in clock_nanosleep") or out.strip().endswith(
        ": not blocked on IPC: sleeping in nanosleep"
    )


def test_cli_rejects_a_missing_process(capsys) -> None:
    pid = 1 << 22 | 12345  # above the default pid_max: never a live process
    assert main(["why", str(pid)]) == 1
    assert f"no such process: {pid}" in capsys.readouterr().err
    assert main(["why", "0"]) == 2


def test_list_json_shows_the_waiter(spawn, capsys) -> None:
    waiter = spawn("import os; r, w = os.pipe(); print('READY', flush=True); os.read(r, 1)")
    b = blocked_on(waiter.pid, {"pipe"})
    assert main(["list", "--kind", "pipe", "--json"]) == 0
    objects = {o["ref"]: o for o in json.loads(capsys.readouterr().out)["objects"]}
    assert {"pid": waiter.pid, "tid": waiter.pid, "op": "read (pipe empty)"} in objects[b.ref]["waiters"]
    assert objects[b.ref]["stale"] is False


def test_without_ptrace_rights_it_says_so_and_never_guesses(spawn, nonroot_cli) -> None:
    """An unprivileged user cannot read root's syscall files: `why` says so instead of guessing."""
    sleeper = spawn("import time; print('READY', flush=True); time.sleep(600)")
    result = nonroot_cli.run("why", str(sleeper.pid))
    out = result.stdout
    assert result.returncode == 0, (out, result.stderr)
    assert (
        out.strip()
        == f"{sleeper.pid} ({comm(sleeper.pid)}): could not read syscall file of {sleeper.pid} (permission denied)"
    )


def test_nobody_holding_it_is_only_a_dead_partner_when_every_fd_table_was_read() -> None:
    """With processes whose fds could not be read, "no process has the FIFO open" is a hint, never a cause."""
    target = Target("file:1:2", "fifo", WRITER, "open FIFO for reading (no writer)", label="/run/x.fifo")
    snap = Snapshot(objects=(), processes={})
    complete = analyse(snap, 42, target, None, lone=True, unreadable=0)
    assert complete.dead == ["dead partner: no process has the FIFO open for writing"] and complete.hints == []
    partial = analyse(snap, 42, target, None, lone=True, unreadable=3)
    assert partial.dead == []
    assert partial.hints == [
        "no process has the FIFO open for writing among the visible processes; 3 processes' fds could not be read"
    ]
