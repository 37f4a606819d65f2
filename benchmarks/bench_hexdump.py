"""Hexdump throughput: the compiled helper, `ipcwatch hexdump` end to end, `hexdump -C`, `xxd` and `od`, side by side.

    python benchmarks/bench_hexdump.py [--size-mib 256]

Creates one POSIX shm object (random bytes with some repeated regions, removed in `finally`), times each tool on
it (output to /dev/null; `hexdump -C` into a pipe we hash), checks that `ipcwatch hexdump` prints exactly what
`hexdump -C` prints (sha256), and says whether the targets are met. It never fails on a missed target.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time

from ipcwatch.native.hexformat import IMPLEMENTATION, HexdumpStream

CHUNK = 4 << 20
TARGET_HELPER_MBS = 1000.0
TARGET_VS_XXD = 5.0
C_LOCALE = {**os.environ, "LC_ALL": "C"}


def fill(fd: int, size: int) -> None:
    """Random bytes, with every fourth 4 MiB chunk a repeated 16-byte pattern or zeros (squeezed by hexdump)."""
    for index, start in enumerate(range(0, size, CHUNK)):
        length = min(CHUNK, size - start)
        if index % 4 == 1:
            data = bytes(length)
        elif index % 4 == 3:
            data = (b"ipcwatch-bench!\n" * (length // 16 + 1))[:length]
        else:
            data = os.urandom(length)
        os.pwrite(fd, data, start)


def timed(argv: list[str], *, digest: bool = False) -> tuple[float, str | None]:
    """Seconds the command took, output to /dev/null (or drained into sha256 when `digest`)."""
    started = time.perf_counter()
    if not digest:
        with open(os.devnull, "wb") as sink:
            subprocess.run(argv, stdout=sink, check=True, env=C_LOCALE)
        return time.perf_counter() - started, None
    hasher = hashlib.sha256()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, env=C_LOCALE) as proc:
        assert proc.stdout is not None
        while block := proc.stdout.read(1 << 20):
            hasher.update(block)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return time.perf_counter() - started, hasher.hexdigest()


def helper_alone(path: str) -> float:
    """Seconds to format the whole object in-process, in the CLI's 1 MiB windows (reading it is not timed)."""
    with open(path, "rb") as f:
        data = f.read()
    view = memoryview(data)
    started = time.perf_counter()
    stream = HexdumpStream(0)
    for start in range(0, len(data), 1 << 20):
        for _ in stream.pieces(view[start : start + (1 << 20)]):
            pass
    stream.finish()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    size = args.size_mib << 20
    name = f"ipcwbench{secrets.token_hex(4)}"
    path = f"/dev/shm/{name}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fill(fd, size)
        print(f"input: {path}, {args.size_mib} MiB; helper implementation: {IMPLEMENTATION}")
        ipcwatch = [sys.executable, "-m", "ipcwatch", "hexdump", path]
        seconds = {"helper alone (in-process)": helper_alone(path)}
        seconds["ipcwatch hexdump (end to end)"], _ = timed(ipcwatch)
        digest_ours = timed(ipcwatch, digest=True)[1]
        others = {"hexdump -C": ["hexdump", "-C", path], "xxd": ["xxd", path], "od -A x -t x1z -v": ["od", "-A", "x",
                                                                                                  "-t", "x1z", "-v",
                                                                                                  path]}
        digest_theirs = None
        for label, argv in others.items():
            if shutil.which(argv[0]) is None:
                print(f"{label}: not installed, skipped")
                continue
            seconds[label], digest = timed(argv, digest=label == "hexdump -C")
            digest_theirs = digest or digest_theirs
    finally:
        os.close(fd)
        os.unlink(path)

    rate = {label: size / s / 1e6 for label, s in seconds.items()}
    print(f"\n{'tool':32} {'seconds':>8} {'MB/s in':>9} {'vs xxd':>8} {'vs hexdump -C':>14}")
    for label, s in seconds.items():
        vs_xxd = f"{rate[label] / rate['xxd']:.1f}x" if "xxd" in rate else "-"
        vs_hd = f"{rate[label] / rate['hexdump -C']:.1f}x" if "hexdump -C" in rate else "-"
        print(f"{label:32} {s:8.2f} {rate[label]:9.0f} {vs_xxd:>8} {vs_hd:>14}")

    print()
    if digest_theirs is not None:
        same = digest_ours == digest_theirs
        print(f"ipcwatch hexdump output == hexdump -C output (sha256): {'yes' if same else 'NO'}")
    helper = rate["helper alone (in-process)"]
    print(f"target helper >= {TARGET_HELPER_MBS:.0f} MB/s: {'met' if helper >= TARGET_HELPER_MBS else 'NOT met'}"
          f" ({helper:.0f} MB/s)")
    if "xxd" in rate:
        ratio = rate["ipcwatch hexdump (end to end)"] / rate["xxd"]
        print(f"target ipcwatch hexdump >= {TARGET_VS_XXD:.0f}x xxd: {'met' if ratio >= TARGET_VS_XXD else 'NOT met'}"
              f" ({ratio:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
