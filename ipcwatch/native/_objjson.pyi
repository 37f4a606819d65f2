"""Type stubs for the compiled object-list JSON writer (see _objjson.c for the contract)."""

from collections.abc import Callable, Sequence
from typing import Any

def plan(table: tuple[Any, ...], escape: Callable[[str], str], /) -> object: ...
def encode(
    plan: object, objects: Sequence[Any], namespace: Callable[[Any], bytes], fallback: Callable[[Any], bytes], /
) -> bytes: ...
