"""A real podman container (runc) from a tiny rootfs of host binaries: no registry, no network, removed afterwards.

    with podman_container("ipcmk -M 4096; ipcmk -Q; sleep 300") as box:
        box.pid, box.id, box.name

`unavailable()` says why a container cannot run here (None when it can); tests skip with that reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BINARIES = ("sh", "sleep", "ipcmk")
_LDD_PATH = re.compile(r"(/\S+)")
_TIMEOUT = 120


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    image: str
    pid: int  # host pid of the container's init (the /bin/sh)


def unavailable() -> str | None:
    """Why a podman+runc container cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (podman with runc, host cgroups)"
    for tool in ("podman", "runc", "ldd"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install-test-peers installs podman and runc)"
    return None


def _podman(*args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=_TIMEOUT, check=False, stdin=subprocess.DEVNULL
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def _libraries(binary: str) -> set[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30, check=False).stdout
    return {m.group(1) for line in out.splitlines() if (m := _LDD_PATH.search(line)) and os.path.exists(m.group(1))}


def build_rootfs_tar(dest: Path) -> Path:
    """A tar of sh, sleep, ipcmk and their libraries (host paths kept), plus /dev/shm and /tmp mount points."""
    files: set[str] = set()
    for name in BINARIES:
        path = shutil.which(name)
        if path is None:
            raise RuntimeError(f"{name} not found on the host")
        files.add(path)
        files |= _libraries(path)
    tar_path = dest / "rootfs.tar"
    with tarfile.open(tar_path, "w") as tar:
        for directory in ("bin", "tmp", "dev", "proc", "sys", "etc"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path in sorted(files):
            real = os.path.realpath(path)
            tar.add(real, arcname=path.lstrip("/"), recursive=False)
            if real != path:  # keep the name the loader asks for (a symlinked lib path)
                tar.add(real, arcname=real.lstrip("/"), recursive=False)
        for name in BINARIES:  # the command line says /bin/sh: every binary reachable under /bin
            path = shutil.which(name) or ""
            if not path.startswith("/bin/"):
                tar.add(os.path.realpath(path), arcname=f"bin/{name}", recursive=False)
    return tar_path


PODMAN_SHM_LOCK = "/dev/shm/libpod_lock"


@contextlib.contextmanager
def podman_container(script: str) -> Iterator[Container]:
    """Run `/bin/sh -c script` in a fresh podman container (runc, host cgroup namespace); always removed."""
    tag = f"ipcwt{os.getpid()}x{secrets.token_hex(3)}"
    image = f"localhost/{tag}:latest"
    name = f"{tag}-box"
    cid = ""
    lock_was_there = os.path.exists(PODMAN_SHM_LOCK)
    with tempfile.TemporaryDirectory(prefix="ipcwatch-rootfs-") as tmp:
        try:
            _podman("import", str(build_rootfs_tar(Path(tmp))), image)
            cid = _podman(
                "--runtime", "runc", "run", "-d", "--name", name, "--cgroupns=host",
                "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=1000:1000",
                image, "/bin/sh", "-c", script,
            )  # fmt: skip
            pid = _wait_pid(name)
            yield Container(id=cid, name=name, image=image, pid=pid)
        finally:
            _podman("rm", "-f", "-t", "0", name, check=False)
            _podman("rmi", "-f", image, check=False)
            if not lock_was_there and not _podman("ps", "-aq", check=False).strip():
                # podman's lock segment in /dev/shm: made by this test's first podman call, used by nobody now
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(PODMAN_SHM_LOCK)


def _wait_pid(name: str) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid = _podman("inspect", "--format", "{{.State.Pid}}", name, check=False)
        if pid.isdigit() and int(pid) > 0:
            return int(pid)
        time.sleep(0.2)
    raise RuntimeError(f"container {name} did not start")
