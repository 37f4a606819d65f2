"""Who removes it: systemd-logind's RemoveIPC, which deletes a user's SysV and POSIX IPC objects when that user's
last login session ends.

logind does so when `RemoveIPC=yes` (its default) in the `[Login]` section of logind.conf, for users that are not
system users (uid above `SYS_UID_MAX` of /etc/login.defs, 999 when unset) and only on a host booted with systemd.
The setting is read as logind reads it: the main file (the first of /etc, /run, /usr/local/lib, /usr/lib), then
every `logind.conf.d/*.conf` drop-in sorted by file name, a name in an earlier directory hiding the same name in a
later one (/etc before /run before /usr/local/lib before /usr/lib); a later assignment overrides an earlier one.
"""

from __future__ import annotations

import os

from ipcwatch.kinds import POSIX_KINDS, SYSV_KINDS
from ipcwatch.record import NamedTuple
from ipcwatch.scan.model import IpcObject

CONFIG_DIRS = ("etc/systemd", "run/systemd", "usr/local/lib/systemd", "usr/lib/systemd")
DEFAULT_SYS_UID_MAX = 999
REMOVED_KINDS = SYSV_KINDS | POSIX_KINDS
FIELD = "removed_at_logout"  # its JSON key (IpcObject.removed_at_logout)
_TRUE = {"1", "yes", "y", "true", "t", "on"}
_FALSE = {"0", "no", "n", "false", "f", "off"}
_MAX_CONFIG = 1 << 20


# A NamedTuple, not a record: defined at import in a third of the time (every CLI command's start-up).
class RemoveIpcPolicy(NamedTuple):
    remove_ipc: bool  # RemoveIPC as logind would read it
    sys_uid_max: int
    systemd: bool  # booted with systemd (/run/systemd/system exists): only then does logind run
    source: str  # the file that set RemoveIPC last, or "default"

    def applies_to(self, uid: int | None) -> bool:
        return self.systemd and self.remove_ipc and uid is not None and uid > self.sys_uid_max


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(_MAX_CONFIG).decode("utf-8", "replace")
    except OSError:
        return ""


def parse_remove_ipc(text: str) -> bool | None:
    """The last valid `RemoveIPC=` of the `[Login]` section; None when the text does not set it."""
    found = None
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        name, sep, value = line.partition("=")
        if sep and section == "Login" and name.strip() == "RemoveIPC":
            value = value.strip().lower()
            found = True if value in _TRUE else False if value in _FALSE else found
    return found


def parse_sys_uid_max(text: str) -> int:
    """`SYS_UID_MAX` of a login.defs text (the last one wins); 999 when unset or not a number."""
    value = DEFAULT_SYS_UID_MAX
    for raw in text.splitlines():
        parts = raw.split()
        if len(parts) >= 2 and parts[0] == "SYS_UID_MAX" and parts[1].isdigit():
            value = int(parts[1])
    return value


def config_files(root: str = "/") -> list[str]:
    """logind.conf and its drop-ins, in the order logind applies them."""
    files = []
    main = next((p for d in CONFIG_DIRS if os.path.isfile(p := os.path.join(root, d, "logind.conf"))), None)
    if main is not None:
        files.append(main)
    dropins: dict[str, str] = {}
    for d in CONFIG_DIRS:
        where = os.path.join(root, d, "logind.conf.d")
        try:
            names = os.listdir(where)
        except OSError:
            continue
        for name in names:
            if name.endswith(".conf"):
                dropins.setdefault(name, os.path.join(where, name))
    return files + [dropins[name] for name in sorted(dropins)]


def read_policy(root: str = "/") -> RemoveIpcPolicy:
    remove, source = True, "default"
    for path in config_files(root):
        value = parse_remove_ipc(_read(path))
        if value is not None:
            remove, source = value, path
    sys_uid_max = parse_sys_uid_max(_read(os.path.join(root, "etc/login.defs")))
    systemd = os.path.isdir(os.path.join(root, "run/systemd/system"))
    return RemoveIpcPolicy(remove, sys_uid_max, systemd, source)


def removal_note(obj: IpcObject, policy: RemoveIpcPolicy) -> str | None:
    """`removed when alice logs out (systemd-logind RemoveIPC=yes)`, for an object logind would remove."""
    if obj.kind not in REMOVED_KINDS or not policy.applies_to(obj.uid):
        return None
    return f"removed when {obj.owner} logs out (systemd-logind RemoveIPC=yes)"
