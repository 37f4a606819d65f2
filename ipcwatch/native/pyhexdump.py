"""The pure-Python twin of the compiled `_hexdump` helper: the same functions, arguments, errors and output."""

from __future__ import annotations

import operator

BytesLike = bytes | bytearray | memoryview
LINE_BYTES = 16
_PRINTABLE = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))
_MAX_END = 1 << 64


def _check_offset(offset: int, length: int) -> int:
    offset = operator.index(offset)
    if not 0 <= offset < _MAX_END:
        raise ValueError("offset must be between 0 and 2**64 - 1")
    if offset + length >= _MAX_END:
        raise ValueError("offset + len(data) must be below 2**64")
    return offset


def _line(chunk: bytes, offset: int) -> str:
    hex_region = chunk[:8].hex(" ")
    if len(chunk) > 8:
        hex_region += "  " + chunk[8:].hex(" ")
    return f"{offset:08x}  {hex_region:<48}  |{chunk.translate(_PRINTABLE).decode('ascii')}|"


def format(  # noqa: A001 - the same name as the compiled helper's function
    data: BytesLike,
    offset: int = 0,
    *,
    verbose: bool = False,
    prev_line: BytesLike | None = None,
    squeezed: bool = False,
    final: bool = True,
) -> tuple[bytes, bool]:
    """Canonical hexdump lines of one window of a stream (see the `_hexdump` module docstring)."""
    view = bytes(data)
    offset = _check_offset(offset, len(view))
    prev = None if prev_line is None else bytes(prev_line)
    if prev is not None and len(prev) != LINE_BYTES:
        raise ValueError("prev_line must be 16 bytes or None")
    full, rest = divmod(len(view), LINE_BYTES)
    if not final and rest:
        raise ValueError("a window that is not final must be a multiple of 16 bytes")
    out: list[str] = []
    for start in range(0, full * LINE_BYTES, LINE_BYTES):
        line = view[start : start + LINE_BYTES]
        if not verbose and line == prev:
            if not squeezed:
                out.append("*")
                squeezed = True
        else:
            out.append(_line(line, offset + start))
            squeezed = False
        prev = line
    if final:
        end = offset + len(view)
        if rest:
            out.append(_line(view[full * LINE_BYTES :], offset + full * LINE_BYTES))
        if end:
            out.append(f"{end:08x}")
    text = "\n".join(out) + "\n" if out else ""
    return text.encode("ascii"), bool(squeezed)


def format_line(data: BytesLike, offset: int, start: int = 0) -> bytes:
    """One canonical line (no newline) for data[start:start + 16] labelled `offset`."""
    view = memoryview(data).cast("B")
    if not 0 <= start < len(view):
        raise ValueError("start must index a byte of data")
    chunk = bytes(view[start : start + LINE_BYTES])
    return _line(chunk, _check_offset(offset, len(chunk))).encode("ascii")
