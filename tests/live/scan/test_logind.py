"""RemoveIPC: logind.conf and its drop-ins read as logind reads them (recorded files in private trees), and the
note on a real object owned by a non-system user."""

from __future__ import annotations

import pathlib

import pytest
import sysv_ipc

from ipcwatch.scan import ScanConfig, scan
from ipcwatch.scan.logind import (
    FIELD,
    config_files,
    parse_remove_ipc,
    parse_sys_uid_max,
    read_policy,
)
from tests.conftest import Cleanup, needs_root, unique_key

DEBIAN_LOGIND = """\
#  This file is part of systemd.
[Login]
#NAutoVTs=6
#KillUserProcesses=no
#RemoveIPC=yes
#InhibitDelayMaxSec=5
"""


def tree(tmp_path: pathlib.Path, files: dict[str, str], systemd: bool = True) -> str:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if systemd:
        (tmp_path / "run/systemd/system").mkdir(parents=True, exist_ok=True)
    return str(tmp_path)


def test_the_default_is_yes_and_comments_do_not_count(tmp_path) -> None:
    root = tree(tmp_path, {"etc/systemd/logind.conf": DEBIAN_LOGIND})
    policy = read_policy(root)
    assert (policy.remove_ipc, policy.source, policy.sys_uid_max, policy.systemd) == (True, "default", 999, True)
    assert policy.applies_to(1000) and not policy.applies_to(999) and not policy.applies_to(0)
    assert not policy.applies_to(None)


def test_drop_ins_override_in_name_order_and_etc_hides_the_same_name_elsewhere(tmp_path) -> None:
    root = tree(
        tmp_path,
        {
            "etc/systemd/logind.conf": "[Login]\nRemoveIPC=no\n",
            "usr/lib/systemd/logind.conf.d/10-vendor.conf": "[Login]\nRemoveIPC=yes\n",
            "run/systemd/logind.conf.d/20-runtime.conf": "[Login]\nRemoveIPC=no\n",
            "usr/lib/systemd/logind.conf.d/30-late.conf": "[Login]\nRemoveIPC=on\n",
            "etc/systemd/logind.conf.d/30-late.conf": "[Login]\nRemoveIPC=off\n",  # hides /usr/lib's 30-late
            "etc/systemd/logind.conf.d/README": "[Login]\nRemoveIPC=yes\n",  # not a .conf: ignored
        },
    )
    assert config_files(root) == [
        f"{root}/etc/systemd/logind.conf",
        f"{root}/usr/lib/systemd/logind.conf.d/10-vendor.conf",
        f"{root}/run/systemd/logind.conf.d/20-runtime.conf",
        f"{root}/etc/systemd/logind.conf.d/30-late.conf",
    ]
    policy = read_policy(root)
    assert (policy.remove_ipc, policy.source) == (False, f"{root}/etc/systemd/logind.conf.d/30-late.conf")
    (tmp_path / "etc/systemd/logind.conf.d/40-yes.conf").write_text("[Login]\nRemoveIPC=true\n")
    assert read_policy(root).remove_ipc is True


def test_main_file_falls_back_to_usr_lib_and_no_systemd_means_no_removal(tmp_path) -> None:
    root = tree(tmp_path, {"usr/lib/systemd/logind.conf": "[Login]\nRemoveIPC=no\n"}, systemd=False)
    policy = read_policy(root)
    assert policy.remove_ipc is False and policy.systemd is False and not policy.applies_to(5000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[Login]\nRemoveIPC=no\n", False),
        ("[Login]\n RemoveIPC = No \n", False),
        ("[Other]\nRemoveIPC=no\n", None),  # another section
        ("[Login]\nRemoveIPC=maybe\n", None),  # invalid: ignored, as logind ignores it
        ("[Login]\nRemoveIPC=no\nRemoveIPC=1\n", True),  # the last one wins
        ("; RemoveIPC=no\n[Login]\n# RemoveIPC=no\n", None),
        ("\x00\xff garbage = = =\n[Login\nRemoveIPC=no", None),  # an unclosed section header is no section
    ],
)
def test_parse_remove_ipc(text: str, expected: bool | None) -> None:
    assert parse_remove_ipc(text) is expected


def test_parse_sys_uid_max() -> None:
    assert parse_sys_uid_max("SYS_UID_MIN 101\nSYS_UID_MAX   499\n") == 499
    assert parse_sys_uid_max("#SYS_UID_MAX 499\n") == 999
    assert parse_sys_uid_max("SYS_UID_MAX lots\n") == 999
    assert parse_sys_uid_max("") == 999


@needs_root
def test_a_real_segment_of_a_non_system_user_says_it_is_removed_at_logout(tmp_path, cleanup: Cleanup) -> None:
    root = tree(tmp_path, {"etc/login.defs": "SYS_UID_MAX 999\n"})
    shm = sysv_ipc.SharedMemory(unique_key(), sysv_ipc.IPC_CREX, size=4096)
    cleanup.add(shm.remove)
    shm.uid = 4321  # IPC_SET: hand it to a non-system user
    config = ScanConfig(kinds=frozenset({"sysv-shm"}), config_root=root, waiters=False)
    obj = scan(config).get(f"sysv-shm:{shm.id}")
    assert obj is not None and obj.uid == 4321
    assert obj.removed_at_logout == f"removed when {obj.owner} logs out (systemd-logind RemoveIPC=yes)"
    assert obj.to_json()[FIELD] == obj.removed_at_logout
    shm.uid = 0
    assert (scan(config).get(f"sysv-shm:{shm.id}") or obj).removed_at_logout is None  # root's objects stay
    (tmp_path / "etc/systemd/logind.conf.d").mkdir(parents=True)
    (tmp_path / "etc/systemd/logind.conf.d/no.conf").write_text("[Login]\nRemoveIPC=no\n")
    shm.uid = 4321
    assert (scan(config).get(f"sysv-shm:{shm.id}") or obj).removed_at_logout is None
