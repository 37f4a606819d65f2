"""SysV shared memory, message queues and semaphore sets, from /proc/sysvipc/* plus semctl/msgctl for detail."""

from __future__ import annotations

import os

from ipcwatch.kinds import Kind
from ipcwatch.native.sysvread import msg_qbytes, sem_values
from ipcwatch.scan.info import KindInfo, SemValue, SysvMsgInfo, SysvSemInfo, SysvShmInfo
from ipcwatch.scan.model import Holder, IpcObject, ScanError
from ipcwatch.scan.namespaces import Namespace, qualified_ref
from ipcwatch.scan.parsers import parse_table
from ipcwatch.scan.procs import HolderIndex, user_name

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

    Row = dict[str, Any]  # one /proc/sysvipc row by column name, plus details read with msgctl/semctl

SHM_DEST = 0o1000
SHM_LOCKED = 0o2000


def read_table(sysvipc_dir: str, name: str, errors: list[ScanError]) -> list[Row]:
    path = os.path.join(sysvipc_dir, name)
    try:
        with open(path, "rb") as f:
            return parse_table(f.read())
    except OSError as exc:
        errors.append(ScanError(path, exc.strerror or str(exc)))
        return []


def read_details(kind: Kind, rows: list[Row]) -> None:
    """Add what /proc/sysvipc lacks (a queue's byte limit, each semaphore's values); needs no holder index."""
    reader = _DETAILS.get(kind)
    if reader is not None:
        reader(rows)


def read_msg_details(rows: list[Row]) -> None:
    """A queue's byte limit (msgctl IPC_STAT), for every queue in one call."""
    for row, limit in zip(rows, msg_qbytes([row["msqid"] for row in rows]), strict=True):
        row["max_bytes"] = limit


def read_sem_details(rows: list[Row]) -> None:
    """Each semaphore's values (semctl), for every set in one call."""
    sets = sem_values([(row["semid"], row.get("nsems", 0)) for row in rows])
    for row, values in zip(rows, sets, strict=True):
        row["semaphores"] = None if values is None else tuple([SemValue(*v) for v in values])


_CTIME_PART = 5  # position of ctime in the identity below


def sysv_identity(kind: str, row: Row, id_field: str, *extra: str, ns: Namespace | None = None) -> str:
    """id + key + creator uid/gid + ctime (+ immutable attributes): changes when an id is reused. In another
    IPC namespace than the host's, `@ipc:INODE` is appended: the same id there is another object."""
    get = row.get
    text = f"{kind}:{row[id_field]}:{row['key']}:{row['cuid']}:{row['cgid']}:{get('ctime', 0)}"
    for name in extra:
        text += f":{get(name, 0)}"
    return text if ns is None or ns.host else f"{text}@{ns.tag}"


# kind -> (/proc/sysvipc table, id column, the immutable attributes its identity adds)
TABLES: dict[Kind, tuple[str, str, tuple[str, ...]]] = {
    Kind.SYSV_SHM: ("shm", "shmid", ("cpid", "size")),
    Kind.SYSV_MSG: ("msg", "msqid", ()),
    Kind.SYSV_SEM: ("sem", "semid", ("nsems",)),
}


def current_identity(kind: str, ipc_id: int, ns: Namespace | None, sysvipc_dir: str = "/proc/sysvipc") -> str | None:
    """The identity of the object with this id now, as this thread's IPC namespace shows it (run it inside `ns`);
    None when no object has that id."""
    table, id_field, _ = TABLES[Kind(kind)]
    for row in read_table(sysvipc_dir, table, []):
        if row.get(id_field) == ipc_id:
            return row_identity(Kind(kind), row, ns)
    return None


def row_identity(kind: Kind, row: Row, ns: Namespace | None) -> str:
    """`sysv_identity` of a row of `kind`'s table."""
    _, id_field, extra = TABLES[kind]
    return sysv_identity(kind, row, id_field, *extra, ns=ns)


def same_except_ctime(before: str, after: str) -> bool:
    """True when two identities differ at most in ctime: SETVAL/SETALL change a set's ctime, nothing else."""
    a, b = before.split(":"), after.split(":")
    return len(a) == len(b) and all(x == y for i, (x, y) in enumerate(zip(a, b, strict=True)) if i != _CTIME_PART)


class _Builder:
    """Builds one kind's objects in one IPC namespace: what they share (ref prefix, identity suffix, id column) is
    worked out once, not per object. Owner, mode and identity are read the same way for each kind."""

    def __init__(self, kind: Kind, ns: Namespace | None) -> None:
        self.kind, self.ns = kind, ns
        _, self.id_field, self.extra = TABLES[kind]
        self.ref_prefix = qualified_ref(kind, "", ns)
        self.kind_text = kind.value  # a plain str formats faster than the enum member

    def object(
        self, row: Row, size: int | None, stale_reason: str | None, info: KindInfo, holders: tuple[Holder, ...] = ()
    ) -> IpcObject:
        """One SysV object from its /proc/sysvipc row."""
        ident = row[self.id_field]
        uid = row["uid"]
        return IpcObject(  # positional, in field order: 0.5 us less per object than keywords
            self.ref_prefix + str(ident),  # ref
            self.kind,  # kind
            None,  # name
            ident,  # id
            row["key"],  # key
            user_name(uid),  # owner
            uid,  # uid
            row["perms"] & 0o777,  # mode
            size,  # size
            holders,  # holders
            stale_reason is not None,  # stale
            stale_reason,  # stale_reason
            sysv_identity(self.kind_text, row, self.id_field, *self.extra, ns=self.ns),  # identity
            info,  # info
            (),  # waiters
            self.ns,  # namespace
        )


def _alive(pid: int, index: HolderIndex) -> bool:
    return pid > 0 and pid in index.processes


_SHM_STATUS = ("", "dest", "locked", "dest,locked")  # by (perms & (SHM_DEST | SHM_LOCKED)) >> 9


def shm_objects(rows: list[Row], index: HolderIndex, ns: Namespace | None = None) -> list[IpcObject]:
    """Segments of IPC namespace `ns` (None: the namespace could not be told; holders are then matched by id)."""
    out = []
    build = _Builder(Kind.SYSV_SHM, ns).object
    holders_of, segments = index.holders, index.shm_segments
    ns_inode = None if ns is None else ns.inode
    for row in rows:
        shmid = row["shmid"]
        holds = index.shm_holds(None, shmid) if ns_inode is None else segments.get((ns_inode, shmid))
        holders = holders_of(holds) if holds else ()
        get = row.get
        cpid, lpid, nattch = get("cpid", 0), get("lpid", 0), get("nattch", 0)
        stale_reason = None
        if nattch == 0 and not holders and cpid > 0 and not _alive(cpid, index) and not _alive(lpid, index):
            stale_reason = f"no attachers; creator {cpid} is gone"
            if lpid > 0 and lpid != cpid:
                stale_reason += f", last user {lpid} too"
        info = SysvShmInfo(
            nattch,
            cpid,
            lpid,
            _SHM_STATUS[(row["perms"] & (SHM_DEST | SHM_LOCKED)) >> 9],
            get("rss"),
            get("swap"),
            get("atime", 0),
            get("dtime", 0),
            row["cuid"],
            get("gid"),
            get("ctime", 0),
        )
        out.append(build(row, get("size"), stale_reason, info, holders))
    return out


def msg_objects(rows: list[Row], index: HolderIndex, ns: Namespace | None = None) -> list[IpcObject]:
    out = []
    build = _Builder(Kind.SYSV_MSG, ns).object
    for row in rows:
        lspid, lrpid, qnum = row.get("lspid", 0), row.get("lrpid", 0), row.get("qnum", 0)
        stale_reason = None
        if (lspid or lrpid) and not _alive(lspid, index) and not _alive(lrpid, index):
            sender = f"last sender {lspid} is gone" if lspid else "never sent to"
            receiver = f"last receiver {lrpid} is gone" if lrpid else "never received from"
            stale_reason = f"{sender}; {receiver}; {qnum} message(s) queued"
        out.append(
            build(
                row,
                row.get("cbytes"),
                stale_reason,
                info=SysvMsgInfo(
                    qnum,
                    row.get("cbytes"),
                    row.get("max_bytes"),
                    lspid,
                    lrpid,
                    row.get("stime", 0),
                    row.get("rtime", 0),
                    row["cuid"],
                    row.get("gid"),
                    row.get("ctime", 0),
                ),
            )
        )
    return out


def read_semaphores(semid: int, nsems: int) -> tuple[SemValue, ...] | None:
    """Per semaphore: value, ncnt, zcnt, pid of the last operation. None when not permitted."""
    values = sem_values([(semid, nsems)])[0]
    return None if values is None else tuple([SemValue(*v) for v in values])


def sem_objects(rows: list[Row], index: HolderIndex, ns: Namespace | None = None) -> list[IpcObject]:
    out = []
    build = _Builder(Kind.SYSV_SEM, ns).object
    for row in rows:
        get = row.get
        nsems = get("nsems", 0)
        sems = get("semaphores")
        stale_reason = ncnt = zcnt = None
        if sems is not None:  # one pass over the set: waiters of each sort, the last operators
            ncnt = zcnt = 0
            last = set()
            for sem in sems:
                ncnt += sem.ncnt or 0
                zcnt += sem.zcnt or 0
                if sem.pid:
                    last.add(sem.pid)
            if not ncnt + zcnt and last and not any(_alive(p, index) for p in last):
                who = ", ".join([str(p) for p in sorted(last)])
                stale_reason = f"no waiters; last operator {who} is gone"
        info = SysvSemInfo(nsems, sems, ncnt, zcnt, get("otime", 0), row["cuid"], get("gid"), get("ctime", 0))
        out.append(build(row, nsems, stale_reason, info))
    return out


_DETAILS = {Kind.SYSV_MSG: read_msg_details, Kind.SYSV_SEM: read_sem_details}
BUILDERS = {Kind.SYSV_SHM: shm_objects, Kind.SYSV_MSG: msg_objects, Kind.SYSV_SEM: sem_objects}  # kind -> objects
