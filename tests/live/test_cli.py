"""`ipcwatch.cli.main` called in-process (by tests and scripts) leaves the caller's cyclic collector as it was."""

from __future__ import annotations

import gc

import pytest

from ipcwatch.cli import main


@pytest.mark.parametrize("enabled", [True, False])
def test_main_in_process_leaves_the_collector_as_it_was(enabled: bool, capsys: pytest.CaptureFixture[str]) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert main(["list", "--kind", "sysv-shm", "--json"]) == 0
        assert '"objects"' in capsys.readouterr().out
        assert gc.isenabled() is enabled
        with pytest.raises(SystemExit):
            main(["list", "--no-such-option"])
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
