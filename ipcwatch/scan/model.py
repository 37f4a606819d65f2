"""Frozen records of one scan: IPC objects, their holders and waiters, the processes, and what was not seen.

Every object has a stable `ref` (`sysv-shm:ID`, `posix-shm:NAME`, `pipe:INODE`, `eventfd:ID`, ...) used by the
CLI, the JSON output and the TUI, and an opaque `identity` that changes when the object behind a ref is replaced
(a SysV id reused, a file recreated). Actions compare identities before they act.

Every string here is raw, the ref too (a name's characters as they are): each surface escapes it once (`to_json`
here, the tables, the TUI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache, cached_property

from ipcwatch.kinds import KIND_TITLES, KINDS, Kind
from ipcwatch.native.model_init import compiled_init
from ipcwatch.record import NamedTuple, field, fields, record
from ipcwatch.text import escape

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

    from ipcwatch.scan.info import KindInfo
    from ipcwatch.scan.namespaces import Namespace

    # write(data, record, namespaces): a record's values into its object's JSON (`IpcObject.json_with`)
    _Writer = Callable[[dict[str, Any], Any, dict[int, Any]], None]

__all__ = ["KINDS", "KIND_TITLES", "Holder", "IpcObject", "Kind", "Process", "ScanError", "Snapshot", "Waiter"]


def info_names(cls: type) -> tuple[str, ...]:
    """The field names of a per-kind record class (scan.info, NamedTuples), in order."""
    names: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    return names


def info_keys(cls: type) -> tuple[str, ...]:
    """The fields of a per-kind record class its object's JSON writes (under their own names): all but the object's
    own keys."""
    return tuple(name for name in info_names(cls) if name not in _OBJECT_KEYS)


# The keys every object's JSON has (`IpcObject.to_json`): a kind's value of the same name does not replace them.
_OBJECT_KEYS = frozenset(
    ("ref", "kind", "name", "id", "key", "owner", "uid", "perms", "mode", "size", "holders", "waiters", "stale")
    + ("stale_reason", "identity", "namespace")
)
_PLAIN = frozenset((int, bool, type(None)))  # values JSON writes as they are
_INFO_WRITERS: dict[type, _Writer] = {}


def _info_writer(cls: type) -> _Writer:
    """The writer of a record class: each value under its name (but the object's own keys), ints, bools and None as
    they are, the rest through `json_value`. Generated once per class, as `namedtuple` and `dataclass` generate
    their methods: a store per value costs half a dict update from pairs (measured: 1.0 against 1.9 us/object)."""
    writer = _INFO_WRITERS.get(cls)
    if writer is None:
        stores = [
            f"    v = record.{name}\n    data[{name!r}] = v if v.__class__ in plain else json_value(v, namespaces)\n"
            for name in info_keys(cls)
        ]
        scope = {"plain": _PLAIN, "json_value": json_value}
        exec("def write(data, record, namespaces):\n" + ("".join(stores) or "    pass\n"), scope)
        writer = _INFO_WRITERS[cls] = scope["write"]
    return writer


@cache  # a few dozen modes in a scan
def _perms(mode: int) -> str:
    return f"{mode & 0o7777:04o}"


def info_items(info: object | None) -> Iterator[tuple[str, Any]]:
    """(name, value) of every kind-specific value of an object's record (`IpcObject.info`), in field order."""
    if info is not None:
        for name in info_names(type(info)):
            yield name, getattr(info, name)


def json_value(value: Any, namespaces: dict[int, Any]) -> Any:
    """A record's value as JSON: strings escaped, tuples as lists, records by their own JSON, a namespace by its
    brief JSON (`namespace_json`)."""
    if value.__class__ in _PLAIN:  # most values: nothing to do
        return value
    if isinstance(value, str):
        return escape(value)
    if type(value) is tuple:  # not a record that is a NamedTuple (a Holder)
        return [json_value(v, namespaces) for v in value]
    if hasattr(value, "brief_json"):  # a Namespace
        return namespace_json(value, namespaces)
    if hasattr(value, "to_json"):
        return value.to_json()
    return value


def namespace_json(ns: Namespace, namespaces: dict[int, Any]) -> dict[str, Any]:
    """`ns.brief_json()`, built once per `namespaces`: by id (a namespace is not hashable), kept with the namespace
    (its id is never another's while it is there)."""
    found = namespaces.get(id(ns))
    if found is None:
        found = namespaces[id(ns)] = (ns, ns.brief_json())
    return found[1]


class Holder(NamedTuple):
    """A process that holds an object: through an open fd, or (fd is None) through a memory mapping. A NamedTuple:
    a scan builds one per hold, and a record costs 2.5 times as much to build."""

    pid: int
    comm: str
    user: str
    fd: int | None
    mode: str  # "r", "w" or "rw"
    start: int  # process start time, clock ticks since boot (field 22 of /proc/PID/stat)

    @property
    def via(self) -> str:
        return "mapped" if self.fd is None else str(self.fd)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "comm": escape(self.comm),
            "user": escape(self.user),
            "fd": self.fd,
            "mode": self.mode,
            "start": self.start,
        }


class Waiter(NamedTuple):
    """A thread asleep in the kernel waiting on an object (filled in by the blocked-thread analysis)."""

    pid: int
    tid: int
    op: str

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "tid": self.tid, "op": self.op}


@record
class Process:
    """One process as seen in the /proc pass."""

    pid: int
    ppid: int
    comm: str
    cmdline: tuple[str, ...]
    uid: int
    user: str
    start: int  # clock ticks since boot
    state: str  # one letter from /proc/PID/stat

    @property
    def identity(self) -> str:
        return f"{self.pid}@{self.start}"

    @property
    def command(self) -> str:
        """The full command line, or `[comm]` for kernel threads and processes without one."""
        return " ".join(self.cmdline) if self.cmdline else f"[{self.comm}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "ppid": self.ppid,
            "comm": escape(self.comm),
            "cmdline": [escape(a) for a in self.cmdline],
            "uid": self.uid,
            "user": self.user,
            "start": self.start,
            "state": self.state,
            "identity": self.identity,
        }


@record(init=False)  # its own __init__: record need not write one
class IpcObject:
    """One live IPC object: the fields every kind has; `info` holds its kind's own values (scan.info)."""

    ref: str
    kind: Kind
    name: str | None
    id: int | None
    key: int | None
    owner: str
    uid: int | None
    mode: int | None  # permission bits, e.g. 0o600
    size: int | None
    holders: tuple[Holder, ...]
    stale: bool
    stale_reason: str | None
    identity: str
    info: KindInfo | None = None
    waiters: tuple[Waiter, ...] = ()
    # The namespace it lives in (IPC for SysV and POSIX queues, mount for POSIX shm/sem and FIFOs); None for kinds
    # no namespace scopes (kinds.UNSCOPED_KINDS): a unix socket's net namespace is in its info (net_namespace).
    namespace: Namespace | None = None
    removed_at_logout: str | None = None  # who removes it at its owner's logout (scan.logind), when someone does

    # Written by hand (init=False above): each field set through its slot's descriptor, where the generated one
    # calls object.__setattr__ per field; 2.2x faster. The twin of the compiled one (below). Its signature is the
    # fields' (tests/unit/test_model.py checks it).
    def __init__(
        self,
        ref: str,
        kind: Kind,
        name: str | None,
        id: int | None,  # noqa: A002 - the field's name
        key: int | None,
        owner: str,
        uid: int | None,
        mode: int | None,
        size: int | None,
        holders: tuple[Holder, ...],
        stale: bool,
        stale_reason: str | None,
        identity: str,
        info: KindInfo | None = None,
        waiters: tuple[Waiter, ...] = (),
        namespace: Namespace | None = None,
        removed_at_logout: str | None = None,
    ) -> None:
        _set_ref(self, ref)
        _set_kind(self, kind)
        _set_name(self, name)
        _set_id(self, id)
        _set_key(self, key)
        _set_owner(self, owner)
        _set_uid(self, uid)
        _set_mode(self, mode)
        _set_size(self, size)
        _set_holders(self, holders)
        _set_stale(self, stale)
        _set_stale_reason(self, stale_reason)
        _set_identity(self, identity)
        _set_info(self, info)
        _set_waiters(self, waiters)
        _set_namespace(self, namespace)
        _set_removed_at_logout(self, removed_at_logout)

    def value(self, name: str) -> Any:
        """The kind-specific value called `name` (a field of `info`), None when its kind has none: for generic
        columns and checks; code that knows the kind reads `info` directly."""
        return getattr(self.info, name, None)

    @property
    def perms(self) -> str | None:
        return None if self.mode is None else _perms(self.mode)

    @property
    def label(self) -> str:
        """What a person calls this object (raw: escape it to show): its name, else its key, else its ref."""
        if self.name is not None:
            return self.name
        if self.key is not None:
            return f"0x{self.key & 0xFFFFFFFF:08x}"
        return self.ref

    @property
    def holder_pids(self) -> frozenset[int]:
        return frozenset(h.pid for h in self.holders)

    def to_json(self) -> dict[str, Any]:
        return self.json_with({})

    def json_with(self, namespaces: dict[int, Any]) -> dict[str, Any]:
        """`to_json`, with `namespaces` the brief JSON of each namespace already written (by id; see objects_json)."""
        name, mode, holders, waiters, ns = self.name, self.mode, self.holders, self.waiters, self.namespace
        data: dict[str, Any] = {
            "ref": escape(self.ref),
            "kind": self.kind,
            "name": None if name is None else escape(name),
            "id": self.id,
            "key": self.key,
            "owner": escape(self.owner),
            "uid": self.uid,
            "perms": None if mode is None else _perms(mode),
            "mode": mode,
            "size": self.size,
            "holders": [h.to_json() for h in holders] if holders else [],
            "waiters": [w.to_json() for w in waiters] if waiters else [],
            "stale": self.stale,
            "stale_reason": self.stale_reason,
            "identity": self.identity,  # numbers and kind names only (`file:DEV:INO`, `sysv-shm:ID`): no name in it
            "namespace": None if ns is None else namespace_json(ns, namespaces),
        }
        info = self.info
        if info is not None:
            _info_writer(type(info))(data, info, namespaces)
        if self.removed_at_logout is not None:
            data["removed_at_logout"] = escape(self.removed_at_logout)
        return data


def objects_json(objects: Iterable[IpcObject]) -> list[dict[str, Any]]:
    """Each object's `to_json`, with one brief JSON per namespace shared by the objects in it (read, never change)."""
    namespaces: dict[int, Any] = {}
    return [o.json_with(namespaces) for o in objects]


# The slots' own setters (a frozen record's __setattr__ refuses), for IpcObject.__init__.
(
    _set_ref, _set_kind, _set_name, _set_id, _set_key, _set_owner, _set_uid, _set_mode, _set_size, _set_holders,
    _set_stale, _set_stale_reason, _set_identity, _set_info, _set_waiters, _set_namespace, _set_removed_at_logout,
) = (getattr(IpcObject, f.name).__set__ for f in fields(IpcObject))  # fmt: skip
# Built, the compiled helper's __init__ replaces it: no Python frame, 0.09 against 1.04 us; one per object of a scan.
_init_twin = IpcObject.__init__
IpcObject.__init__ = compiled_init(IpcObject, _init_twin) or _init_twin  # type: ignore[method-assign]


class ScanError(NamedTuple):
    """Something the scan could not see; the scan carries on without it."""

    where: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"where": escape(self.where), "message": escape(self.message)}  # a path may be a hostile name

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@record(slots=False)  # an instance __dict__ for the cached_property lookups
class Snapshot:
    """Everything one scan saw. Immutable; the TUI diffs two snapshots by `ref`."""

    objects: tuple[IpcObject, ...]
    processes: Mapping[int, Process]
    errors: tuple[ScanError, ...] = ()
    notes: tuple[str, ...] = ()  # host-level facts: "not root: ...", "/dev/mqueue is not mounted"
    taken_at: float = 0.0  # time.time() when the scan started
    duration: float = 0.0  # seconds the scan took
    namespaces: tuple[Namespace, ...] = ()  # every IPC, mount and net namespace discovered (host ones first)
    # The blocked-thread analysis's thread samples from the same /proc pass (a `scan.waits.WaitSamples`, typed
    # loosely: the model never imports the analysis); None when the scan sampled no threads.
    threads: Any = field(default=None, compare=False, repr=False)

    # Built on first use: `list` never looks an object up.
    @cached_property
    def _by_ref(self) -> dict[str, IpcObject]:
        return {obj.ref: obj for obj in self.objects}

    @cached_property
    def _by_pid(self) -> dict[int, list[IpcObject]]:
        by_pid: dict[int, list[IpcObject]] = {}
        for obj in self.objects:
            for pid in obj.holder_pids:
                by_pid.setdefault(pid, []).append(obj)
        return by_pid

    def get(self, ref: str) -> IpcObject | None:
        """The object whose ref is exactly `ref`."""
        return self._by_ref.get(ref)

    def find(self, ref_text: str) -> IpcObject | None:
        """The object a person named (the CLI's REF arguments): its ref as shown (escaped, as `list` and the JSON
        print it), else its raw form. The shown form wins: `a\\x1b` is the ref shown for a name holding ESC, even
        when another name holds those four characters (its ref is shown as `a\\\\x1b`)."""
        if "\\" in ref_text:  # a shown form differs from its raw ref only when it holds a backslash
            shown = next((o for o in self.objects if escape(o.ref) == ref_text), None)
            if shown is not None:
                return shown
        return self._by_ref.get(ref_text)

    def namespace(self, tag: str) -> Namespace | None:
        """The namespace whose tag (`ipc:4026532251`) is `tag`."""
        return next((ns for ns in self.namespaces if ns.tag == tag), None)

    def in_namespace(self, ns: Namespace) -> list[IpcObject]:
        """The objects that live in `ns` (kinds no namespace scopes live in none: pipes, unix sockets, ...)."""
        return [o for o in self.objects if o.namespace is not None and o.namespace.key == ns.key]

    def of_kind(self, kind: str) -> list[IpcObject]:
        return [o for o in self.objects if o.kind == kind]

    def held_by(self, pid: int) -> list[IpcObject]:
        """Every object the process holds (fd or mapping)."""
        return list(self._by_pid.get(pid, ()))

    @property
    def holder_processes(self) -> list[Process]:
        """Processes that hold at least one IPC object, by pid."""
        return [self.processes[pid] for pid in sorted(self._by_pid) if pid in self.processes]

    def to_json(self, objects: Iterable[IpcObject] | None = None) -> dict[str, Any]:
        """The snapshot as JSON; `objects` (a selection of them) instead of all of them."""
        return {
            "objects": objects_json(self.objects if objects is None else objects),
            "errors": [e.to_json() for e in self.errors],
            "notes": [escape(n) for n in self.notes],  # a note may quote a container's name
            "namespaces": [ns.to_json() for ns in self.namespaces],
            "taken_at": self.taken_at,
            "duration": self.duration,
        }
