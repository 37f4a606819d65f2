"""The unix sockets of a network namespace from one NETLINK_SOCK_DIAG dump: the compiled helper `_sockdiag` when it
was built, else this pure-Python twin (a small netlink client: struct and socket).

`IMPLEMENTATION` says which one is in use ("c" or "python"); both return the same values (see _sockdiag.c):

    unix_dump(fd)             # [(inode, type, state, name, vfs, peer, icons, recv_queue, send_queue, uid, cookie)]
                              # over NETLINK_SOCK_DIAG socket fd (left open), or a new one when fd is -1
    parse_message(payload)    # one such tuple from a unix_diag_msg and its attributes, or None
"""

from __future__ import annotations

import errno
import os
import struct

from ipcwatch.native.compiled import compiled

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
UDIAG_SHOW_NAME, UDIAG_SHOW_VFS, UDIAG_SHOW_PEER, UDIAG_SHOW_ICONS = 0x1, 0x2, 0x4, 0x8
UDIAG_SHOW_RQLEN, UDIAG_SHOW_UID = 0x10, 0x40
UNIX_DIAG_NAME, UNIX_DIAG_VFS, UNIX_DIAG_PEER, UNIX_DIAG_ICONS = 0, 1, 2, 3
UNIX_DIAG_RQLEN, UNIX_DIAG_SHUTDOWN, UNIX_DIAG_UID = 4, 6, 7
TIMEOUT = 5.0  # seconds to wait for each answer

_NLMSGHDR = struct.Struct("=IHHII")
_UNIX_DIAG_MSG = struct.Struct("=BBBBIQ")
_RTA = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_U32_PAIR = struct.Struct("=II")

SocketTuple = tuple  # (inode, type, state, name, vfs, peer, icons, recv_queue, send_queue, uid, cookie)


def _kernel_dev_to_st_dev(dev: int) -> int:
    """sock_diag reports the kernel's internal dev_t (major << 20 | minor); stat uses the userspace encoding."""
    return os.makedev(dev >> 20, dev & 0xFFFFF)


def py_parse_message(payload: bytes) -> SocketTuple | None:
    """The pure-Python twin of `_sockdiag.parse_message`."""
    if len(payload) < _UNIX_DIAG_MSG.size:
        return None
    _family, sock_type, state, _pad, inode, cookie = _UNIX_DIAG_MSG.unpack_from(payload)
    name, vfs, peer, icons = b"", None, None, ()
    rq = wq = uid = None
    off = _UNIX_DIAG_MSG.size
    while off + _RTA.size <= len(payload):
        rta_len, rta_type = _RTA.unpack_from(payload, off)
        if rta_len < _RTA.size or off + rta_len > len(payload):
            break
        data = payload[off + _RTA.size : off + rta_len]
        if rta_type == UNIX_DIAG_NAME:
            # a pathname is stored with its terminating NUL; an abstract name is exact bytes (starts with NUL)
            name = data if data.startswith(b"\0") else data.split(b"\0", 1)[0]
        elif rta_type == UNIX_DIAG_VFS and len(data) >= 8:
            ino, dev = _U32_PAIR.unpack_from(data)
            vfs = (_kernel_dev_to_st_dev(dev), ino)
        elif rta_type == UNIX_DIAG_PEER and len(data) >= 4:
            peer = _U32.unpack_from(data)[0]
        elif rta_type == UNIX_DIAG_ICONS:
            icons = struct.unpack_from(f"={len(data) // 4}I", data)
        elif rta_type == UNIX_DIAG_RQLEN and len(data) >= 8:
            rq, wq = _U32_PAIR.unpack_from(data)
        elif rta_type == UNIX_DIAG_UID and len(data) >= 4:
            uid = _U32.unpack_from(data)[0]
        off += (rta_len + 3) & ~3
    return (inode, sock_type, state, name, vfs, peer or None, tuple(icons), rq, wq, uid, cookie)


def py_unix_dump(fd: int) -> list[SocketTuple]:
    """The pure-Python twin of `_sockdiag.unix_dump`."""
    import socket  # only the twin needs it (~3 ms to import)

    show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID
    request = struct.pack("=BBHIIIQ", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, show, 0xFFFFFFFFFFFFFFFF)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    if fd == -1:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG)
    else:
        sock = socket.socket(fileno=os.dup(fd))  # its own fd: closing it leaves the caller's open
    out: list[SocketTuple] = []
    with sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(header + request, (0, 0))
        while True:
            try:
                data = sock.recv(1 << 20)
            except TimeoutError:
                raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT)) from None
            off = 0
            while off + _NLMSGHDR.size <= len(data):
                length, msg_type, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, off)
                if length < _NLMSGHDR.size or msg_type == NLMSG_DONE:
                    return out
                if msg_type == NLMSG_ERROR:
                    code = struct.unpack_from("=i", data, off + _NLMSGHDR.size)[0] if off + 20 <= len(data) else 0
                    err = -code if code < 0 else errno.EIO
                    raise OSError(err, os.strerror(err))
                parsed = py_parse_message(data[off + _NLMSGHDR.size : off + length])
                if parsed is not None:
                    out.append(parsed)
                off += (length + 3) & ~3
            if not data:
                return out


_c = compiled("_sockdiag")
unix_dump = _c.unix_dump if _c else py_unix_dump
parse_message = _c.parse_message if _c else py_parse_message
IMPLEMENTATION = "c" if _c else "python"

__all__ = [
    "IMPLEMENTATION",
    "NETLINK_SOCK_DIAG",
    "SocketTuple",
    "parse_message",
    "py_parse_message",
    "py_unix_dump",
    "unix_dump",
]
