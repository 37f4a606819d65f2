"""TRANSITIONAL: both halves of the libc calls under the old name, for ipcwatch/workload and benchmarks/loadgen.py
until they import ipcwatch.libc_write (and libc_read) themselves; then this module goes. Nothing in ipcwatch
proper imports it: the scan uses libc_read, the actions libc_write."""

from __future__ import annotations

from ipcwatch.libc_read import *  # noqa: F403
from ipcwatch.libc_write import *  # noqa: F403
