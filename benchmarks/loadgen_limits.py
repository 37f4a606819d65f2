"""The load generator's kernel limits: raised only as far as a load needs, shared by concurrent runs, restored by
the last run to finish (a dead leader never pins them: dead runs are dropped on every read)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

MQ_MAXMSG, MQ_MSGSIZE = 1, 8  # the kernel charges ~96 + 1 * 8 bytes of RLIMIT_MSGQUEUE per queue
MQ_CHARGE = 96 + MQ_MAXMSG * MQ_MSGSIZE
SEM_NSEMS = 2


def alive(pid: int) -> bool:
    return pid > 0 and os.path.exists(f"/proc/{pid}")


@dataclass(frozen=True)
class Limit:
    """A sysctl value, or one field of a multi-field sysctl such as kernel.sem."""

    name: str
    field: int | None = None

    @property
    def path(self) -> Path:
        return Path("/proc/sys") / self.name.replace(".", "/")

    def read_text(self) -> str:
        return self.path.read_text().strip()

    def value(self, text: str) -> int:
        parts = text.split()
        return int(parts[self.field or 0])

    def with_value(self, text: str, value: int) -> str:
        parts = text.split()
        parts[self.field or 0] = str(value)
        return "\t".join(parts)


def _sysv_rows(table: str) -> list[list[str]]:
    try:
        with open(f"/proc/sysvipc/{table}") as f:
            return [line.split() for line in f.readlines()[1:] if line.strip()]
    except OSError:
        return []


def limits_needed(counts: Mapping[str, int], processes: int) -> dict[Limit, int]:
    """The minimum value of each limit for this load on top of what already exists on the host."""
    margin = 64
    sems = _sysv_rows("sem")
    needs = {
        Limit("kernel.shmmni"): len(_sysv_rows("shm")) + counts["sysv-shm"] + margin,
        Limit("kernel.msgmni"): len(_sysv_rows("msg")) + counts["sysv-msg"] + margin,
        Limit("kernel.sem", 3): len(sems) + counts["sysv-sem"] + margin,
        Limit("kernel.sem", 1): sum(int(r[3]) for r in sems if len(r) > 3) + counts["sysv-sem"] * SEM_NSEMS + margin,
        Limit("fs.mqueue.queues_max"): len(os.listdir("/dev/mqueue")) + counts["posix-mq"] + margin
        if os.path.isdir("/dev/mqueue")
        else 0,
        Limit("fs.mqueue.msg_max"): MQ_MAXMSG,
        Limit("fs.mqueue.msgsize_max"): MQ_MSGSIZE,
    }
    with open("/proc/sys/fs/file-nr") as f:
        allocated = int(f.read().split()[0])
    needs[Limit("fs.file-max")] = allocated + sum(counts.values()) * 3 + processes * 8 + 4096
    return needs


def state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/run/ipcwatch-loadgen")
    return Path(tempfile.gettempdir()) / f"ipcwatch-loadgen-{os.getuid()}"


@contextlib.contextmanager
def _shared_state() -> Iterator[dict]:
    """The record shared by concurrent runs, under an exclusive lock: {"runs": [leader pids], "limits": {...}}.

    Dead leaders are dropped on every read, so a crashed run never pins the raised limits.
    """
    directory = state_dir()
    directory.mkdir(mode=0o700, exist_ok=True)
    with open(directory / "lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = directory / "state.json"
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = {"runs": [], "limits": {}}
        state["runs"] = [pid for pid in state["runs"] if alive(pid)]
        yield state
        if state["runs"] or state["limits"]:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(path)
        else:
            path.unlink(missing_ok=True)


def register_run(run_pid: int, needs: Mapping[Limit, int]) -> list[str]:
    """Record a live run and raise each limit that is too low (root only; the original is kept once)."""
    changed = []
    with _shared_state() as state:
        state["runs"].append(run_pid)
        if os.geteuid() != 0:
            return []
        for limit, need in needs.items():
            text = limit.read_text()
            if limit.value(text) >= need:
                continue
            record = state["limits"].setdefault(limit.path.as_posix(), {"original": text})
            limit.path.write_text(limit.with_value(text, need))
            record["set"] = limit.read_text()
            changed.append(f"raised {limit.name} from {limit.value(text)} to {need}")
    return changed


def release_run(run_pid: int | None) -> list[str]:
    """Forget a run; when no live run is left, restore every original value that nobody changed since."""
    restored = []
    with _shared_state() as state:
        state["runs"] = [pid for pid in state["runs"] if pid != run_pid]
        if state["runs"]:
            return []
        for key, record in list(state["limits"].items()):
            path = Path(key)
            with contextlib.suppress(OSError):
                if path.read_text().strip() == record.get("set"):
                    path.write_text(record["original"])
                    restored.append(f"restored {key} to {record['original']}")
                else:
                    restored.append(f"{key} was changed by someone else since; left as it is")
            del state["limits"][key]
    return restored
