"""The kinds registry and the typed per-kind records (no root, no kernel objects)."""

from __future__ import annotations

import pytest

from ipcwatch.kinds import (
    FILE_KINDS,
    KIND_TITLES,
    KINDS,
    PATH_KINDS,
    QUEUE_KINDS,
    SEMAPHORE_KINDS,
    SPECS,
    SYSV_KINDS,
    UNSCOPED_KINDS,
    Home,
    Kind,
    Removal,
    parse_kind,
    spec,
)
from ipcwatch.scan import IpcObject, Snapshot
from ipcwatch.scan.info import PipeInfo, SysvSemInfo, UnixInfo, WaitingClient
from ipcwatch.scan.model import Holder, info_items


def test_every_kind_has_one_spec_looked_up_by_enum_or_string() -> None:
    assert list(SPECS) == list(Kind) == list(KINDS)
    for kind in Kind:
        assert spec(kind) is spec(kind.value) is SPECS[kind]
        assert KIND_TITLES[kind] == spec(kind).title
    assert parse_kind("posix-mq") is Kind.POSIX_MQ and parse_kind("nope") is None
    with pytest.raises(KeyError):
        spec("nope")


def test_short_labels_are_unique_and_narrow() -> None:
    labels = [s.label for s in SPECS.values()]
    assert len(set(labels)) == len(labels) and all(1 <= len(label) <= 5 for label in labels)


def test_groups_are_derived_from_the_specs() -> None:
    assert {Kind.SYSV_SHM, Kind.SYSV_MSG, Kind.SYSV_SEM} == SYSV_KINDS
    assert {Kind.SYSV_MSG, Kind.POSIX_MQ} == QUEUE_KINDS and {Kind.SYSV_SEM, Kind.POSIX_SEM} == SEMAPHORE_KINDS
    assert PATH_KINDS == {Kind.FIFO, Kind.UNIX} < FILE_KINDS
    assert {Kind.PIPE, Kind.UNIX, Kind.EVENTFD, Kind.SIGNALFD} == UNSCOPED_KINDS
    for s in SPECS.values():
        assert (s.file_type is not None) == (s.removal is Removal.UNLINK) == (s.kind in FILE_KINDS)
        assert (s.not_removable is None) == s.removable
        assert (s.sysv_table is not None) == (s.removal is Removal.IPC_RMID)
        assert bool(s.view_dir) == (s.home in (Home.SHM_DIR, Home.MQUEUE_DIR))
    assert spec(Kind.POSIX_SEM).entry_prefix == "sem." and spec(Kind.POSIX_SEM).view_dir == "dev/shm"


def _obj(ref: str, kind: Kind, info: object, name: str | None = None) -> IpcObject:
    return IpcObject(ref, kind, name, None, None, "root", 0, None, None, (), False, None, ref, info=info)  # type: ignore[arg-type]


def test_records_are_slotted_and_write_the_json_keys() -> None:
    holder = Holder(7, "evil\x1b[2J", "root", 3, "rw", 100)
    info = UnixInfo("stream", "listen", "/tmp/a\x1bb", peer_holders=(holder,), waiting_clients=(WaitingClient(9, ()),))
    obj = _obj("unix:5", Kind.UNIX, info)
    for record in (info, PipeInfo(1, 0, None, None), SysvSemInfo(1, None, None, None, 0, 0, None, 0)):
        assert not hasattr(record, "__dict__")
    data = obj.to_json()
    assert data["path"] == "/tmp/a\\x1bb" and data["peer_holders"][0]["comm"] == "evil\\x1b[2J"
    assert data["waiting_clients"] == [{"inode": 9, "holders": []}] and data["net_namespace"] is None
    assert [name for name, _ in info_items(info)] == [
        *("type", "state", "path", "abstract", "peer", "peer_holders", "recv_queue", "send_queue"),
        *("pending_connections", "backlog", "waiting_clients", "net_namespace"),
    ]
    assert obj.value("state") == "listen" and obj.value("nattch") is None


def test_find_accepts_the_raw_and_the_shown_ref() -> None:
    esc = _obj("posix-shm:a\x1bb", Kind.POSIX_SHM, None, name="a\x1bb")  # refs are raw
    snap = Snapshot((esc,), {})
    assert snap.find("posix-shm:a\\x1bb") is esc  # what the user sees
    assert snap.find("posix-shm:a\x1bb") is esc  # the raw name
    assert snap.find("posix-shm:ab") is None
    look_alike = _obj("posix-shm:a\\x1bb", Kind.POSIX_SHM, None, name="a\\x1bb")  # those four characters
    snap = Snapshot((esc, look_alike), {})
    assert snap.find("posix-shm:a\\x1bb") is esc  # the shown form wins
    assert snap.find("posix-shm:a\\\\x1bb") is look_alike  # its own shown form
    assert snap.get("posix-shm:a\\x1bb") is look_alike  # an exact raw look-up
