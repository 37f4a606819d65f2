"""Unix domain sockets from NETLINK_SOCK_DIAG (one native dump: ipcwatch.native.sockdiag), with /proc/net/unix
only as a fallback.

A small netlink client (native; its twin uses struct and socket) rather than pyroute2: pyroute2 costs ~190 ms to
import, more than the whole scan budget, and decodes UNIX_DIAG_NAME as ASCII-with-NUL-terminator, which drops
abstract names (they start with NUL) and non-UTF-8 bytes. The tests cross-check this client against pyroute2.
"""

from __future__ import annotations

import os

from ipcwatch.kinds import Kind
from ipcwatch.native.sockdiag import parse_message, unix_dump
from ipcwatch.record import NamedTuple
from ipcwatch.scan.info import UnixInfo, WaitingClient
from ipcwatch.scan.model import IpcObject, ScanError
from ipcwatch.scan.namespaces import Namespace
from ipcwatch.scan.parsers import parse_proc_net_unix
from ipcwatch.scan.pipes import FoundFiles
from ipcwatch.scan.posix import file_object
from ipcwatch.scan.procs import HolderIndex, user_name

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    import socket

TYPES = {1: "stream", 2: "dgram", 5: "seqpacket"}
LISTEN = 10
STATES = {1: "connected", 2: "connecting", 7: "unconnected", LISTEN: "listen", 3: "connected"}

_REF_PREFIX = f"{Kind.UNIX}:"  # a plain str: an f-string of the enum member formats it on every call


class UnixSocket(NamedTuple):  # a tuple: one is built per socket, a record costs 2.5x as much
    inode: int
    type: int
    state: int
    name: bytes  # exact bound address; b"" when unbound; abstract names start with NUL
    vfs: tuple[int, int] | None  # (st_dev, st_ino) of the socket file
    peer: int | None
    queued_connections: tuple[int, ...]  # listeners: inodes of the clients connected but not yet accepted
    recv_queue: int | None
    send_queue: int | None
    uid: int | None
    cookie: int | None


def socket_name(raw: bytes) -> str | None:
    """The bound address as text, abstract names (leading NUL) as `@rest` like ss; None when unbound."""
    if not raw:
        return None
    return "@" + os.fsdecode(raw[1:]) if raw.startswith(b"\0") else os.fsdecode(raw)


def parse_diag_message(payload: bytes) -> UnixSocket | None:
    """One unix_diag_msg with its attributes (the bytes after the netlink header)."""
    parsed = parse_message(payload)
    return None if parsed is None else UnixSocket._make(parsed)


def dump_sock_diag(sock: socket.socket | None = None) -> list[UnixSocket]:
    """Every unix socket in this network namespace (or in the one `sock`, a NETLINK_SOCK_DIAG socket made in
    another namespace, lives in: nsread.sock_diag_socket), from one dump. The socket is closed afterwards."""
    if sock is None:
        return list(map(UnixSocket._make, unix_dump(-1)))
    with sock:
        return list(map(UnixSocket._make, unix_dump(sock.fileno())))


def from_proc_net_unix(path: str) -> list[UnixSocket]:
    """The fallback: fewer fields (no peer, no queues), and names that may be ambiguous."""
    with open(path, "rb") as f:
        rows = parse_proc_net_unix(f.read())
    out = []
    for row in rows:
        raw = row["path"]
        assert isinstance(raw, bytes)
        name = b"\0" + raw[1:] if raw.startswith(b"@") else raw
        state = {1: LISTEN if int(row["flags"]) & 0x10000 else 7, 3: 1}.get(int(row["state"]), 7)
        out.append(UnixSocket(int(row["inode"]), int(row["type"]), state, name, None, None, (), None, None, None, None))
    return out


def list_sockets(proc_root: str, errors: list[ScanError]) -> tuple[list[UnixSocket], str]:
    """(sockets, source): sock_diag when it answers, else /proc/net/unix."""
    try:
        return dump_sock_diag(), "sock_diag"
    except OSError as exc:
        errors.append(ScanError("sock_diag", f"{exc.strerror or exc}; falling back to /proc/net/unix"))
    try:
        return from_proc_net_unix(f"{proc_root}/net/unix"), "/proc/net/unix"
    except OSError as exc:
        errors.append(ScanError(f"{proc_root}/net/unix", exc.strerror or str(exc)))
        return [], "none"


def _socket_info(s: UnixSocket, name: str | None, index: HolderIndex, net: Namespace | None) -> UnixInfo:
    """For a listener the kernel's queue lengths count connections: pending (accept() not yet called) of backlog,
    and `waiting_clients` are the connecting sockets (UNIX_DIAG_ICONS) with the processes that hold them. For any
    other socket they count bytes. `name`: its `socket_name`."""
    peer = s.peer
    peer_holds = index.sockets.get(peer) if peer else None
    peer_holders = index.holders(peer_holds) if peer_holds else ()
    kind, state, abstract = TYPES.get(s.type, str(s.type)), STATES.get(s.state, str(s.state)), s.name[:1] == b"\0"
    recv, send = s.recv_queue, s.send_queue
    # positional, in field order (a NamedTuple's keywords cost half as much again)
    if s.state != LISTEN:
        return UnixInfo(kind, state, name, abstract, peer, peer_holders, recv, send, None, None, None, net)
    if recv is None:  # /proc/net/unix: counts unknown
        return UnixInfo(kind, state, name, abstract, peer, peer_holders, None, None, None, None, None, net)
    clients = tuple(
        WaitingClient(inode, index.holders(index.sockets.get(inode, ())))
        for inode in s.queued_connections
        if inode  # 0: the client closed its end before being accepted
    )
    return UnixInfo(kind, state, name, abstract, peer, peer_holders, None, None, recv, send, clients, net)


def unix_objects(
    sockets: list[UnixSocket], index: HolderIndex, found: FoundFiles, net_of: dict[int, Namespace] | None = None
) -> list[IpcObject]:
    """Live sockets (of every network namespace read: `net_of` maps a socket inode to its namespace, their
    info's `net_namespace`) and the socket files no live socket is bound to."""
    net_of = net_of or {}
    out = []
    bound_files = set()
    holders_of, by_inode, found_sockets = index.holders, index.sockets, found.sockets
    for s in sockets:
        listening = s.state == LISTEN
        holds = by_inode.get(s.inode)
        holders = holders_of(holds) if holds else ()
        owner_uid = s.uid
        if s.vfs is not None:
            bound_files.add(s.vfs)
            if owner_uid is None and (path_entry := found_sockets.get(s.vfs)) is not None:
                owner_uid = path_entry[1].st_uid
        if owner_uid is None and holders:
            owner_uid = index.processes[holders[0].pid].uid
        name = socket_name(s.name)
        ref = f"{_REF_PREFIX}{s.inode}"
        out.append(
            IpcObject(  # positional, in field order: 0.5 us less per object than keywords
                ref,  # ref
                Kind.UNIX,  # kind
                name,  # name
                s.inode,  # id
                None,  # key
                user_name(owner_uid) if owner_uid is not None else "?",  # owner
                owner_uid,  # uid
                None,  # mode
                None if listening else s.recv_queue,  # size; a listener's queue holds connections, not bytes
                holders,  # holders
                False,  # stale
                None,  # stale_reason
                f"{ref}:{s.cookie if s.cookie is not None else 0}",  # identity
                _socket_info(s, name, index, net_of.get(s.inode)),  # info
            )
        )
    for key, (path, st) in found.sockets.items():
        if key in bound_files:
            continue
        out.append(
            file_object(
                Kind.UNIX,
                path,
                st,
                size=None,
                holders=(),
                stale_reason="socket file with no listener",
                info=UnixInfo(None, "file only", path),
            )
        )
    return out
