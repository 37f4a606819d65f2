"""The native sock_diag dump and its pure-Python twin list the same real sockets, with the same values."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from ipcwatch.native import sockdiag
from tests.conftest import Cleanup

try:
    from ipcwatch.native import _sockdiag
except ImportError:
    _sockdiag = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(_sockdiag is None, reason="the C helper is not built")


def _sock(cleanup: Cleanup, kind: int = socket.SOCK_STREAM) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, kind)
    cleanup.add(sock.close)
    return sock


def test_both_dumps_agree_on_our_sockets(tmp_path: Path, cleanup: Cleanup):
    listener = _sock(cleanup)
    listener.bind(str(tmp_path / "l.sock"))
    listener.listen(7)
    client = _sock(cleanup)
    client.connect(str(tmp_path / "l.sock"))  # not accepted: a pending connection of the listener
    abstract = _sock(cleanup, socket.SOCK_DGRAM)
    abstract.bind(b"\0ipcwatch-test\x1b\xff" + os.urandom(4).hex().encode())
    left, right = socket.socketpair()
    cleanup.add(left.close)
    cleanup.add(right.close)
    left.send(b"x" * 33)
    ours = {os.fstat(s.fileno()).st_ino: s for s in (listener, client, abstract, left, right)}

    netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, sockdiag.NETLINK_SOCK_DIAG)
    cleanup.add(netlink.close)
    dumps = [_sockdiag.unix_dump(-1), sockdiag.py_unix_dump(-1)]
    dumps += [_sockdiag.unix_dump(netlink.fileno()), sockdiag.py_unix_dump(netlink.fileno())]  # one socket, reused
    assert netlink.fileno() >= 0 and os.fstat(netlink.fileno())  # the caller's socket stays open
    seen = [{t[0]: t for t in dump if t[0] in ours} for dump in dumps]
    assert all(s == seen[0] for s in seen) and set(seen[0]) == set(ours)
    by = seen[0]
    inode = os.fstat(listener.fileno()).st_ino
    assert by[inode][1:4] == (1, 10, os.fsencode(tmp_path / "l.sock"))
    st = os.stat(tmp_path / "l.sock")
    assert by[inode][4] == (st.st_dev, st.st_ino)
    assert by[inode][7:9] == (1, 7)  # one pending of a backlog of 7
    assert by[inode][6] != ()  # the pending client's inode (UNIX_DIAG_ICONS)
    assert by[os.fstat(abstract.fileno()).st_ino][3] == abstract.getsockname()
    right_inode = os.fstat(right.fileno()).st_ino
    assert by[right_inode][5] == os.fstat(left.fileno()).st_ino and by[right_inode][7] == 33  # peer, bytes queued
