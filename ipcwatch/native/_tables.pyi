"""Type stubs for the compiled table builder of `ipcwatch list` (see _tables.c for the contract)."""

from collections.abc import Callable, Sequence
from typing import Any

def cells(columns: tuple[Any, ...], objects: Sequence[Any], escape: Callable[[str], str], /) -> list[list[str]]: ...
def widths(texts: list[list[str]], cell_len: Callable[[str], int], /) -> list[int]: ...
def rows(
    texts: list[list[str]],
    widths: list[int | None],
    numeric: list[bool],
    cell_len: Callable[[str], int],
    indent: int,
    /,
) -> str: ...
