"""The compiled helper and its pure-Python twin against each other and against the real `hexdump -C`."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ipcwatch.native.hexformat as native
from ipcwatch.native import pyhexdump
from ipcwatch.native.hexformat import HexdumpStream

try:
    from ipcwatch.native import _hexdump
except ImportError:  # pragma: no cover - only when the helper was not built
    _hexdump = None

IMPLS = [pytest.param(pyhexdump, id="python")]
if _hexdump is not None:
    IMPLS.append(pytest.param(_hexdump, id="c"))
needs_hexdump = pytest.mark.skipif(shutil.which("hexdump") is None, reason="util-linux hexdump is not installed")

# Random bytes interleaved with repeated 16-byte-ish blocks, so squeezing (`*`) is exercised.
chunks = st.one_of(
    st.binary(max_size=40),
    st.tuples(st.binary(min_size=1, max_size=17), st.integers(1, 12)).map(lambda t: t[0] * t[1]),
    st.integers(1, 100).map(bytes),
)
payloads = st.lists(chunks, max_size=8).map(b"".join)


def real_hexdump(path: str, *options: str) -> bytes:
    result = subprocess.run(
        ["hexdump", "-C", *options, path], capture_output=True, check=True, env={**os.environ, "LC_ALL": "C"}
    )
    return result.stdout


def one_shot(impl: object, data: bytes, offset: int = 0, verbose: bool = False) -> bytes:
    return impl.format(data, offset, verbose=verbose)[0]  # type: ignore[attr-defined]


@pytest.mark.skipif(_hexdump is None, reason="the C helper was not built")
@settings(max_examples=300, deadline=None)
@given(data=payloads, offset=st.one_of(st.integers(0, 64), st.integers(0, 2**40)), verbose=st.booleans())
def test_c_and_python_agree(data: bytes, offset: int, verbose: bool) -> None:
    assert _hexdump.format(data, offset, verbose=verbose) == pyhexdump.format(data, offset, verbose=verbose)
    if data:
        start = offset % len(data)
        assert _hexdump.format_line(data, offset, start) == pyhexdump.format_line(data, offset, start)


@needs_hexdump
@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=payloads, skip=st.integers(0, 80), length=st.integers(0, 400), verbose=st.booleans())
def test_matches_util_linux(impl: object, tmp_path_factory: pytest.TempPathFactory, data: bytes, skip: int,
                            length: int, verbose: bool) -> None:
    path = str(tmp_path_factory.mktemp("hd") / "data")
    with open(path, "wb") as f:
        f.write(data)
    flags = ["-v"] if verbose else []
    assert one_shot(impl, data, 0, verbose) == real_hexdump(path, *flags)
    # -s/-n: the window data[start:start + length] labelled with its start, as the CLI formats it
    start = min(skip, len(data))
    expected = real_hexdump(path, *flags, "-s", str(skip), "-n", str(length)) if length else b""
    got = one_shot(impl, data[start : start + length], start, verbose) if length else b""
    assert got == expected


@needs_hexdump
@pytest.mark.parametrize("impl", IMPLS)
def test_offsets_past_32_bits_widen_per_line(impl: object, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "sparse")
    start = (1 << 32) - 40
    with open(path, "wb") as f:
        f.truncate(start + 100)
        f.seek(start + 30)
        f.write(b"hello, wide offsets")
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    assert one_shot(impl, data, start) == real_hexdump(path, "-s", str(start))
    assert b"\nfffffff8  " in one_shot(impl, data, start, verbose=True)
    assert b"\n100000008  " in one_shot(impl, data, start, verbose=True)


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=150, deadline=None)
@given(data=payloads, cuts=st.lists(st.integers(0, 400), max_size=6), offset=st.integers(0, 100),
       verbose=st.booleans())
def test_streaming_in_any_windows_equals_one_shot(impl: object, data: bytes, cuts: list[int], offset: int,
                                                   verbose: bool) -> None:
    stream = HexdumpStream(offset, verbose=verbose, impl=impl)
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    out = b"".join(stream.feed(data[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)) + stream.finish()
    assert out == one_shot(impl, data, offset, verbose)


@pytest.mark.parametrize("impl", IMPLS)
def test_squeeze_state_spans_windows(impl: object) -> None:
    first, squeezed = impl.format(bytes(48), 0, final=False)  # type: ignore[attr-defined]
    assert first == b"00000000  " + b"00 " * 8 + b" " + b"00 " * 8 + b" |................|\n*\n"
    assert squeezed is True
    second, squeezed = impl.format(bytes(16), 48, prev_line=bytes(16), squeezed=True)  # type: ignore[attr-defined]
    assert second == b"00000040\n"  # still inside the run: no second `*`


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments_fail_alike(impl: object) -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        impl.format(b"abc", 0, final=False)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="16 bytes"):
        impl.format(b"abc", 0, prev_line=b"short")  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="offset"):
        impl.format(b"abc", -1)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="below 2"):
        impl.format(b"abc", 2**64 - 2)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="start"):
        impl.format_line(b"abc", 0, 3)  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        impl.format("text is not bytes", 0)  # type: ignore[attr-defined]


@pytest.mark.parametrize("impl", IMPLS)
def test_every_byte_value_and_the_ascii_column(impl: object) -> None:
    out = one_shot(impl, bytes(range(256)), verbose=True)
    assert out.count(b"\n") == 17
    assert b"|0123456789:;<=>?|" in out
    assert b"|pqrstuvwxyz{|}~.|" in out
    assert all(0x20 <= b < 0x7F or b == 0x0A for b in out)  # nothing that a terminal would interpret


def test_compiled_helper_in_use_when_required() -> None:
    if os.environ.get("IPCWATCH_REQUIRE_C") != "1":
        pytest.skip("IPCWATCH_REQUIRE_C is not set (CI sets it)")
    assert native.IMPLEMENTATION == "c"
    assert native.format_window is _hexdump.format


def test_the_implementation_in_use_is_named() -> None:
    assert native.IMPLEMENTATION in ("c", "python")
    expected = "python" if _hexdump is None else "c"
    assert expected == native.IMPLEMENTATION
