"""Fresh filesystems over /tmp, /run or /dev/shm inside a test's private mount namespace that keep this checkout and
its virtualenv reachable: a clone may live under /tmp (a `mktemp -d` directory), and a tmpfs over it would hide the
interpreter and the package the test is about to run."""

from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _inside(path: str, top: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), top]) == top


def mount_fresh(target: str, fstype: str = "tmpfs") -> None:
    """Mount a new `fstype` on `target`, then bind the checkout and the virtualenv back where they were."""
    top = os.path.realpath(target)
    keep: list[str] = []
    for path in sorted({os.path.realpath(REPO), os.path.realpath(sys.prefix)}):
        if _inside(path, top) and not any(_inside(path, kept) for kept in keep):
            keep.append(path)
    held = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in keep]  # reachable after the mount
    try:
        subprocess.run(["mount", "-t", fstype, fstype, target], check=True)
        for path, fd in held:
            os.makedirs(path, exist_ok=True)
            subprocess.run(["mount", "--bind", f"/proc/{os.getpid()}/fd/{fd}", path], check=True)
    finally:
        for _, fd in held:
            os.close(fd)
