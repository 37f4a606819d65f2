"""Type stubs for the compiled canonical-hexdump helper (see _hexdump.c for the contract)."""

from ipcwatch.native.pyhexdump import BytesLike

def format(
    data: BytesLike,
    offset: int = 0,
    *,
    verbose: bool = False,
    prev_line: BytesLike | None = None,
    squeezed: bool = False,
    final: bool = True,
) -> tuple[bytes, bool]: ...
def format_line(data: BytesLike, offset: int, start: int = 0) -> bytes: ...
