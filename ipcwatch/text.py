"""The one escaping function every shown string goes through (names, paths, comm, cmdline, message bytes, errors),
and the small formatting helpers every surface shares (cells a string takes, sizes, ages).

Attacker-controlled text may carry terminal escapes (OSC 52, CSI 2J, C1 0x9b), bidi overrides and invalid UTF-8.
`escape` turns every such character into a visible, unambiguous backslash sequence; the backslash itself is
doubled, so `escape(a) == escape(b)` only when `a == b`.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
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


def escape(value: str | bytes | None) -> str:
    """Return `value` safe to show on a terminal: controls, format characters and bad UTF-8 as escapes."""
    # Most strings are printable ASCII: checked here, uncached (a cache of unique names only thrashes).
    if type(value) is str and value.isascii() and value.isprintable() and "\\" not in value:
        return value
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    return _escape_text(value)


@functools.lru_cache(maxsize=8192)  # the same odd comm, user or path repeats across thousands of holders
def _escape_text(value: str) -> str:
    if value.isascii() and value.isprintable() and "\\" not in value:  # a str subclass, or bytes decoded
        return value
    return "".join(_escape_char(ch) for ch in value)


@functools.lru_cache(maxsize=4096)
def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


_ASCII = frozenset(map(chr, range(128)))


def one_cell_each(value: str) -> bool:
    """Whether every character of `value` takes one cell (then `len` is `cell_len`): ASCII, `→`, `é`, not `日`."""
    return value.isascii() or all(_char_cells(ch) == 1 for ch in set(value).difference(_ASCII))


def cell_len(value: str) -> int:
    """Terminal cells an escaped string takes (wide CJK characters take two; rich is not loaded by the CLI)."""
    if value.isascii():
        return len(value)
    # ASCII characters take one cell each: only the others (the `→` of a pipe's ends) are looked up
    return len(value) + sum((_char_cells(ch) - 1) * value.count(ch) for ch in set(value).difference(_ASCII))


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns` without importing shutil (2 ms of start-up: it brings bz2, lzma and
    zlib): $COLUMNS when set, else the width of the terminal on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


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


class SizeError(ValueError, argparse.ArgumentTypeError):
    """A size or offset that cannot be read (an argparse type error too: a CLI option reports its message as is)."""


# Compiled on first use (re caches it): start-up never pays for it (0.3 ms), hexdump only needs it.
_SIZE = r"(?P<int>0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(?:\.(?P<frac>[0-9]+))?(?P<unit>[KMGTPEZY](?:iB|B)?)?"
_POWERS = "KMGTPEZY"


def parse_size(text: str) -> int:
    """An offset or length the way hexdump takes it: 10, 0x1f, 010 (octal), 4K = 4KiB = 4096, 4KB = 4000, 1.5M."""
    match = re.fullmatch(_SIZE, text.strip(), re.IGNORECASE)
    if match is None:
        raise SizeError(f"not a size: {text!r} (try 4096, 0x1000 or 4K)")
    value = _integer(match["int"])
    unit = match["unit"]
    if match["frac"] is not None and (unit is None or match["int"].lower().startswith("0x")):
        raise SizeError(f"not a size: {text!r} (a fraction needs a unit, e.g. 1.5K)")
    if unit is None:
        return value
    base = 1000 if unit[1:].upper() == "B" else 1024
    multiplier = base ** (_POWERS.index(unit[0].upper()) + 1)
    result = value * multiplier
    if match["frac"]:
        result += int(match["frac"]) * multiplier // 10 ** len(match["frac"])
    return result


def _integer(token: str) -> int:
    """Decimal, 0x hex or 0-prefixed octal, as strtoumax with base 0 reads them."""
    if token[:2].lower() == "0x":
        return int(token, 16)
    return int(token, 8) if token.startswith("0") else int(token)
