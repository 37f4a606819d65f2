"""The kinds registry: every IPC kind ipcwatch knows and one frozen spec of what it is, where it lives and how it goes.

Code that behaves differently per kind looks the kind up here (`spec(kind)` or a group below) instead of comparing
strings. The values of `Kind` are the strings refs and JSON carry (`sysv-shm`, `posix-mq`, ...).
"""

from __future__ import annotations

import stat as stat_mod
from collections.abc import Callable
from enum import StrEnum

from ipcwatch.record import NamedTuple


class Kind(StrEnum):
    SYSV_SHM = "sysv-shm"
    SYSV_MSG = "sysv-msg"
    SYSV_SEM = "sysv-sem"
    POSIX_SHM = "posix-shm"
    POSIX_MQ = "posix-mq"
    POSIX_SEM = "posix-sem"
    FIFO = "fifo"
    PIPE = "pipe"
    UNIX = "unix"
    EVENTFD = "eventfd"
    SIGNALFD = "signalfd"


class Family(StrEnum):
    SYSV = "sysv"  # /proc/sysvipc, an id in an IPC namespace
    POSIX = "posix"  # a file in /dev/shm or /dev/mqueue
    FILE = "file"  # a file anywhere (FIFO, socket file)
    ANON = "anon"  # no name: found through the fds that hold it


class Removal(StrEnum):
    IPC_RMID = "IPC_RMID"
    UNLINK = "unlink"  # unlink its file (under /dev/shm, /dev/mqueue or at its path) through a directory fd
    NONE = "none"


class Home(StrEnum):
    """Where a kind's file lives."""

    SHM_DIR = "/dev/shm"
    MQUEUE_DIR = "/dev/mqueue"
    PATH = "path"  # anywhere: the object's name is the path
    NONE = "none"


_UNLINK_EFFECT = "unlink {path}{view}: the name goes away; processes that have it open keep it until they close it."
_ANON_REASON = "a {kind} has no name to remove; it goes away when its holders close it"


class KindSpec(NamedTuple):
    """What a kind is, where it lives and how it goes (a NamedTuple: a third of a record's definition time)."""

    kind: Kind
    title: str  # the view's title
    label: str  # a short name for narrow tables (at most 5 characters)
    family: Family
    namespace: str | None  # the namespace type that scopes it: "ipc", "mnt", "net" or None
    removal: Removal
    effect: str  # what removing it does; `{id}`, `{messages}`, `{path}`, `{view}` are filled in
    home: Home
    entry_prefix: str = ""  # the file name is this + the object's name (`sem.` for a POSIX semaphore)
    file_type: Callable[[int], bool] | None = None  # what st_mode its file must have to be removed
    sysv_table: str | None = None  # its /proc/sysvipc table
    queue: bool = False
    semaphore: bool = False
    shared_memory: bool = False
    size_is_count: bool = False  # `size` counts items (a semaphore set's nsems), not bytes
    holders_known: bool = True  # False: the kernel records no holders (SysV queues and semaphore sets)
    use_times: tuple[str, ...] = ("mtime", "ctime")  # the info fields that say when it was last used
    age_text: str = "touched {age} ago"
    fill: tuple[str, str] | None = None  # info fields (used, limit) of how full it is

    @property
    def removable(self) -> bool:
        return self.removal is not Removal.NONE

    @property
    def not_removable(self) -> str | None:
        """Why no object of this kind can ever be removed (None when it can)."""
        return None if self.removable else _ANON_REASON.format(kind=self.kind)

    @property
    def view_dir(self) -> str:
        """Its directory relative to a root (`dev/shm`), to open under another namespace's view; "" for none."""
        return self.home.removeprefix("/") if self.home in (Home.SHM_DIR, Home.MQUEUE_DIR) else ""

    @property
    def scoped(self) -> bool:
        """Its objects carry the IPC or mount namespace they live in (`IpcObject.namespace`)."""
        return self.namespace in ("ipc", "mnt")


_SPECS = (
    KindSpec(
        Kind.SYSV_SHM, "SysV shared memory", "shm", Family.SYSV, "ipc", Removal.IPC_RMID,
        "IPC_RMID on id {id}: nobody can attach it any more; it is freed when the last process detaches.",
        Home.NONE, sysv_table="shm", shared_memory=True, use_times=("ctime", "atime", "dtime"),
    ),
    KindSpec(
        Kind.SYSV_MSG, "SysV message queues", "msg", Family.SYSV, "ipc", Removal.IPC_RMID,
        "IPC_RMID on id {id}: the queue and its {messages} message(s) are destroyed at once.",
        Home.NONE, sysv_table="msg", queue=True, holders_known=False, use_times=("ctime", "stime", "rtime"),
        fill=("used_bytes", "max_bytes"),
    ),
    KindSpec(
        Kind.SYSV_SEM, "SysV semaphore sets", "sem", Family.SYSV, "ipc", Removal.IPC_RMID,
        "IPC_RMID on id {id}: the set is destroyed at once; processes waiting on it get EIDRM.",
        Home.NONE, sysv_table="sem", semaphore=True, size_is_count=True, holders_known=False,
        use_times=("ctime", "otime"),
    ),
    KindSpec(
        Kind.POSIX_SHM, "POSIX shared memory", "pshm", Family.POSIX, "mnt", Removal.UNLINK, _UNLINK_EFFECT,
        Home.SHM_DIR, file_type=stat_mod.S_ISREG, shared_memory=True,
    ),
    KindSpec(
        Kind.POSIX_MQ, "POSIX message queues", "mq", Family.POSIX, "ipc", Removal.UNLINK, _UNLINK_EFFECT,
        Home.MQUEUE_DIR, file_type=stat_mod.S_ISREG, queue=True, use_times=("mtime",),
        age_text="no send/receive for {age}", fill=("messages", "max_messages"),
    ),
    KindSpec(
        Kind.POSIX_SEM, "POSIX named semaphores", "psem", Family.POSIX, "mnt", Removal.UNLINK, _UNLINK_EFFECT,
        Home.SHM_DIR, entry_prefix="sem.", file_type=stat_mod.S_ISREG, semaphore=True,
    ),
    KindSpec(
        Kind.FIFO, "FIFOs", "fifo", Family.FILE, "mnt", Removal.UNLINK, _UNLINK_EFFECT, Home.PATH,
        file_type=stat_mod.S_ISFIFO, fill=("queued", "capacity"),
    ),
    KindSpec(
        Kind.PIPE, "Pipes", "pipe", Family.ANON, None, Removal.NONE, "", Home.NONE, fill=("queued", "capacity"),
    ),
    KindSpec(
        Kind.UNIX, "Unix domain sockets", "unix", Family.FILE, "net", Removal.UNLINK, _UNLINK_EFFECT, Home.PATH,
        file_type=stat_mod.S_ISSOCK, fill=("pending_connections", "backlog"),  # listeners only
    ),
    KindSpec(Kind.EVENTFD, "eventfds", "efd", Family.ANON, None, Removal.NONE, "", Home.NONE),
    KindSpec(Kind.SIGNALFD, "signalfds", "sfd", Family.ANON, None, Removal.NONE, "", Home.NONE),
)  # fmt: skip

SPECS: dict[Kind, KindSpec] = {s.kind: s for s in _SPECS}
KINDS: tuple[Kind, ...] = tuple(SPECS)
KIND_TITLES: dict[Kind, str] = {k: s.title for k, s in SPECS.items()}


def spec(kind: str) -> KindSpec:
    """The spec of a kind (a `Kind` or its string: they hash alike); KeyError for a string that names no kind."""
    return SPECS[kind]  # type: ignore[index]


def parse_kind(text: str) -> Kind | None:
    """The kind `text` names, None when it names none."""
    try:
        return Kind(text)
    except ValueError:
        return None


def _where(test: Callable[[KindSpec], bool]) -> frozenset[Kind]:
    return frozenset(s.kind for s in _SPECS if test(s))


SYSV_KINDS = _where(lambda s: s.family is Family.SYSV)
POSIX_KINDS = _where(lambda s: s.family is Family.POSIX)
PATH_KINDS = _where(lambda s: s.home is Home.PATH)  # their name is a path anywhere (FIFO, socket file)
FILE_KINDS = _where(lambda s: s.removal is Removal.UNLINK)  # removed by unlinking a file
ANON_INODE_KINDS = _where(lambda s: s.family is Family.ANON and s.kind is not Kind.PIPE)  # anon_inode:[...] fds
QUEUE_KINDS = _where(lambda s: s.queue)
SEMAPHORE_KINDS = _where(lambda s: s.semaphore)
SHM_KINDS = _where(lambda s: s.shared_memory)
MAPPED_KINDS = _where(lambda s: s.shared_memory or (s.family is Family.POSIX and s.semaphore))  # held by a mapping
UNSCOPED_KINDS = _where(lambda s: not s.scoped)  # objects with no `namespace` (a socket's net ns is in its info)
