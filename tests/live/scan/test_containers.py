"""Container names from /proc/PID/cgroup (recorded lines of every runtime, v1 and v2) and from runtime state files
(hostile ones too: symlinks, huge, malformed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipcwatch.scan.containers import CgroupRef, Container, StateFiles, parse_cgroup, parse_path, read_json
from tests.paths import DATA

DATA = DATA / "cgroup"
D = "3f1a9c0e7b2d4c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"
C = "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
P = "00862a87ab0207abb66a54aa237795448dd8b23758192502c072ae24884ed415"
UID = "5f8e2c1a-7b3d-4e9f-a1c2-d3e4f5a6b7c8"

EXPECTED: dict[str, CgroupRef | None] = {
    "docker-v1-cgroupfs.txt": CgroupRef("docker", D),
    "docker-hybrid.txt": CgroupRef("docker", D),
    "docker-v1-systemd.txt": CgroupRef("docker", D),
    "docker-v2-systemd.txt": CgroupRef("docker", D),
    "dockershim-v2-systemd.txt": CgroupRef("docker", D, UID),
    "cri-v1-cgroupfs.txt": CgroupRef("cri", C, UID),
    "cri-v1-cgroupfs-guaranteed.txt": CgroupRef("cri", C, UID),
    "containerd-v2-systemd.txt": CgroupRef("containerd", C, UID),
    "containerd-kind.txt": CgroupRef("containerd", C, UID),
    "crio-v1-systemd.txt": CgroupRef("cri-o", C, UID),
    "crio-v2-systemd.txt": CgroupRef("cri-o", C, UID),
    "crio-conmon.txt": None,
    "podman-v1-cgroupfs-recorded.txt": CgroupRef("podman", P),
    "podman-v1-systemd.txt": CgroupRef("podman", P),
    "podman-v2-systemd.txt": CgroupRef("podman", P),
    "podman-v2-rootless.txt": CgroupRef("podman", P),
    "podman-conmon.txt": None,
    "lxc-v1.txt": CgroupRef("lxc", "web01"),
    "lxc-v2.txt": CgroupRef("lxc", "web01"),
    "lxc-monitor.txt": None,
    "nspawn-v1.txt": CgroupRef("nspawn", "deb-test"),
    "nspawn-v2.txt": CgroupRef("nspawn", "deb-test"),
    "host-session.txt": None,
    "host-dockerd.txt": None,
    "host-root.txt": None,
    "hostile.txt": None,
}


def test_every_recorded_file_has_an_expectation() -> None:
    assert sorted(p.name for p in DATA.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_cgroup_files(name: str) -> None:
    assert parse_cgroup((DATA / name).read_bytes()) == EXPECTED[name]


def test_deepest_container_wins_when_nested() -> None:
    # docker inside an LXC container: the process is in the docker container
    assert parse_path(f"/lxc.payload.web01/system.slice/docker-{D}.scope") == CgroupRef("docker", D)


def test_ids_must_be_exact() -> None:
    assert parse_path(f"/docker/{D[:63]}") is None
    assert parse_path(f"/docker/{D.upper()}") is None
    assert parse_path(f"/docker/{D}x") is None
    assert parse_path(f"/system.slice/docker-{D}.scope.evil") is None


@given(st.binary(max_size=400))
def test_parse_cgroup_never_raises(data: bytes) -> None:
    ref = parse_cgroup(data)
    assert ref is None or isinstance(ref, CgroupRef)


@given(st.lists(st.sampled_from(["docker", "lxc", "kubepods", f"pod{UID}", D, "lxc.payload.x", "..", "a:b"])))
def test_parse_path_never_raises(parts: list[str]) -> None:
    ref = parse_path("/" + "/".join(parts))
    assert ref is None or ref.runtime in {"docker", "cri", "lxc"}


# --- state files, under a private root ---------------------------------------------------------------------------


def _write(root: Path, path: str, content: bytes | str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content.encode() if isinstance(content, str) else content)
    return target


def test_docker_name_and_pod_labels(tmp_path: Path) -> None:
    labels = {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop"}
    _write(
        tmp_path,
        f"/var/lib/docker/containers/{D}/config.v2.json",
        json.dumps({"Name": "/db", "Config": {"Labels": labels}}),
    )
    assert StateFiles(str(tmp_path)).name(CgroupRef("docker", D)) == Container(
        "docker", D, "db", pod="web-0", pod_namespace="shop"
    )


def test_podman_name_from_the_container_store(tmp_path: Path) -> None:
    store = [{"id": "x"}, "junk", {"id": P, "names": ["box\n\x1b]52;c;evil\x07"]}, {"id": D, "names": []}]
    _write(tmp_path, "/var/lib/containers/storage/overlay-containers/containers.json", json.dumps(store))
    files = StateFiles(str(tmp_path))
    assert files.name(CgroupRef("podman", P)).name == "box\n\x1b]52;c;evil\x07"  # raw: escaped at each surface
    assert files.name(CgroupRef("podman", D)) == Container("podman", D, None)
    assert files.name(CgroupRef("podman", D)).label == D[:12]


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        (f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{C}/config.json", "io.kubernetes.cri."),
        (f"/run/containers/storage/overlay-containers/{C}/userdata/config.json", "io.kubernetes."),
    ],
)
def test_cri_names_from_annotations(tmp_path: Path, path: str, prefix: str) -> None:
    if prefix == "io.kubernetes.cri.":
        notes = {
            f"{prefix}container-name": "app",
            f"{prefix}sandbox-name": "web-0",
            f"{prefix}sandbox-namespace": "shop",
        }
    else:
        notes = {f"{prefix}container.name": "app", f"{prefix}pod.name": "web-0", f"{prefix}pod.namespace": "shop"}
    _write(tmp_path, path, json.dumps({"annotations": {**notes, "odd": 7}}))
    box = StateFiles(str(tmp_path)).name(CgroupRef("containerd", C, UID))
    assert box == Container("containerd", C, "app", pod="web-0", pod_namespace="shop", pod_uid=UID)


def test_hostile_state_files_give_no_name(tmp_path: Path) -> None:
    # a symlink to a file with a valid name: never followed
    real = _write(tmp_path, "/elsewhere.json", json.dumps({"Name": "/followed"}))
    link = tmp_path / f"var/lib/docker/containers/{D}/config.v2.json"
    link.parent.mkdir(parents=True)
    os.symlink(real, link)
    # a symlinked directory on the way: refused as well
    os.symlink(tmp_path / "var/lib/docker/containers", tmp_path / "var/lib/docker/alias")
    assert read_json(f"/var/lib/docker/alias/{D}/config.v2.json", root=str(tmp_path)) is None
    files = StateFiles(str(tmp_path))
    assert files.name(CgroupRef("docker", D)).name is None
    # malformed, wrong shapes, deeply nested, too big, a FIFO
    for i, content in enumerate([b"{not json", b"[1, 2]", b'{"Name": 7}', b"[" * 100_000, b" " * (5 << 20)]):
        _write(tmp_path, f"/var/lib/docker/containers/{i}/config.v2.json", content)
        assert StateFiles(str(tmp_path)).name(CgroupRef("docker", str(i))).name is None
    fifo = tmp_path / f"var/lib/docker/containers/{C}/config.v2.json"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    assert read_json(f"/var/lib/docker/containers/{C}/config.v2.json", root=str(tmp_path)) is None  # no hang


def test_lxc_and_nspawn_are_named_by_their_cgroup(tmp_path: Path) -> None:
    assert StateFiles(str(tmp_path)).name(CgroupRef("nspawn", "deb-test")).label == "deb-test"
    assert Container("lxc", "web01", "web01").to_json()["name"] == "web01"
