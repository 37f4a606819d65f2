"""Type stubs for the compiled __init__ of slotted records (see _model.c for the contract)."""

from typing import Any

def init(cls: type, qualname: str, names: tuple[str, ...], defaults: tuple[Any, ...], /) -> Any: ...
