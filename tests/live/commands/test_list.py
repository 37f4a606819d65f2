"""`ipcwatch list`: tables and JSON over real objects, hostile names escaped, robust when not root or racing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from ipcwatch.scan import KINDS, scan
from ipcwatch.scan.info import SysvShmInfo
from tests.conftest import scan_kinds, unique_name
from tests.paths import REPO

HOSTILE = ["[@click=app.quit]x", "\x1b]2;PWNED\x07", "shm[bold", "tab\there", "nl\nrow", "bidi\u202eevil", "\x9b2J"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    root = str(REPO)
    cmd = [sys.executable, "-m", "ipcwatch", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=root)


def test_json_contract_types(sysv_shm, sysv_msg, posix_shm):
    shm = sysv_shm(size=4096)
    sysv_msg()
    name, _ = posix_shm(size=100)
    result = run_cli("list", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert set(data) >= {"objects", "errors"}
    by_ref = {o["ref"]: o for o in data["objects"]}
    for o in data["objects"]:
        for field in ("ref", "kind", "name", "id", "key", "owner", "perms", "size", "holders", "stale",
                      "stale_reason", "identity", "waiters"):
            assert field in o, field
        assert o["kind"] in KINDS
    seg = by_ref[f"sysv-shm:{shm.id}"]
    assert seg["id"] == shm.id and seg["key"] == shm.key and seg["size"] == 4096
    assert isinstance(seg["nattch"], int) and seg["name"] is None and seg["perms"] == "0600"
    assert by_ref[f"posix-shm:{name}"]["size"] == 100


def test_kind_and_stale_filters(sysv_shm, posix_shm):
    name, _ = posix_shm()  # nobody holds it: stale
    result = run_cli("list", "--kind", "posix-shm", "--stale", "--json")
    objects = json.loads(result.stdout)["objects"]
    assert {o["kind"] for o in objects} == {"posix-shm"}
    assert all(o["stale"] for o in objects)
    assert f"posix-shm:{name}" in {o["ref"] for o in objects}


def test_table_output_has_titles_and_objects(sysv_shm):
    shm = sysv_shm(size=1 << 20)
    result = run_cli("list", "--kind", "sysv-shm")
    assert result.returncode == 0
    assert "SysV shared memory (sysv-shm)" in result.stdout
    line = next(line for line in result.stdout.splitlines() if f"0x{shm.key:08x}" in line)
    assert "1.0M" in line and "root" in line


def test_unknown_kind_is_a_usage_error():
    result = run_cli("list", "--kind", "bogus")
    assert result.returncode == 2 and "unknown kind" in result.stderr


@pytest.fixture
def hostile_shm(cleanup):
    names = []
    for raw in HOSTILE:
        name = unique_name() + raw
        fd = os.open(os.path.join("/dev/shm", name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        cleanup.add(lambda n=name: os.unlink(os.path.join("/dev/shm", n)))
        names.append(name)
    return names


def test_hostile_names_are_escaped_in_table_and_json(hostile_shm):
    table = run_cli("list", "--kind", "posix-shm")
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in table.stdout
    rows = [line for line in table.stdout.splitlines() if hostile_shm[0][:12] in line]
    assert len(rows) == len(HOSTILE)  # the newline in a name did not split a row
    assert any("nl\\nrow" in r for r in rows) and any("\\x1b]2;PWNED\\x07" in r for r in rows)
    assert any("[@click=app.quit]x" in r for r in rows)  # shown literally

    data = json.loads(run_cli("list", "--kind", "posix-shm", "--json").stdout)
    shown = {o["name"] for o in data["objects"]}
    assert hostile_shm[1].replace("\x1b", "\\x1b").replace("\x07", "\\x07") in shown
    assert hostile_shm[4].replace("\n", "\\n") in shown
    refs = {o["ref"] for o in data["objects"]}
    assert "posix-shm:" + hostile_shm[6].replace("\x9b", "\\x9b") in refs


def test_not_root_still_lists_and_says_what_is_hidden(sysv_sem, nonroot_cli):
    sem = sysv_sem(initial=2)
    result = nonroot_cli.run("list", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert any("not root" in n for n in data["notes"])
    assert any("permission denied" in e["message"] for e in data["errors"])
    obj = next(o for o in data["objects"] if o["ref"] == f"sysv-sem:{sem.id}")
    assert obj["semaphores"] is None and obj["stale"] is False  # mode 0600: values unreadable, so never stale


def test_scan_survives_processes_vanishing_mid_scan():
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            procs = [subprocess.Popen(["sleep", "0.01"]) for _ in range(10)]
            for p in procs:
                p.wait()

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(15):
            snap = scan()
            refs = [o.ref for o in snap.objects]
            assert len(refs) == len(set(refs))  # refs are unique
    finally:
        stop.set()
        worker.join()


def test_scan_with_a_recorded_sysvipc_tree(tmp_path):
    from tests.unit.scan.test_parsers import RECORDED_SHM

    (tmp_path / "shm").write_bytes(RECORDED_SHM)
    (tmp_path / "msg").write_bytes(b"key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid stime rtime ctime\n")
    (tmp_path / "sem").write_bytes(b"key semid perms nsems uid gid cuid cgid otime ctime\n")
    snap = scan_kinds("sysv-shm", "sysv-msg", "sysv-sem", sysvipc_dir=str(tmp_path))
    host = [o.ref for o in snap.objects if o.namespace is None or o.namespace.host]  # containers' are read live
    assert host == ["sysv-shm:12", "sysv-shm:13"]
    dest = snap.get("sysv-shm:12")
    assert isinstance(dest.info, SysvShmInfo) and dest.info.status == "dest" and dest.perms == "0600"


def test_every_subcommand_is_mapped_to_the_module_that_registers_it():
    from ipcwatch import cli

    full = cli.build_parser()
    registered = set(full._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert registered == set(cli.COMMANDS)
    for command in cli.COMMANDS:
        alone = cli.build_parser(command)._subparsers._group_actions[0].choices  # type: ignore[union-attr]
        assert command in alone, command
    assert cli.command_of(["--read-only", "--interval", "3", "list", "--json"]) == "list"
    assert cli.command_of(["--interval", "list"]) == ""  # "list" there is the interval's value: no command
    assert cli.command_of(["--read-only", "--interval=3"]) == "" and cli.command_of([]) == ""  # the dashboard
    assert cli.command_of(["--bogus"]) is None  # explained with every command in the usage
    dashboard = cli.build_parser("")
    assert not dashboard._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    args = dashboard.parse_args(["--read-only", "--interval", "3"])
    assert args.command is None and args.read_only and args.interval == 3.0
    assert cli.command_of(["--help", "list"]) is None and cli.command_of(["bogus"]) is None


def test_list_imports_neither_the_dashboard_nor_other_commands_heavy_dependencies(posix_shm):
    name, _ = posix_shm()
    code = (
        "import sys\nfrom ipcwatch.cli import main\nmain(['list', '--json'])\n"
        "print(' '.join(sorted(m for m in sys.modules)), file=sys.stderr)\n"
    )
    root = str(REPO)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert result.returncode == 0, result.stderr
    assert f"posix-shm:{name}" in {o["ref"] for o in json.loads(result.stdout)["objects"]}
    loaded = {m.split(".")[0] for m in result.stderr.split()} | set(result.stderr.split())
    for heavy in ("textual", "rich", "psutil", "prometheus_client", "pyroute2", "ipcwatch.tui", "ipcwatch.actions",
                  "ipcwatch.exporter", "ipcwatch.commands.rm", "ipcwatch.workload"):
        assert heavy not in loaded, heavy


def test_json_that_orjson_refuses_is_written_by_the_stdlib_encoder(capfd):
    from ipcwatch.commands.list import write_json

    write_json({"name": "bad\udcff", "big": 2**70})  # a lone surrogate and an int over 64 bits
    assert json.loads(capfd.readouterr().out) == {"name": "bad\udcff", "big": 2**70}
    write_json({"name": "caf\u00e9"})
    out = capfd.readouterr().out
    assert out.endswith("\n") and json.loads(out) == {"name": "caf\u00e9"}


def test_the_streamed_document_is_the_snapshots_json(posix_shm, sysv_msg, capfd, monkeypatch):
    from ipcwatch.commands import list as list_command

    name, _ = posix_shm()
    sysv_msg()
    snap = scan()
    monkeypatch.setattr(list_command, "_CHUNK", 3)  # several chunks even on a quiet host
    for objects in (list(snap.objects), list(snap.objects[:3]), list(snap.objects[:1]), []):
        list_command.write_snapshot_json(snap, objects)
        out = capfd.readouterr().out
        assert out.endswith("\n") and out.count("\n") == 1
        assert json.loads(out) == json.loads(json.dumps(snap.to_json(objects)))
    assert len(snap.objects) > 6 and any(o.ref == f"posix-shm:{name}" for o in snap.objects)
