"""A listening unix socket's queue counts connections, not bytes: a real listener with clients not yet accepted."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from ipcwatch.commands import list as list_cmd
from ipcwatch.views import COLUMNS
from tests.conftest import scan_kinds, wait_until

BACKLOG = 4

LISTENER = """
import os, socket, sys
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind({path!r})
srv.listen({backlog})
print(os.fstat(srv.fileno()).st_ino, srv.fileno())
print("READY", flush=True)
held = []
for line in sys.stdin:  # one connection accepted per line received
    conn, _ = srv.accept()
    held.append(conn)
    print("ACCEPTED", flush=True)
"""

CLIENTS = """
import os, socket, sys
clients = []
for _ in range({count}):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect({path!r})
    clients.append(c)
    print(os.fstat(c.fileno()).st_ino, c.fileno())
print("READY", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def listener(fifo_dir, spawn):
    """(listener child, its socket inode, client child, {client inode: fd}) with 2 clients not yet accepted."""
    path = os.path.join(fifo_dir, "backlog.sock")
    server = spawn(LISTENER.format(path=path, backlog=BACKLOG))
    inode = int(server.lines[0].split()[0])
    clients = spawn(CLIENTS.format(path=path, count=2))
    client_fds = {int(ino): int(fd) for ino, fd in (line.split() for line in clients.lines)}
    return server, inode, clients, client_fds


def test_listener_reports_pending_connections_and_backlog(listener, fifo_dir):
    server, inode, clients, client_fds = listener
    obj = scan_kinds("unix", file_dirs=(fifo_dir,)).get(f"unix:{inode}")
    assert obj is not None and obj.info.state == "listen"
    assert (obj.info.pending_connections, obj.info.backlog) == (2, BACKLOG)
    # no byte counts for a listener: its queue lengths are connection counts
    assert (obj.info.recv_queue, obj.info.send_queue, obj.size) == (None, None, None)

    waiting = {c.inode: c.holders for c in obj.info.waiting_clients}
    assert set(waiting) == set(client_fds)
    for client_inode, fd in client_fds.items():
        assert [(h.pid, h.fd) for h in waiting[client_inode]] == [(clients.pid, fd)]

    cells = {c.title: c.cell(obj) for c in COLUMNS["unix"]}
    assert (cells["RECV-Q"], cells["SEND-Q"]) == (f"2 of {BACKLOG} pending", "-")

    # accepting one connection takes it off the queue (the count is live, not a constant)
    assert server.proc.stdin is not None and server.proc.stdout is not None
    server.proc.stdin.write("accept\n")
    server.proc.stdin.flush()
    assert server.proc.stdout.readline().strip() == "ACCEPTED"
    after = wait_until(
        lambda: (o := scan_kinds("unix", file_dirs=(fifo_dir,)).get(f"unix:{inode}")) is not None
        and o.info.pending_connections == 1
        and o
    )
    assert len(after.info.waiting_clients) == 1
    assert after.info.waiting_clients[0].inode in client_fds


def test_list_command_shows_connections_not_bytes(listener, capsys):
    _server, inode, _clients, client_fds = listener
    args = argparse.Namespace(kind=["unix"], stale=False, json=True)
    assert list_cmd.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    shown = next(o for o in data["objects"] if o["ref"] == f"unix:{inode}")
    assert (shown["pending_connections"], shown["backlog"]) == (2, BACKLOG)
    assert {c["inode"] for c in shown["waiting_clients"]} == set(client_fds)

    assert list_cmd.run(argparse.Namespace(kind=["unix"], stale=False, json=False)) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.split()[:1] == [str(inode)])
    assert f"2 of {BACKLOG} pending" in line


def test_connected_socket_still_shows_bytes(fifo_dir, spawn):
    path = os.path.join(fifo_dir, "bytes.sock")
    child = spawn(
        f"""
        import os, socket, sys
        srv = socket.socket(socket.AF_UNIX)
        srv.bind({path!r})
        srv.listen()
        cli = socket.socket(socket.AF_UNIX)
        cli.connect({path!r})
        conn, _ = srv.accept()
        cli.send(b"x" * 3000)
        print(os.fstat(conn.fileno()).st_ino)
        print("READY", flush=True)
        sys.stdin.read()
        """
    )
    obj = scan_kinds("unix", file_dirs=(fifo_dir,)).get(f"unix:{child.lines[0]}")
    assert obj.info.recv_queue == 3000 and obj.size == 3000
    assert obj.info.pending_connections is None and obj.info.waiting_clients is None
    cells = {c.title: c.cell(obj) for c in COLUMNS["unix"]}
    assert (cells["RECV-Q"], cells["SEND-Q"]) == ("2.9K", "0B")
