"""Search a byte source (ipcwatch.shmread) for a pattern in constant memory, forward or backward, cancellable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ipcwatch.shmread import ByteSource

SEARCH_WINDOW = 1 << 20


def search(
    source: ByteSource,
    pattern: bytes,
    start: int,
    *,
    backward: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] = lambda done, total: None,
    window: int = SEARCH_WINDOW,
) -> int | None:
    """The offset of the first match at or after `start` (backward: the last one starting at or before it).

    Reads `window` bytes at a time (overlapping by len(pattern) - 1), so memory stays constant; calls
    `progress(bytes_searched, bytes_to_search)` after each window and stops (returning None) once `cancelled()`.
    """
    size = source.size()
    if not pattern or size is None:
        return None
    window = max(window, len(pattern))
    overlap = len(pattern) - 1
    total = start + len(pattern) if backward else size - start
    done = 0
    if not backward:
        position = start
        while position < size and not cancelled():
            data = source.read(position, window + overlap)
            found = data.find(pattern)
            if found >= 0:
                return position + found
            if len(data) < len(pattern):
                return None
            position += window
            done = min(total, done + window)
            progress(done, total)
        return None
    end = min(start + len(pattern), size)  # exclusive end of the bytes a match may occupy
    while end >= len(pattern) and not cancelled():
        position = max(0, end - window - overlap)
        data = source.read(position, end - position)
        found = data.rfind(pattern)
        if found >= 0:
            return position + found
        if position == 0:
            return None
        end = position + overlap
        done = min(total, done + window)
        progress(done, total)
    return None
