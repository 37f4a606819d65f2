"""`why` for waits on signals and events: real children in sigwaitinfo, in epoll on a signalfd or an eventfd, on a
self-pipe, stopped, with a signal stuck pending, and in timed waits; each released or killed at teardown."""

from __future__ import annotations

import json
import os
import signal

from ipcwatch.cli import main
from ipcwatch.scan import ScanConfig, scan
from ipcwatch.scan.waits import describe, describe_now
from tests.conftest import Cleanup, needs_root, wait_until
from tests.live.scan.test_anon import eventfd_ref
from tests.live.scan.waits.test_explain import assert_released, blocked_on, wakers
from tests.postgres import Cluster, postgres  # noqa: F401 - the fixture

pytestmark = needs_root  # reading other processes' syscall files and memory

SIGNALFD = """
import ctypes, os, select, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
signal.pthread_sigmask(signal.SIG_BLOCK, [{signals}])
sigset = (ctypes.c_ulong * 16)({mask})
sfd = libc.signalfd(-1, ctypes.byref(sigset), 0)
ep = select.epoll()
ep.register(sfd, select.EPOLLIN)
"""


def mask_of(*signals: int) -> int:
    return sum(1 << (s - 1) for s in signals)


def test_sigwaitinfo_names_the_set_and_who_may_send(spawn, capsys) -> None:
    waiter = spawn("""
        import signal, threading
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1, signal.SIGTERM])
        t = threading.Thread(target=signal.sigwaitinfo, args=([signal.SIGUSR1, signal.SIGTERM],))
        t.start()
        print(t.native_id)
        print("READY", flush=True)
        t.join()
    """)
    tid = int(waiter.lines[0])
    b = blocked_on(waiter.pid, {"pipe"})
    assert (b.tid, b.syscall, b.ref, b.timeout) == (tid, "rt_sigtimedwait", None, None)
    assert b.op == "sigwaitinfo for SIGUSR1, SIGTERM" and b.signals == ("SIGUSR1", "SIGTERM")
    assert "waits for SIGUSR1, SIGTERM: root may send it (kill)" in b.hints
    assert b.causes == () and b.wakers == ()
    assert main(["why", str(waiter.pid)]) == 0
    out = capsys.readouterr().out
    assert f"thread {tid} [S] in rt_sigtimedwait, waiting on signal SIGUSR1, SIGTERM\n" in out
    assert "could wake:   a signal (see the note)" in out
    os.kill(waiter.pid, signal.SIGUSR1)
    assert_released(waiter)


def test_a_timed_sigtimedwait_shows_its_timeout(spawn) -> None:
    waiter = spawn("""
        import signal
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
        print("READY", flush=True)
        signal.sigtimedwait([signal.SIGUSR2], 120)
    """)
    b = blocked_on(waiter.pid, {"pipe"})
    assert b.op == "sigtimedwait for SIGUSR2" and b.timeout == 120


def test_epoll_on_a_signalfd_and_a_parent_death_pipe_is_a_signal_wait(spawn, capsys) -> None:
    """PostgreSQL's latch wait in miniature: SIGURG through a signalfd, plus the read end of a pipe whose write end
    only the parent holds. The signal is what wakes it; the parent only by exiting."""
    parent = spawn(
        """
        import os, subprocess, sys
        r, w = os.pipe()
        child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(r)], pass_fds=[r])
        os.close(r)
        print(child.pid)
        print("READY", flush=True)
        sys.stdin.read()
        child.kill(); child.wait()
        """.replace("sys.argv[1]", repr(SIGNALFD.format(signals="signal.SIGURG", mask=mask_of(signal.SIGURG))
                                        + "r = int(sys.argv[1]); ep.register(r, select.EPOLLIN)\n"
                                        "print('waiting', flush=True); ep.poll(300)\n"))
    )
    backend = int(parent.lines[0])
    b = blocked_on(backend, {"pipe", "signalfd"})
    assert b.syscall in ("epoll_wait", "epoll_pwait") and b.timeout == 300
    assert b.ref is not None and b.ref.startswith(f"signalfd:{backend}:") and b.signals == ("SIGURG",)
    assert b.refs[1].startswith("pipe:")
    assert b.op.startswith(f"{b.syscall} on a signalfd (SIGURG); {b.syscall} for reading (pipe empty)")
    assert "waits for SIGURG through its signalfd: root may send it (kill)" in b.hints
    why_parent = "its parent, holds the write end: it wakes this wait by writing or by exiting"
    assert wakers(b)[parent.pid].startswith(why_parent)
    assert b.causes == ()
    assert main(["why", str(backend), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["blocked"][0]["signals"] == ["SIGURG"] and data["blocked"][0]["timeout"] == 300


def test_epoll_on_an_eventfd_names_its_other_holders(spawn, cleanup: Cleanup) -> None:
    efd = os.eventfd(0)
    cleanup.add(lambda: os.close(efd))
    waiter = spawn(
        f"""
        import os, select
        ep = select.epoll()
        ep.register({efd}, select.EPOLLIN)
        print("READY", flush=True)
        ep.poll()
        """,
        pass_fds=[efd],
    )
    ref = eventfd_ref(efd)
    b = blocked_on(waiter.pid, {"eventfd"}, ref)
    assert b.op.endswith("for reading (eventfd count 0)") and b.timeout is None
    assert wakers(b) == {os.getpid(): f"holds the eventfd: a write to it wakes this wait (fd {efd})"}
    assert b.causes == ()
    os.eventfd_write(efd, 1)
    assert_released(waiter)


def test_a_self_pipe_in_a_poll_set_is_a_wait_for_a_signal_not_a_dead_partner(spawn) -> None:
    waiter = spawn("""
        import os, select, signal
        r, w = os.pipe()
        signal.signal(signal.SIGUSR1, lambda *_: os.write(w, b"x"))
        print("READY", flush=True)
        select.select([r], [], [])
    """)
    b = blocked_on(waiter.pid, {"pipe"})
    assert b.causes == () and b.wakers == ()
    assert any(h.startswith("a self-pipe: only this process holds either end") for h in b.hints), b.hints
    os.kill(waiter.pid, signal.SIGUSR1)
    assert_released(waiter)


def test_a_stopped_process_needs_sigcont_and_a_blocked_pending_signal_is_flagged(spawn, capsys) -> None:
    child = spawn("""
        import signal, sys
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
        print("READY", flush=True)
        sys.stdin.read()
    """)
    os.kill(child.pid, signal.SIGUSR2)  # blocked by its only thread: it stays pending
    os.kill(child.pid, signal.SIGSTOP)
    try:

        def stopped() -> object:
            snap = scan(ScanConfig(kinds=frozenset({"pipe"})))
            report = describe(snap, child.pid)
            return (snap, report) if report.others and report.others[0][1].startswith("stopped") else None

        snap, report = wait_until(stopped, timeout=20)  # type: ignore[misc]
        assert report.others == ((child.pid, "stopped: it needs SIGCONT to go on"),)
        stop_note = f"stopped: it needs SIGCONT to go on (kill -CONT {child.pid})"
        assert report.notes == (stop_note,)  # describe reads only the snapshot
        pending = "SIGUSR2 pending but blocked by every thread: it stays pending until a thread unblocks it"
        assert describe_now(snap, child.pid).notes == (stop_note, pending)  # read now from the live process
        assert main(["why", str(child.pid)]) == 0
        out = capsys.readouterr().out
        assert f"{child.pid} (" in out and "): not blocked on IPC: stopped: it needs SIGCONT to go on" in out
        assert "SIGUSR2 pending but blocked by every thread" in out
    finally:
        os.kill(child.pid, signal.SIGCONT)


def test_a_timed_poll_says_it_is_not_stuck(spawn, capsys) -> None:
    waiter = spawn("""
        import os, select
        r, w = os.pipe()
        p = select.poll(); p.register(r, select.POLLIN)
        print("READY", flush=True)
        p.poll(120_000)
    """)
    b = blocked_on(waiter.pid, {"pipe"})
    assert b.syscall == "poll" and b.timeout == 120
    assert main(["why", str(waiter.pid)]) == 0
    out = capsys.readouterr().out
    assert "in poll, 120 s timeout, waiting on pipe:" in out
    assert "timeout:      120 s: a timed wait returns by itself, it is not stuck" in out


def test_a_postgres_backend_on_a_row_lock_waits_for_sigurg_through_its_signalfd(
    postgres: Cluster,  # noqa: F811 - the fixture
    capsys,
) -> None:
    """The real case: PostgreSQL 15's latch is a signalfd for SIGURG, next to the postmaster-death pipe. `why`
    leads with the signal (which the lock holder's backend sends when it commits), not the postmaster."""
    holder, waiter = postgres.row_lock()
    b = blocked_on(waiter.backend_pid, {"pipe", "signalfd", "eventfd", "unix"})
    assert b.ref is not None and b.ref.startswith(f"signalfd:{waiter.backend_pid}:")
    assert b.signals == ("SIGURG",) and b.causes == ()
    assert b.op.startswith(f"{b.syscall} on a signalfd (SIGURG)")
    assert "waits for SIGURG through its signalfd: any process of user postgres, or root, may send it (kill)" in b.hints
    # the postmaster-death pipe: the postmaster holds its write end and wakes the backend only by exiting
    assert wakers(b)[postgres.postmaster_pid].startswith("its parent, holds the write end")
    assert main(["why", str(waiter.backend_pid)]) == 0
    out = capsys.readouterr().out
    assert f"waiting on signalfd:{waiter.backend_pid}:" in out and "signals:      SIGURG" in out
    holder.send("COMMIT;")  # the holder's backend sets the waiter's latch: SIGURG, and the UPDATE goes on
    assert waiter.query("SELECT 'updated';") == "updated"


def test_a_wait_for_sigchld_names_the_children(spawn) -> None:
    waiter = spawn("""
        import signal, subprocess, sys
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
        child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
        print(child.pid)
        print("READY", flush=True)
        signal.sigwaitinfo([signal.SIGCHLD])
    """)
    grandchild = int(waiter.lines[0])
    b = blocked_on(waiter.pid, {"pipe"})
    assert b.signals == ("SIGCHLD",)
    assert wakers(b)[grandchild] == "its child: exiting or stopping sends SIGCHLD"
    os.kill(grandchild, signal.SIGKILL)  # the child exits: SIGCHLD ends the wait
    assert_released(waiter)
