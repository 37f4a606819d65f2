"""What a workload made, written down as it is made, so that it can always be removed again, and only it.

A `Ledger` appends one JSON line per thing it is told about to a marker file in a private state directory:
SysV ids with their identity (id, key, creator, ctime, cpid/size/nsems), POSIX names, FIFO/socket paths and
directories with dev/inode, child pids with their start time. `Ledger.remove_all` takes everything away on a
normal stop; `sweep` does the same for markers whose owner is gone (killed with SIGKILL). Either way a thing is
removed only while its identity still matches the marker, so an object re-created by someone else under the same
name, key or id is left alone.

The state directory is /run/ipcwatch as root, else $XDG_RUNTIME_DIR/ipcwatch or ~/.local/state/ipcwatch: never a
predictable path in /tmp or /dev/shm. It must be ours and 0700; markers are created O_EXCL|O_NOFOLLOW, mode 0600.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import stat
from collections.abc import Iterable

from ipcwatch import libc_write
from ipcwatch.actions.outcome import Outcome, Status, done, failed, from_oserror, refused
from ipcwatch.actions.remove import unlink_checked
from ipcwatch.kinds import SYSV_KINDS, Home, parse_kind, spec
from ipcwatch.procfs import stat_identity
from ipcwatch.record import field, record
from ipcwatch.scan.parsers import parse_table
from ipcwatch.scan.procs import process_at
from ipcwatch.scan.sysv import TABLES, sysv_identity

# Besides the IPC kinds' refs, a ledger records these: a private directory (removed with what is in it) and a child
DIR, PROCESS = "dir", "process"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SUFFIX = ".marker"


class StateDirError(OSError):
    """The state directory cannot be used safely (not ours, not 0700, a symlink, not creatable)."""


def state_dir() -> str:
    """Where markers live: /run/ipcwatch as root, else $XDG_RUNTIME_DIR/ipcwatch or ~/.local/state/ipcwatch."""
    if os.geteuid() == 0:
        return "/run/ipcwatch"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/") and os.path.isdir(runtime):
        return os.path.join(runtime, "ipcwatch")
    return os.path.join(os.path.expanduser("~"), ".local", "state", "ipcwatch")


def open_state_dir(create: bool) -> int | None:
    """A directory fd on the state directory, checked to be ours and 0700; None when it does not exist (yet)."""
    path = state_dir()
    if create:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    try:
        fd = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateDirError(exc.errno, f"state directory {path}: {exc.strerror}") from None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        os.close(fd)
        raise StateDirError(f"state directory {path} is not private (owner {st.st_uid}, mode {st.st_mode & 0o777:o})")
    return fd


# --- identity of what a ref names now --------------------------------------------------------------------------


def identities(refs: Iterable[str]) -> dict[str, str | None]:
    """The identity of whatever each ref names right now (None: nothing there); each SysV table is read once,
    however many refs name its objects."""
    sysv: dict[str, dict[str, str]] = {}  # kind -> id -> ref
    found: dict[str, str | None] = {}
    for ref in refs:
        kind, _, rest = ref.partition(":")
        if kind in SYSV_KINDS:
            sysv.setdefault(kind, {})[rest] = ref
        else:
            found[ref] = _identify_other(kind, rest)
    for kind, wanted in sysv.items():
        listed = _sysv_identities(kind, wanted.keys())
        found.update({ref: listed.get(ident) for ident, ref in wanted.items()})
    return found


def identify(ref: str) -> str | None:
    """The identity of whatever `ref` names right now; None when nothing is there."""
    return identities((ref,))[ref]


def _sysv_identities(kind: str, ids: Iterable[str]) -> dict[str, str]:
    """id -> identity of the listed objects among `ids`; only their rows are parsed (the table may hold many more)."""
    table, id_column, extra = TABLES[kind]  # type: ignore[index]
    try:
        with open(f"/proc/sysvipc/{table}", "rb") as f:
            header, _, body = f.read().partition(b"\n")
    except OSError:
        return {}
    columns = header.split()
    if id_column.encode() not in columns:
        return {}
    at, wanted = columns.index(id_column.encode()), {i.encode() for i in ids}
    lines = [line for line in body.split(b"\n") if (cells := line.split()) and len(cells) > at and cells[at] in wanted]
    rows = parse_table(b"\n".join([header, *lines]))
    return {str(row.get(id_column)): sysv_identity(kind, row, id_column, *extra) for row in rows}


def _identify_other(kind: str, rest: str) -> str | None:
    try:
        if kind == PROCESS:
            proc = process_at(int(rest))
            return proc.identity if proc is not None and proc.state not in ("Z", "X") else None  # a zombie is gone
        st = os.lstat(_path_of(kind, rest))
    except (OSError, ValueError):
        return None
    is_type = stat.S_ISDIR if kind == DIR else spec(kind).file_type
    return stat_identity(st) if is_type is not None and is_type(st.st_mode) else None


@functools.cache
def _home(kind: str) -> tuple[Home, str]:
    """(where files of the kind of a ref live, their entry prefix); Home.NONE for a ref that names no file."""
    if kind == DIR:
        return Home.PATH, ""
    known = parse_kind(kind)
    return (Home.NONE, "") if known is None else (spec(known).home, spec(known).entry_prefix)


def _path_of(kind: str, rest: str) -> str:
    """The path a directory's or a file kind's ref names; ValueError for any other ref."""
    home, prefix = _home(kind)
    if home in (Home.SHM_DIR, Home.MQUEUE_DIR):
        if not rest or "/" in rest:
            raise ValueError(f"not a POSIX name: {rest!r}")
        return f"{home}/{prefix}{rest}"
    if home is Home.PATH and rest.startswith("/"):
        return rest
    raise ValueError(f"not a workload ref: {kind}:{rest}")


@record
class Entry:
    """One thing a workload made, with the identity it had just after it was made (None: could not be read)."""

    ref: str
    identity: str | None


class Directories:
    """Directory fds opened once each while many entries are removed; each checked unlink gets (and closes) a dup:
    one open and one last close per directory instead of one per entry (costly while the holders exit)."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}

    def __enter__(self) -> Directories:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def dup(self, path: str) -> int | str:
        """A new fd on directory `path` (the path itself when it cannot be opened: the unlink then says why)."""
        if path not in self._fds:
            try:
                self._fds[path] = os.open(path, _DIR_FLAGS)
            except OSError:
                return path
        return os.dup(self._fds[path])


def remove(entry: Entry, now: str | None, directories: Directories | None = None) -> Outcome:
    """Remove (or, for a process, SIGKILL) the thing behind `entry` only if what is there `now` (its identity,
    read just before) is still the one recorded."""
    ref, expected = entry.ref, entry.identity
    kind, _, rest = ref.partition(":")
    if now is None:
        return Outcome(Status.GONE, f"{ref}: already gone")
    if expected is None or now != expected:
        return refused(f"{ref} is not the one the workload made (identity {now}, recorded {expected}); left alone")
    try:
        if kind == PROCESS:
            os.kill(int(rest), signal.SIGKILL)
            return done(f"killed {ref}")
        if kind in SYSV_KINDS:
            libc_write.ipc_rmid(kind, int(rest))
            return done(f"removed {ref}")
        path = _path_of(kind, rest)
        if kind == DIR:
            shutil.rmtree(path)
            return done(f"removed {ref}")
        where = os.path.dirname(path)
        directory = where if directories is None else directories.dup(where)
        return unlink_checked(directory, os.path.basename(path), expected, None, kind, ref)
    except OSError as exc:
        return from_oserror(exc, ref)
    except ValueError as exc:
        return failed(f"{ref}: {exc}")


# --- the ledger --------------------------------------------------------------------------------------------------


@record(frozen=False)
class Ledger:
    """The entries of one running workload, mirrored line by line into its marker file (when one could be made)."""

    tool: str
    entries: list[Entry] = field(default_factory=list)
    marker: str | None = None  # file name in the state directory
    problem: str | None = None  # why there is no marker (raw text)
    _fd: int | None = None

    @classmethod
    def open(cls, tool: str) -> Ledger:
        """A ledger with a fresh marker `TOOL-PID-TOKEN.marker`; without one (and `problem` saying why) if unsafe."""
        ledger = cls(tool)
        owner = process_at(os.getpid())
        if owner is None:
            ledger.problem = "cannot read this process's start time from /proc"
            return ledger
        try:
            dir_fd = open_state_dir(create=True)
            assert dir_fd is not None
        except OSError as exc:
            ledger.problem = str(exc)
            return ledger
        try:
            name = f"{tool}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_APPEND | os.O_CLOEXEC
            ledger._fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
            ledger.marker = name
        except OSError as exc:
            ledger.problem = f"marker in {state_dir()}: {exc.strerror}"
            return ledger
        finally:
            os.close(dir_fd)
        ledger._write({"tool": tool, "owner": owner.identity})
        return ledger

    def add(self, ref: str) -> Entry:
        """Record `ref` with the identity it has now (call right after making it)."""
        entry = Entry(ref, identify(ref))
        self.entries.append(entry)
        self._write({"ref": entry.ref, "identity": entry.identity})
        return entry

    def add_many(self, refs: Iterable[str]) -> int:
        """Record every ref that names something now (one read per SysV table, one write); how many were."""
        found = [Entry(ref, identity) for ref, identity in identities(refs).items() if identity is not None]
        self.entries += found
        self._write(*({"ref": e.ref, "identity": e.identity} for e in found))
        return len(found)

    def _write(self, *records: dict[str, object]) -> None:
        if self._fd is not None and records:  # one write: a kill cuts at most the line being written
            os.write(self._fd, b"".join(json.dumps(record).encode() + b"\n" for record in records))

    def remove_all(self) -> list[Outcome]:
        """Remove every entry, newest first (children before objects, a directory after its files), then the marker
        unless something could not be removed (it stays for `sweep`). Idempotent."""
        outcomes = _remove_entries(self.entries)
        self.entries.clear()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if self.marker and not any(o.status in (Status.DENIED, Status.FAILED) for o in outcomes):
                _unlink_marker(self.marker)
                self.marker = None
        return outcomes


def _remove_entries(entries: list[Entry]) -> list[Outcome]:
    """Remove entries newest first, each checked against the identity read (in bulk) just before."""
    now = identities(entry.ref for entry in entries)
    with Directories() as directories:
        return [remove(entry, now[entry.ref], directories) for entry in reversed(entries)]


def _unlink_marker(name: str) -> None:
    dir_fd = open_state_dir(create=False)
    if dir_fd is None:
        return
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    finally:
        os.close(dir_fd)


# --- sweeping what killed workloads left -------------------------------------------------------------------------


@record
class Swept:
    """What sweeping one marker did."""

    marker: str
    owner: str | None
    outcomes: tuple[Outcome, ...]
    kept: bool  # the marker stays: something could not be removed

    @property
    def removed(self) -> int:
        return sum(o.ok for o in self.outcomes)


def sweep(tool: str, *, live_too: bool = False) -> list[Swept]:
    """Remove what every dead owner's marker of `tool` lists (identity-checked); live owners are left alone unless
    `live_too`."""
    dir_fd = open_state_dir(create=False)
    if dir_fd is None:
        return []
    try:
        records = {}
        for name in sorted(os.listdir(dir_fd)):
            if name.startswith(f"{tool}-") and name.endswith(SUFFIX):
                with contextlib.suppress(OSError):
                    records[name] = _read_marker(dir_fd, name)
    finally:
        os.close(dir_fd)
    swept = []
    for name, (owner, entries) in records.items():
        if owner is None:  # the header was cut by a kill: nothing was recorded after it
            if not entries and not os.path.exists(f"/proc/{name.split('-')[1]}"):
                _unlink_marker(name)
            continue
        if not live_too and identify(f"{PROCESS}:{owner.partition('@')[0]}") == owner:
            continue  # a running workload: its own stop removes all of it
        outcomes = tuple(_remove_entries(entries))
        kept = any(o.status in (Status.DENIED, Status.FAILED) for o in outcomes)
        if not kept:
            _unlink_marker(name)
        swept.append(Swept(name, owner, outcomes, kept))
    return swept


def _read_marker(dir_fd: int, name: str) -> tuple[str | None, list[Entry]]:
    """(owner identity, entries) of a marker; lines that do not parse (a write cut by a kill) are skipped."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, []
        data = f.read()  # ours: in a 0700 directory, 0600, written by a workload
    owner, entries = None, []
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "owner" in record:
            owner = record["owner"] if isinstance(record["owner"], str) else None
        elif isinstance(record.get("ref"), str) and isinstance(record.get("identity"), str | None):
            entries.append(Entry(record["ref"], record["identity"]))
    return owner, entries
