"""The one loader of the compiled helpers: a helper when it was built, else None so its module uses the Python twin.

    _c = compiled("_sysvread")
    table_rows = _c.table_rows if _c else py_table_rows

IPCWATCH_REQUIRE_C=1 (CI sets it) makes a helper that is not built an error instead of a fallback.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def compiled(name: str) -> ModuleType | None:
    """`ipcwatch.native.<name>` when it was built, None when it was not (and IPCWATCH_REQUIRE_C is not 1)."""
    try:
        return importlib.import_module(f"ipcwatch.native.{name}")
    except ImportError:
        if os.environ.get("IPCWATCH_REQUIRE_C") == "1":
            raise
        return None
