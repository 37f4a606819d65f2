"""Decoders: what a sleeping thread waits on, from its system call's arguments, memory and fds."""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Callable, Iterable

from ipcwatch.kinds import Kind
from ipcwatch.procfs import file_identity, mapping_at, read_at, stat_identity
from ipcwatch.scan import syscalls as sc
from ipcwatch.scan.waits.records import (
    AT_FDCWD,
    CLIENT,
    DATA,
    FIFO_WCHANS,
    FUTEX_PRIVATE,
    FUTEX_WAIT_CMDS,
    LISTENER,
    MAX_SEM_OPS,
    MAX_WAIT_FDS,
    MSG_EXCEPT,
    PAGE_SIZE,
    PATH_DIR_FLAGS,
    POLL_READ,
    POLL_WRITE,
    POST,
    READER,
    SEM_T_SIZE,
    SIGNAL,
    SPACE,
    WRITER,
    Decoded,
    OtherKind,
    Target,
)
from ipcwatch.scan.waits.sigwait import SIGNAL_DECODERS
from ipcwatch.scan.waits.thread import ThreadReader


def _empty_or_full(kind: Kind | OtherKind, role: str) -> str:
    if kind == OtherKind.SOCKET:
        return "nothing received" if role == DATA else "peer not reading"
    noun = "pipe" if kind == Kind.PIPE else "FIFO"
    return f"{noun} empty" if role == DATA else f"{noun} full"


def _fd_waits(
    t: ThreadReader, verb: str, wanted: Iterable[tuple[int, str]], inodes: dict[int, int] | None = None
) -> Decoded:
    """Targets for (fd, role) pairs on pipes, FIFOs and sockets; `inodes` (epoll) must match what fd holds now."""
    targets: list[Target] = []
    notes: list[str] = []
    in_set = verb in _MULTIPLEXERS
    for fd, role in wanted:
        f = t.file(fd)
        if isinstance(f, str):
            notes.append(f)
            continue
        if inodes is not None and inodes.get(fd) != f.inode:
            continue  # the fd was closed and reused since it was added to the epoll set
        if f.kind == Kind.SIGNALFD:
            names = ", ".join(f.signals) or "no signal"
            targets.append(Target(f.match, f.kind, SIGNAL, f"{verb} on a signalfd ({names})", signals=f.signals))
            continue
        if f.kind == Kind.EVENTFD:
            state = "eventfd count 0" if role == DATA else "eventfd count at its maximum"
            op = f"{verb} for {'reading' if role == DATA else 'writing'} ({state})" if in_set else f"{verb} ({state})"
            targets.append(Target(f.match, f.kind, role, op))
            continue
        if f.kind not in _STREAMS:
            notes.append(f"fd {fd} is {f.label}")
            continue
        if verb in ("accept", "connect"):
            op = "accept" if verb == "accept" else "connect (listener backlog full)"
        elif verb in ("read", "recv", "write", "send", "splice", "tee", "vmsplice"):
            op = f"{verb} ({_empty_or_full(f.kind, role)})"
        else:
            op = f"{verb} for {'reading' if role == DATA else 'writing'} ({_empty_or_full(f.kind, role)})"
        targets.append(Target(f.match, f.kind, role, op, label=f.label, in_set=in_set))
    note = None if targets else "; ".join(notes) or None
    targets.sort(key=lambda x: _FIRST.get(x.kind, 2))  # a wait for a signal or an event says so first
    return tuple(targets), note


_FIRST = {Kind.SIGNALFD: 0, Kind.EVENTFD: 1}
_STREAMS = frozenset({Kind.PIPE, Kind.FIFO, OtherKind.SOCKET})  # fds read and written: empty or full
_MULTIPLEXERS = frozenset({"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "epoll_pwait2"})


_IO_CALLS: dict[str, tuple[str, tuple[tuple[int, str], ...]]] = {
    # syscall: (verb, ((argument index of an fd, role), ...))
    "read": ("read", ((0, DATA),)),
    "readv": ("read", ((0, DATA),)),
    "recvfrom": ("recv", ((0, DATA),)),
    "recvmsg": ("recv", ((0, DATA),)),
    "recvmmsg": ("recv", ((0, DATA),)),
    "write": ("write", ((0, SPACE),)),
    "writev": ("write", ((0, SPACE),)),
    "sendto": ("send", ((0, SPACE),)),
    "sendmsg": ("send", ((0, SPACE),)),
    "sendmmsg": ("send", ((0, SPACE),)),
    "vmsplice": ("vmsplice", ((0, SPACE),)),
    "splice": ("splice", ((0, DATA), (2, SPACE))),
    "tee": ("tee", ((0, DATA), (1, SPACE))),
    "accept": ("accept", ((0, CLIENT),)),
    "accept4": ("accept", ((0, CLIENT),)),
    "connect": ("connect", ((0, LISTENER),)),
}


def _io(t: ThreadReader) -> Decoded:
    verb, fds = _IO_CALLS[t.syscall]
    wanted = [(sc.as_int32(t.args[i]), role) for i, role in fds]
    targets, note = _fd_waits(t, verb, wanted)
    if verb in ("accept", "connect"):
        targets = tuple(x for x in targets if x.kind == OtherKind.SOCKET)
    return targets, note


def _semop(t: ThreadReader) -> Decoded:
    semid, sops, nsops = sc.as_int32(t.args[0]), t.args[1], t.args[2]
    timed = t.syscall == "semtimedop" and t.args[3] != 0
    call = "semtimedop" if timed else "semop"
    try:
        ops = sc.parse_sembufs(t.mem(sops, min(nsops, MAX_SEM_OPS) * 6))
    except OSError:
        ops = []
    parts = []
    for num, delta, _flags in ops:
        if delta < 0:
            parts.append(f"sem {num} {delta} (wait)")
        elif delta == 0:
            parts.append(f"sem {num} 0 (wait for zero)")
        else:
            parts.append(f"sem {num} +{delta}")
    op = f"{call} {', '.join(parts)}" if parts else f"{call} (operations not readable)"
    if nsops > MAX_SEM_OPS and parts:
        op += f" (first {MAX_SEM_OPS} of {nsops})"
    nums = tuple(sorted({num for num, delta, _ in ops if delta <= 0}))
    return (Target(f"{Kind.SYSV_SEM}:{semid}", Kind.SYSV_SEM, POST, op, nums, f"SysV semaphore set {semid}"),), None


def _msgrcv(t: ThreadReader) -> Decoded:
    msqid, mtype, flags = sc.as_int32(t.args[0]), sc.as_long(t.args[3]), sc.as_int32(t.args[4])
    if mtype == 0:
        op = "msgrcv any type (queue empty)"
    elif mtype < 0:
        op = f"msgrcv type <= {-mtype}"
    elif flags & MSG_EXCEPT:
        op = f"msgrcv type other than {mtype}"
    else:
        op = f"msgrcv type {mtype}"
    return (Target(f"{Kind.SYSV_MSG}:{msqid}", Kind.SYSV_MSG, DATA, op, label=f"SysV message queue {msqid}"),), None


def _msgsnd(t: ThreadReader) -> Decoded:
    msqid = sc.as_int32(t.args[0])
    label = f"SysV queue {msqid}"
    return (Target(f"{Kind.SYSV_MSG}:{msqid}", Kind.SYSV_MSG, SPACE, "msgsnd (queue full)", label=label),), None


def _mq(t: ThreadReader) -> Decoded:
    f = t.file(sc.as_int32(t.args[0]))
    if isinstance(f, str):
        return (), f
    if f.kind != OtherKind.FILE:
        return (), None
    receive = t.syscall == "mq_timedreceive"
    op, role = ("mq_receive (queue empty)", DATA) if receive else ("mq_send (queue full)", SPACE)
    return (Target(f.match, Kind.POSIX_MQ, role, op, label=f.label),), None


def _open(t: ThreadReader) -> Decoded:
    wchan = t.wchan()
    if wchan not in FIFO_WCHANS and not (wchan is None and t.state == "S"):
        return (), None  # asleep in open for another reason (a device, a network filesystem): never stat it
    if t.syscall == "open":
        dirfd, path, flags = AT_FDCWD, t.cstring(t.args[0]), t.args[1]
    else:
        dirfd, path = sc.as_int32(t.args[0]), t.cstring(t.args[1])
        flags = t.args[2] if t.syscall == "openat" else int.from_bytes(t.mem(t.args[2], 8).ljust(8, b"\0"), "little")
    if not path:
        return (), None
    if path.startswith(b"/"):
        base, rel = f"{t.prefix}root", path.lstrip(b"/") or b"."
    else:
        base, rel = (f"{t.prefix}cwd", path) if dirfd == AT_FDCWD else (f"fd/{dirfd}", path)
    base_fd = os.open(base, PATH_DIR_FLAGS, dir_fd=t.dir_fd)
    try:
        st = os.stat(rel, dir_fd=base_fd)
    finally:
        os.close(base_fd)
    if not stat_mod.S_ISFIFO(st.st_mode) or flags & 3 == os.O_RDWR:
        return (), None
    reading = flags & 3 == os.O_RDONLY
    op = "open FIFO for reading (no writer)" if reading else "open FIFO for writing (no reader)"
    role = WRITER if reading else READER
    return (Target(stat_identity(st), Kind.FIFO, role, op, label=os.fsdecode(path)),), None


def may_wait_on_ipc(syscall: str, args: tuple[int, ...]) -> bool:
    """A check on the arguments alone, before any read: most futex waits are process-private locks."""
    if syscall == "futex":
        private, waits = args[1] & FUTEX_PRIVATE, (args[1] & 0x7F) in FUTEX_WAIT_CMDS
    elif syscall == "futex_wait":  # futex_wait(uaddr, val, mask, flags, timeout, clockid)
        private, waits = args[3] & FUTEX_PRIVATE, True
    else:
        return True
    return waits and not private and args[0] % PAGE_SIZE < SEM_T_SIZE


def _futex(t: ThreadReader) -> Decoded:
    """A shared futex at the start of a shared `sem.*` mapping: a POSIX named semaphore (sem_wait)."""
    address = t.args[0]
    mapping = mapping_at(read_at(t.dir_fd, "maps", 64 << 20), address)
    if mapping is None:
        return (), None
    base = os.path.basename(mapping.path.removesuffix(b" (deleted)"))
    if not mapping.shared or not base.startswith(b"sem."):
        return (), None
    identity = file_identity(mapping.dev, mapping.inode)
    target = Target(identity, Kind.POSIX_SEM, POST, "futex wait on sem", label=os.fsdecode(base[4:]))
    return (target,), None


def _poll(t: ThreadReader) -> Decoded:
    entries = sc.parse_pollfds(t.mem(t.args[0], min(t.args[1], MAX_WAIT_FDS) * 8))
    return _fd_waits(t, t.syscall, _roles(entries))


def _roles(entries: Iterable[tuple[int, int]]) -> list[tuple[int, str]]:
    out = []
    for fd, events in entries:
        if events & POLL_READ:
            out.append((fd, DATA))
        elif events & POLL_WRITE:
            out.append((fd, SPACE))
    return out


def _select(t: ThreadReader) -> Decoded:
    nfds = min(sc.as_int32(t.args[0]), 1 << 16)
    size = (max(nfds, 0) + 63) // 64 * 8
    wanted: list[tuple[int, str]] = []
    for arg, role in ((1, DATA), (2, SPACE)):
        if t.args[arg]:
            wanted += [(fd, role) for fd in sc.fd_set_members(t.mem(t.args[arg], size), nfds)]
    return _fd_waits(t, t.syscall, wanted[:MAX_WAIT_FDS])


def _epoll(t: ThreadReader) -> Decoded:
    epfd = sc.as_int32(t.args[0])
    entries = sc.parse_epoll_targets(read_at(t.dir_fd, f"fdinfo/{epfd}", 1 << 20))[:MAX_WAIT_FDS]
    inodes = {fd: inode for fd, _, inode in entries}
    return _fd_waits(t, t.syscall, _roles((fd, events) for fd, events, _ in entries), inodes)


DECODERS: dict[str, Callable[[ThreadReader], Decoded]] = {
    **dict.fromkeys(_IO_CALLS, _io),
    "semop": _semop,
    "semtimedop": _semop,
    "msgrcv": _msgrcv,
    "msgsnd": _msgsnd,
    "mq_timedreceive": _mq,
    "mq_timedsend": _mq,
    "open": _open,
    "openat": _open,
    "openat2": _open,
    "futex": _futex,
    "futex_wait": _futex,
    "poll": _poll,
    "ppoll": _poll,
    "select": _select,
    "pselect6": _select,
    "epoll_wait": _epoll,
    "epoll_pwait": _epoll,
    "epoll_pwait2": _epoll,
    **SIGNAL_DECODERS,
}
