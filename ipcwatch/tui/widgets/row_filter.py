"""The dashboard's filter: a case-insensitive substring of a row's key and cells, a regex after `re:`, or after `ns:`
the objects of one namespace."""

from __future__ import annotations

import re
from collections.abc import Callable

from ipcwatch.tui.widgets.rows import Row

REGEX_PREFIX = "re:"
NAMESPACE_PREFIX = "ns:"

RowFilter = Callable[[Row], bool]


def compile_filter(text: str) -> RowFilter | None:
    """None for an empty filter; a case-insensitive substring, a regex after `re:`, or after `ns:` the objects of
    one namespace (its tag `ipc:4026532251`, `host`, or a container name or its start). Raises ValueError."""
    text = text.strip()
    if not text:
        return None
    if text.startswith(NAMESPACE_PREFIX):
        wanted = text[len(NAMESPACE_PREFIX) :].strip().casefold()
        if not wanted:
            raise ValueError("name a namespace after ns: (host, a container, or ipc:INODE)")
        return lambda row: bool(row.scope) and (row.scope[0] == wanted or row.scope[1].startswith(wanted))
    if text.startswith(REGEX_PREFIX):
        try:
            pattern = re.compile(text[len(REGEX_PREFIX) :], re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"bad regular expression: {exc}") from None
        return lambda row: any(pattern.search(cell) for cell in (row.key, *row.cells))
    needle = text.casefold()
    return lambda row: any(needle in cell.casefold() for cell in (row.key, *row.cells))
