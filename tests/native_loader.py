"""Run code in a fresh interpreter with a compiled helper made unimportable, to see which implementation loads."""

from __future__ import annotations

import os
import subprocess
import sys


def without_helper(helper: str, code: str, require_c: str) -> str:
    """`code`'s stdout (stripped), run where `ipcwatch.native.<helper>` cannot be imported, with IPCWATCH_REQUIRE_C
    set to `require_c`. `code` sees the import refused: it prints what it found, or `ImportError`."""
    program = (
        f"import sys; sys.modules['ipcwatch.native.{helper}'] = None\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + "except ImportError:\n    print('ImportError')\n"
    )
    env = {**os.environ, "IPCWATCH_REQUIRE_C": require_c}
    run = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return run.stdout.strip()
