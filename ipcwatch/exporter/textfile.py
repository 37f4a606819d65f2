"""Write the metrics once for node_exporter's textfile collector: a temp file in the same directory, then rename.

The temp name is unpredictable (mkstemp, O_EXCL) and ends in `.tmp`, which the textfile collector ignores; a
reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry


def write_textfile(path: str, registry: CollectorRegistry) -> None:
    """Collect once and replace `path` atomically (mode 0644). Raises OSError; leaves no temp file behind."""
    data = generate_latest(registry)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".ipcwatch.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o644)
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
