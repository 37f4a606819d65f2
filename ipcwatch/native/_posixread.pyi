"""Type stubs for the compiled /dev/shm and /dev/mqueue reads helper (see _posixread.c for the contract)."""

from collections.abc import Sequence

from ipcwatch.native.posixread import Lstat

def list_files(dir_fd: int, /) -> tuple[list[tuple[str, Lstat]], list[tuple[str, int]]]: ...
def read_files(
    dir_fd: int, items: Sequence[tuple[str, int, int]], nbytes: int, mq_attrs: bool, /
) -> list[tuple[bytes, tuple[int, int, int, int] | None] | int]: ...
def special_files(roots: Sequence[str], depth: int, budget: int, /) -> tuple[list[tuple[str, Lstat | int]], bool]: ...
