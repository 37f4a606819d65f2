"""The /proc pass `list` starts early (ipcwatch.native.passthread): the scan takes it only when it asks for the very
same call, the default scan asks for exactly what `early_args` starts, and a `list` run as the command uses it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from ipcwatch.native import passthread
from ipcwatch.scan import ScanConfig, scan
from tests.conftest import needs_root


def test_the_default_scan_asks_for_the_pass_list_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple] = []
    real_take = passthread.take
    monkeypatch.setattr(passthread, "take", lambda args: asked.append(args) or real_take(args))
    scan(ScanConfig())
    scan(ScanConfig(kinds=frozenset({"pipe"})))
    assert asked[0] == passthread.early_args()
    assert asked[1] != passthread.early_args()  # no maps, no eventfds: another call


def test_only_the_same_call_is_taken_and_only_once() -> None:
    args = passthread.early_args()
    passthread.start_early(args)
    other = (args[0], frozenset(), *args[2:])
    assert passthread.take(other) is None  # another call: the early one waited for and dropped
    assert passthread.take(args) is None  # already dropped
    passthread.start_early(args)
    taken = passthread.take(args)
    assert taken is not None and any(record[0] == 1 or len(record) > 2 for record in taken.result())
    assert passthread.take(args) is None  # taken once


@needs_root
def test_list_run_as_the_command_takes_the_early_pass() -> None:
    code = textwrap.dedent(
        """
        import sys
        from ipcwatch import cli
        from ipcwatch.native import passthread
        real_take = passthread.take
        def take(args):
            found = real_take(args)
            print([found is not None], file=sys.stderr, flush=True)  # the command ends by os._exit
            return found
        passthread.take = take
        sys.argv = ["ipcwatch", "list", "--json"]
        cli.main()
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "[True]"
    assert json.loads(done.stdout)["objects"] is not None
    kinds = subprocess.run(
        [sys.executable, "-c", code.replace('"--json"]', '"--json", "--kind", "pipe"]')],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert kinds.returncode == 0 and kinds.stderr.strip() == "[False]"  # --kind: no early pass started
