"""Message queues: peek at SysV queues without consuming (MSG_COPY), send, and the destructive non-blocking receive.

POSIX queues have no peek: their attributes come from the scan, and a receive removes the message it returns.
Every send/receive re-checks the queue's identity first (SysV by a fresh scan; POSIX by fstat of the opened
descriptor, so the queue acted on is exactly the one that was checked).
"""

from __future__ import annotations

import errno
import os

import posix_ipc

from ipcwatch import libc_read, libc_write
from ipcwatch.actions.mqfd import FdQueue
from ipcwatch.actions.outcome import Outcome, Status, done, failed, from_oserror, read_only_refusal, refused
from ipcwatch.actions.verify import in_its_namespace, recheck
from ipcwatch.kinds import Kind, spec
from ipcwatch.procfs import stat_identity
from ipcwatch.record import field, record
from ipcwatch.scan import IpcObject, ScanConfig
from ipcwatch.scan.info import PosixMqInfo
from ipcwatch.scan.namespaces import in_other_namespace
from ipcwatch.scan.nsread import open_view_dir

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

PEEK_LIMIT = 100_000
DEFAULT_MSGMAX = 8192
POSIX_ATTRIBUTES = (
    ("messages", "current messages"),
    ("max_messages", "max messages"),
    ("message_size", "max message size"),
    ("qsize", "bytes queued (QSIZE)"),
    ("notify", "notification"),
    ("notify_pid", "notify registrant pid"),
    ("notify_signal", "notify signal"),
)


@record
class Message:
    index: int
    mtype: int  # SysV type, or POSIX priority
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "type": self.mtype, "size": self.size, "hex": self.body.hex()}


@record
class QueueView:
    """What peek saw: every message of a SysV queue, or the attributes of a POSIX one."""

    ref: str
    kind: str
    messages: tuple[Message, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    complete: bool = True  # False when PEEK_LIMIT stopped the walk


def parse_body(data: str, as_hex: bool) -> bytes:
    """The bytes to send: the text as UTF-8, or hex digits (spaces and colons allowed). ValueError if bad hex."""
    if not as_hex:
        return data.encode("utf-8", "surrogateescape")
    digits = "".join(ch for ch in data if ch not in " :\t\n")
    return bytes.fromhex(digits)


def hex_preview(body: bytes, limit: int = 32) -> str:
    shown = body[:limit].hex(" ")
    return shown + (f" ... (+{len(body) - limit} bytes)" if len(body) > limit else "")


def _max_message(msqid: int) -> int:
    """A buffer that fits any message of this queue: a message never exceeds the queue's byte limit."""
    try:
        limit = libc_read.msg_qbytes(msqid)
    except OSError:
        limit = 0
    try:
        with open("/proc/sys/kernel/msgmax", "rb") as f:
            msgmax = int(f.read().strip() or 0)
    except (OSError, ValueError):
        msgmax = DEFAULT_MSGMAX
    return max(limit, msgmax, DEFAULT_MSGMAX)


def _sysv_peek(obj: IpcObject, limit: int) -> Outcome:
    msqid = obj.id if obj.id is not None else -1
    size = _max_message(msqid)
    messages: list[Message] = []
    flags = libc_write.MSG_COPY | libc_write.IPC_NOWAIT | libc_write.MSG_NOERROR
    while len(messages) < limit:
        try:
            mtype, body = libc_write.msgrcv(msqid, size, len(messages), flags)
        except OSError as exc:
            if exc.errno == errno.ENOMSG:
                break
            if exc.errno == errno.ENOSYS or (exc.errno == errno.EINVAL and _still_there(obj)):
                return failed(f"{obj.ref}: peek not supported by this kernel (MSG_COPY needs checkpoint/restore)")
            return from_oserror(exc, f"peek {obj.ref}")
        messages.append(Message(len(messages), mtype, body))
    view = QueueView(obj.ref, obj.kind, tuple(messages), complete=len(messages) < limit)
    more = "" if view.complete else f" (stopped at {limit})"
    return done(f"{obj.ref}: {len(messages)} message(s){more}; nothing was removed", view)


def _still_there(obj: IpcObject) -> bool:
    found = recheck(obj.ref, obj.identity)
    return isinstance(found, IpcObject)


def peek(obj: IpcObject, limit: int = PEEK_LIMIT) -> Outcome:
    """SysV: every message (index, type, body), copied, never removed. POSIX: the queue's attributes."""
    try:
        if obj.kind == Kind.SYSV_MSG:
            return in_its_namespace(obj, lambda: _sysv_peek(obj, limit), f"peek {obj.ref}")
        if isinstance(obj.info, PosixMqInfo):
            attributes = {key: getattr(obj.info, key) for key, _ in POSIX_ATTRIBUTES}
            view = QueueView(obj.ref, obj.kind, attributes=attributes)
            return done(f"{obj.ref}: POSIX queues cannot be peeked; attributes only", view)
        return refused(f"{obj.ref} is a {obj.kind}, not a message queue")
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"peek {obj.ref}: {exc}")


def _open_in_view(obj: IpcObject) -> FdQueue:
    """Another IPC namespace's queue: its /dev/mqueue file opened under the root of a process in it."""
    name = obj.name or ""
    if not name or "/" in name or name in (".", ".."):
        raise posix_ipc.ExistentialError(f"{name!r} is not a queue name")
    dir_fd = open_view_dir(obj.namespace, spec(Kind.POSIX_MQ).view_dir)
    try:
        return FdQueue(os.open(name, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd))
    except FileNotFoundError as exc:
        raise posix_ipc.ExistentialError(str(exc)) from exc
    except PermissionError as exc:
        raise posix_ipc.PermissionsError(str(exc)) from exc
    finally:
        os.close(dir_fd)


def _open_posix(obj: IpcObject) -> posix_ipc.MessageQueue | FdQueue | Outcome:
    """Open the queue by name (in another IPC namespace: by its file there), non-blocking, and make sure it is the
    inode the user saw."""
    try:
        if in_other_namespace(obj.ref):
            mq: posix_ipc.MessageQueue | FdQueue = _open_in_view(obj)
        else:
            mq = posix_ipc.MessageQueue("/" + (obj.name or ""), 0)
    except ProcessLookupError as exc:
        return Outcome(Status.GONE, f"{obj.ref}: {exc.strerror}")
    except posix_ipc.ExistentialError:
        return Outcome(Status.GONE, f"{obj.ref}: already gone")
    except posix_ipc.PermissionsError as exc:
        return Outcome(Status.DENIED, f"{obj.ref}: permission denied ({exc})")
    st = os.fstat(mq.mqd)
    if stat_identity(st) != obj.identity:
        mq.close()
        return refused(f"{obj.ref} was replaced by another queue since it was shown; nothing was changed")
    if isinstance(mq, posix_ipc.MessageQueue):
        mq.block = False
    return mq


def _checked_sysv(obj: IpcObject, config: ScanConfig | None) -> int | Outcome:
    found = recheck(obj.ref, obj.identity, config)
    if isinstance(found, Outcome):
        return found
    return found.id if found.id is not None else -1


def send(
    obj: IpcObject,
    body: bytes,
    *,
    mtype: int = 1,
    priority: int = 0,
    read_only: bool = False,
    config: ScanConfig | None = None,
) -> Outcome:
    """Send one message without blocking: SysV with type `mtype` (> 0), POSIX with `priority`. Full: not sent."""
    what = f"send {len(body)} byte(s) to {obj.ref}"
    if read_only:
        return read_only_refusal(what)
    try:
        if obj.kind == Kind.SYSV_MSG:
            if mtype <= 0:
                return refused("a SysV message type must be a positive number")
            msqid = _checked_sysv(obj, config)
            if isinstance(msqid, Outcome):
                return msqid
            return in_its_namespace(obj, lambda: _msgsnd(obj, msqid, mtype, body, what), what)
        if obj.kind == Kind.POSIX_MQ:
            return _posix_send(obj, body, priority)
        return refused(f"{obj.ref} is a {obj.kind}, not a message queue")
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"{what}: {exc}")


def _msgsnd(obj: IpcObject, msqid: int, mtype: int, body: bytes, what: str) -> Outcome:
    try:
        libc_write.msgsnd(msqid, mtype, body, libc_write.IPC_NOWAIT)
    except OSError as exc:
        if exc.errno == errno.EAGAIN:
            return failed(f"{obj.ref}: queue full (nothing was sent)")
        return from_oserror(exc, what)
    return done(f"sent {len(body)} byte(s) with type {mtype} to {obj.ref}")


def _msgrcv(obj: IpcObject, msqid: int, what: str) -> Outcome:
    try:
        mtype, body = libc_write.msgrcv(msqid, _max_message(msqid), 0, libc_write.IPC_NOWAIT)
    except OSError as exc:
        if exc.errno == errno.ENOMSG:
            return failed(f"{obj.ref}: the queue is empty (nothing was removed)")
        return from_oserror(exc, what)
    return done(f"received {len(body)} byte(s) of type {mtype} from {obj.ref}", Message(0, mtype, body))


def _posix_send(obj: IpcObject, body: bytes, priority: int) -> Outcome:
    mq = _open_posix(obj)
    if isinstance(mq, Outcome):
        return mq
    try:
        mq.send(body, priority=priority)
    except posix_ipc.BusyError:
        return failed(f"{obj.ref}: queue full (nothing was sent)")
    except ValueError as exc:
        return refused(f"{obj.ref}: {exc}")
    finally:
        mq.close()
    return done(f"sent {len(body)} byte(s) with priority {priority} to {obj.ref}")


def receive(obj: IpcObject, *, read_only: bool = False, config: ScanConfig | None = None) -> Outcome:
    """Remove and return the first message (SysV: any type; POSIX: highest priority), never blocking."""
    what = f"receive one message from {obj.ref} (removes it)"
    if read_only:
        return read_only_refusal(what)
    try:
        if obj.kind == Kind.SYSV_MSG:
            msqid = _checked_sysv(obj, config)
            if isinstance(msqid, Outcome):
                return msqid
            return in_its_namespace(obj, lambda: _msgrcv(obj, msqid, what), what)
        if obj.kind == Kind.POSIX_MQ:
            return _posix_receive(obj)
        return refused(f"{obj.ref} is a {obj.kind}, not a message queue")
    except Exception as exc:  # noqa: BLE001 - an action never raises to its caller
        return failed(f"{what}: {exc}")


def _posix_receive(obj: IpcObject) -> Outcome:
    mq = _open_posix(obj)
    if isinstance(mq, Outcome):
        return mq
    try:
        body, priority = mq.receive()
    except posix_ipc.BusyError:
        return failed(f"{obj.ref}: the queue is empty (nothing was removed)")
    finally:
        mq.close()
    return done(f"received {len(body)} byte(s) with priority {priority} from {obj.ref}", Message(0, priority, body))
