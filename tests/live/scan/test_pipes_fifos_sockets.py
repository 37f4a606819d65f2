"""FIFOs, anonymous pipes and unix sockets in the scan (real objects in child processes)."""

from __future__ import annotations

import os
import socket

import pytest

from ipcwatch.scan import unix
from tests.conftest import scan_kinds, unique_name, wait_until


def _fifo_scan(fifo_dir: str):
    return scan_kinds("fifo", file_dirs=(fifo_dir,))


def test_fifo_readers_writers_and_queued_bytes(make_fifo, fifo_dir, spawn):
    path = make_fifo()
    reader = spawn(
        f"""
        import os, sys
        fd = os.open({path!r}, os.O_RDONLY | os.O_NONBLOCK)
        print(fd)
        print("READY", flush=True)
        sys.stdin.read()
        """
    )
    writer = spawn(
        f"""
        import os, sys
        fd = os.open({path!r}, os.O_WRONLY)
        os.write(fd, b"12345")
        print(fd)
        print("READY", flush=True)
        sys.stdin.read()
        """
    )
    obj = _fifo_scan(fifo_dir).get(f"fifo:{path}")
    assert obj is not None
    assert (obj.info.readers, obj.info.writers) == (1, 1)
    assert obj.info.queued == 5 and obj.info.capacity >= 4096
    holds = {(h.pid, h.fd, h.mode) for h in obj.holders}
    assert holds == {(reader.pid, int(reader.lines[0]), "r"), (writer.pid, int(writer.lines[0]), "w")}
    assert not obj.stale
    # measuring did not consume anything
    assert _fifo_scan(fifo_dir).get(f"fifo:{path}").info.queued == 5


def test_fifo_with_no_opener_is_stale_and_removal_is_seen(make_fifo, fifo_dir):
    path = make_fifo()
    obj = _fifo_scan(fifo_dir).get(f"fifo:{path}")
    assert obj is not None and obj.stale and obj.stale_reason == "FIFO with no opener"
    assert obj.info.queued is None  # never opened by us: that would release a blocked writer
    os.unlink(path)
    assert _fifo_scan(fifo_dir).get(f"fifo:{path}") is None


PIPE_CHILD = """
import os, sys
r, w = os.pipe()
os.write(w, b"abc")
print(os.fstat(r).st_ino)
print(r)
print(w)
{extra}
print("READY", flush=True)
sys.stdin.read()
"""


def test_pipe_ends_and_fill(spawn):
    child = spawn(PIPE_CHILD.format(extra=""))
    inode, rfd, wfd = (int(x) for x in child.lines)
    obj = scan_kinds("pipe").get(f"pipe:{inode}")
    assert obj is not None
    assert {(h.pid, h.fd, h.mode) for h in obj.holders} == {(child.pid, rfd, "r"), (child.pid, wfd, "w")}
    assert (obj.info.readers, obj.info.writers, obj.info.queued) == (1, 1, 3)
    assert not obj.stale
    child.stop()
    assert scan_kinds("pipe").get(f"pipe:{inode}") is None


def test_pipe_with_writer_but_no_reader_is_stale(spawn):
    child = spawn(PIPE_CHILD.format(extra="os.close(r)"))
    inode = int(child.lines[0])
    obj = scan_kinds("pipe").get(f"pipe:{inode}")
    assert obj is not None and obj.stale
    assert obj.stale_reason == "pipe write end held but no reader"


SOCKET_CHILD = """
import os, socket, sys
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind({path!r})
srv.listen()
abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
abstract.bind({abstract!r})
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.connect({path!r})
conn, _ = srv.accept()
cli.send(b"pending")
for s in (srv, abstract, cli, conn):
    print(os.fstat(s.fileno()).st_ino, s.fileno())
print("READY", flush=True)
sys.stdin.read()
"""


def test_unix_sockets_listener_abstract_and_connected_pair(fifo_dir, spawn):
    path = os.path.join(fifo_dir, "srv.sock")
    abstract = "\0" + unique_name()
    child = spawn(SOCKET_CHILD.format(path=path, abstract=abstract))
    (srv, srv_fd), (abst, _), (cli, cli_fd), (conn, _) = (tuple(map(int, line.split())) for line in child.lines)
    snap = scan_kinds("unix", file_dirs=(fifo_dir,))

    listener = snap.get(f"unix:{srv}")
    assert listener.name == path
    assert listener.info.state == "listen" and listener.info.type == "stream"
    assert [(h.pid, h.fd) for h in listener.holders] == [(child.pid, srv_fd)]

    assert snap.get(f"unix:{abst}").name == "@" + abstract[1:]
    assert snap.get(f"unix:{abst}").info.abstract is True

    client = snap.get(f"unix:{cli}")
    assert client.info.peer == conn and client.info.state == "connected"
    assert [h.pid for h in client.info.peer_holders] == [child.pid]
    assert snap.get(f"unix:{conn}").info.recv_queue == 7  # "pending", not yet read

    # the bound file is not reported again as an orphan
    assert snap.get(f"unix:{path}") is None
    child.stop()
    after = scan_kinds("unix", file_dirs=(fifo_dir,))
    assert after.get(f"unix:{srv}") is None
    orphan = after.get(f"unix:{path}")
    assert orphan is not None and orphan.stale and orphan.stale_reason == "socket file with no listener"


def test_sock_diag_agrees_with_pyroute2(fifo_dir, spawn):
    pyroute2_diag = pytest.importorskip("pyroute2.netlink.diag")
    path = os.path.join(fifo_dir, "x.sock")
    child = spawn(SOCKET_CHILD.format(path=path, abstract="\0" + unique_name()))
    ours = {s.inode: s for s in unix.dump_sock_diag()}
    with pyroute2_diag.DiagSocket() as ds:
        ds.bind()
        theirs = {m["udiag_ino"]: m for m in ds.get_sock_stats(family=socket.AF_UNIX)}
    mine = [int(line.split()[0]) for line in child.lines]
    for inode in mine:
        assert inode in ours and inode in theirs
        assert ours[inode].type == theirs[inode]["udiag_type"]
        assert ours[inode].state == theirs[inode]["udiag_state"]
        assert (ours[inode].peer or 0) == (theirs[inode].get_attr("UNIX_DIAG_PEER") or 0)
    assert ours[mine[0]].name == os.fsencode(path)


def listening_socket(spawn, path: str):  # type: ignore[no-untyped-def]
    """A child listening on a unix socket bound at `path`; its first line is the socket's inode."""
    return spawn(
        f"""
        import os, socket, sys
        s = socket.socket(socket.AF_UNIX)
        s.bind({path!r})
        s.listen()
        print(os.fstat(s.fileno()).st_ino)
        print("READY", flush=True)
        sys.stdin.read()
        """
    )


def test_socket_path_with_newline_is_exact(fifo_dir, spawn):
    path = os.path.join(fifo_dir, "a\nb.sock")
    child = listening_socket(spawn, path)
    obj = wait_until(lambda: scan_kinds("unix", file_dirs=(fifo_dir,)).get(f"unix:{child.lines[0]}"))
    assert obj.name == path
    assert obj.info.path == path and obj.to_json()["path"] == path.replace("\n", "\\n")


def test_detail_pane_shows_an_escape_in_a_socket_path_escaped_once(fifo_dir, spawn):
    from ipcwatch.tui.widgets.detail import object_text  # noqa: PLC0415 - the TUI only for this test

    path = os.path.join(fifo_dir, "evil\x1b]0;pwned\x07.sock")
    child = listening_socket(spawn, path)
    snap = wait_until(lambda: (s := scan_kinds("unix", file_dirs=(fifo_dir,))).get(f"unix:{child.lines[0]}") and s)
    obj = snap.get(f"unix:{child.lines[0]}")
    assert obj.name == path and obj.info.path == path  # raw in the model
    shown = object_text(obj, snap).plain
    assert "\x1b" not in shown and "\x07" not in shown
    assert "evil\\x1b]0;pwned\\x07.sock" in shown  # once: not \\x1b
    assert "\\\\x1b" not in shown
    assert obj.to_json()["path"] == "/".join([fifo_dir, "evil\\x1b]0;pwned\\x07.sock"])
