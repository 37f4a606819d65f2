"""Signal numbers, names and the kernel's signal-set masks: one home for "which signal is this".

`/proc/PID/status` (SigCgt, SigIgn, SigBlk, SigPnd, ShdPnd), a signalfd's `sigmask` in fdinfo and the set a
thread passes to `rt_sigtimedwait` are all 64-bit masks in which bit N-1 stands for signal N. Real-time signals
are named from the kernel's SIGRTMIN (32), not glibc's (34, after the two it reserves for threads), and shown as
`SIGRTMIN+N`, so a mask reads the same whatever libc the watched process uses.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

KERNEL_SIGRTMIN = 32
SIGSET_SIZE = 8  # the kernel's sigset_t: 64 signals
KERNEL_SIGRTMAX = 64

# Default action of each standard signal (signal(7)); real-time signals terminate by default.
TERMINATE, CORE, STOP, IGNORE, CONTINUE = "terminate", "core", "stop", "ignore", "continue"
_DEFAULT_ACTIONS: dict[int, str] = {
    signal.SIGHUP: TERMINATE, signal.SIGINT: TERMINATE, signal.SIGQUIT: CORE, signal.SIGILL: CORE,
    signal.SIGTRAP: CORE, signal.SIGABRT: CORE, signal.SIGBUS: CORE, signal.SIGFPE: CORE,
    signal.SIGKILL: TERMINATE, signal.SIGUSR1: TERMINATE, signal.SIGSEGV: CORE, signal.SIGUSR2: TERMINATE,
    signal.SIGPIPE: TERMINATE, signal.SIGALRM: TERMINATE, signal.SIGTERM: TERMINATE, signal.SIGSTKFLT: TERMINATE,
    signal.SIGCHLD: IGNORE, signal.SIGCONT: CONTINUE, signal.SIGSTOP: STOP, signal.SIGTSTP: STOP,
    signal.SIGTTIN: STOP, signal.SIGTTOU: STOP, signal.SIGURG: IGNORE, signal.SIGXCPU: CORE,
    signal.SIGXFSZ: CORE, signal.SIGVTALRM: TERMINATE, signal.SIGPROF: TERMINATE, signal.SIGWINCH: IGNORE,
    signal.SIGIO: TERMINATE, signal.SIGPWR: TERMINATE, signal.SIGSYS: CORE,
}
UNCATCHABLE = frozenset({int(signal.SIGKILL), int(signal.SIGSTOP)})

_NAMES: dict[int, str] = {}
for _sig in signal.Signals:
    # the first name wins for aliases (SIGIO/SIGPOLL, SIGABRT/SIGIOT, SIGCHLD/SIGCLD); glibc's RT names are ours
    if int(_sig) < KERNEL_SIGRTMIN and _sig.name.startswith("SIG") and not _sig.name.startswith("SIG_"):
        _NAMES.setdefault(int(_sig), _sig.name)
_NAMES.update({int(s): s.name for s in (signal.SIGIO, signal.SIGABRT, signal.SIGCHLD)})
_NUMBERS: dict[str, int] = {name: num for num, name in _NAMES.items()} | {"SIGPOLL": signal.SIGIO, "SIGIOT": 6}


def signal_name(num: int) -> str:
    """`SIGTERM`, `SIGRTMIN+3`, `SIGRTMAX`; `SIG42`-style never: every number 1..64 has a name."""
    if num in _NAMES:
        return _NAMES[num]
    if num == KERNEL_SIGRTMAX:
        return "SIGRTMAX"
    if KERNEL_SIGRTMIN <= num < KERNEL_SIGRTMAX:
        return "SIGRTMIN" if num == KERNEL_SIGRTMIN else f"SIGRTMIN+{num - KERNEL_SIGRTMIN}"
    return f"signal {num}"


def signal_number(name: str) -> int | None:
    """`TERM`, `SIGTERM`, `term`, `15`, `SIGRTMIN+3`, `RTMAX-1` -> the number; None for anything else."""
    text = name.strip().upper()
    if text.isdigit():
        num = int(text)
        return num if 1 <= num <= KERNEL_SIGRTMAX else None
    text = text if text.startswith("SIG") else "SIG" + text
    if text in _NUMBERS:
        return _NUMBERS[text]
    for base, origin, sign in (("SIGRTMIN", KERNEL_SIGRTMIN, 1), ("SIGRTMAX", KERNEL_SIGRTMAX, -1)):
        if text.startswith(base):
            rest = text[len(base):]
            offset = 0 if not rest else _offset(rest, "+" if sign > 0 else "-")
            num = None if offset is None else origin + sign * offset
            return num if num is not None and KERNEL_SIGRTMIN <= num <= KERNEL_SIGRTMAX else None
    return None


def _offset(rest: str, sign: str) -> int | None:
    return int(rest[1:]) if rest[:1] == sign and rest[1:].isdigit() else None


def default_action(num: int) -> str:
    """What the signal does when neither caught nor ignored: terminate, core, stop, ignore or continue."""
    return _DEFAULT_ACTIONS.get(num, TERMINATE)


def mask_signals(mask: int) -> list[int]:
    """Signal numbers in a kernel mask (bit N-1 is signal N), ascending."""
    return [bit + 1 for bit in range(KERNEL_SIGRTMAX) if mask >> bit & 1]


def mask_names(mask: int) -> list[str]:
    return [signal_name(num) for num in mask_signals(mask)]


def parse_mask(text: str) -> int | None:
    """`0000000000004a02` (as in /proc/PID/status and fdinfo) -> int; None when not hex."""
    try:
        return int(text.strip(), 16)
    except ValueError:
        return None


def read_sigset(read_mem: Callable[[int, int], bytes], address: int, size: int = SIGSET_SIZE) -> int | None:
    """A sigset_t at `address` in another process (a sigwaitinfo set, a sigsuspend mask), read through
    `read_mem(address, size)` (its /proc/PID/mem); None when nothing could be read there."""
    if not 0 < address < 1 << 63:
        return None
    raw = read_mem(address, min(size or SIGSET_SIZE, SIGSET_SIZE))
    return int.from_bytes(raw.ljust(SIGSET_SIZE, b"\0"), sys.byteorder) if raw else None
