"""The one escaping function every shown string goes through (names, paths, comm, cmdline, message bytes, errors).

Attacker-controlled text may carry terminal escapes (OSC 52, CSI 2J, C1 0x9b), bidi overrides and invalid UTF-8.
`escape` turns every such character into a visible, unambiguous backslash sequence; the backslash itself is
doubled, so `escape(a) == escape(b)` only when `a == b`.
"""

from __future__ import annotations

import functools
import unicodedata

# Controls, format characters (bidi overrides), separators, surrogates, private use, unassigned; and spaces other
# than U+0020 (a no-break space would make two different names look alike).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs", "Cs", "Co", "Cn"})
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def _escape_char(ch: str) -> str:
    if ch == " ":
        return ch
    named = _NAMED.get(ch)
    if named is not None:
        return named
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:  # a byte that was not valid UTF-8 (surrogateescape)
        return f"\\x{cp - 0xDC00:02x}"
    if unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
        return ch
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


@functools.lru_cache(maxsize=8192)  # comm, user and path strings repeat across thousands of holders
def escape(value: str | bytes | None) -> str:
    """Return `value` safe to show on a terminal: controls, format characters and bad UTF-8 as escapes."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if value.isascii() and value.isprintable() and "\\" not in value:
        return value
    return "".join(_escape_char(ch) for ch in value)


def human_size(n: int | None) -> str:
    """Bytes as a short human-readable size (1023B, 4.0K, 1.5M), `?` when unknown."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if size < 1024 or unit == "P":
            return f"{int(size)}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    raise AssertionError("unreachable")


def ago(seconds: float | None) -> str:
    """An age as a short phrase: `12s`, `5m`, `3h`, `2d`; `never` for None."""
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
