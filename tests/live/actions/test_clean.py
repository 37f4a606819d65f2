"""`clean` and stale POSIX queues: a queue's age is its last send/receive (mtime), which our own listing never
changes, so a queue nobody used for a while is offered and removed, and one just sent to is kept."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import posix_ipc
import pytest
from textual.widgets import SelectionList

from ipcwatch.actions import clean as cleaning
from ipcwatch.actions.outcome import Status
from ipcwatch.tui.screens.clean import CleanScreen
from tests.conftest import needs_root, scan_kinds
from tests.paths import REPO
from tests.tui.screens.test_action_screens import Host, settle, shown

ROOT = str(REPO)
IDLE = 3600.0  # how long ago the queues' last message activity is set back to


def stale_queues(posix_mq) -> tuple[str, str]:
    """(idle, fresh): two real queues nobody holds, idle for an hour; `fresh` is then sent a message."""
    names = []
    for _ in range(2):
        name, mq = posix_mq()
        mq.close()  # nobody holds it now
        path = f"/dev/mqueue/{name}"
        old = os.stat(path).st_mtime - IDLE
        os.utime(path, (old, old))  # sets the kernel object's times back, as an hour without traffic would
        names.append(name)
    idle, fresh = names
    sender = posix_ipc.MessageQueue("/" + fresh)
    try:
        sender.send(b"just now")
    finally:
        sender.close()
    return idle, fresh


def mine(names: set[str], recent: float = cleaning.RECENT_SECONDS) -> dict[str, cleaning.Candidate]:
    plan = cleaning.plan_from(scan_kinds("posix-mq"), recent=recent)
    return {c.obj.name: c for c in plan.candidates if c.obj.name in names}


def test_idle_queue_is_offered_and_removed_fresh_one_kept(posix_mq):
    idle, fresh = stale_queues(posix_mq)
    for _ in range(2):  # a scan reads every queue (setting atime/ctime): the next one must not see it younger
        found = mine({idle, fresh})
        assert found[idle].selected and found[idle].age is not None and found[idle].age >= IDLE - 5
        assert "no message sent or received for 1h" in found[idle].reason
        assert "; no send/receive for 1h; owner " in found[idle].line()
        assert not found[fresh].selected and found[fresh].age is not None and found[fresh].age < 60
        assert "1 message(s) queued" in found[fresh].reason
    assert os.stat(f"/dev/mqueue/{idle}").st_atime > os.stat(f"/dev/mqueue/{idle}").st_mtime + IDLE - 5

    outcomes = cleaning.clean([found[idle]])
    assert [o.status for o in outcomes] == [Status.DONE]
    assert not os.path.exists(f"/dev/mqueue/{idle}")
    assert os.path.exists(f"/dev/mqueue/{fresh}")


def test_guard_is_a_parameter(posix_mq):
    _idle, fresh = stale_queues(posix_mq)
    assert not mine({fresh})[fresh].selected
    assert mine({fresh}, recent=0)[fresh].selected


async def test_dashboard_checklist_checks_the_idle_queue_only(posix_mq):
    idle, fresh = stale_queues(posix_mq)

    def plan() -> cleaning.CleanPlan:
        found = mine({idle, fresh})
        return cleaning.CleanPlan((found[idle], found[fresh]), ())

    app = Host(lambda: CleanScreen(plan=plan))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        checklist = app.screen.query_one(SelectionList)
        assert checklist.selected == [0]
        prompt = str(checklist.get_option_at_index(0).prompt)
        assert f"posix-mq:{idle}: " in prompt and "; no send/receive for 1h; " in prompt
        assert "would remove 1 of 2" in shown(app, "#clean-summary")
        await pilot.press("escape")
        await pilot.pause()


# `ipcwatch clean --yes` acts on the whole host: run it where the only objects are the test's own, in private
# IPC, mount and network namespaces with fresh /dev/mqueue, /dev/shm, /tmp and /run (all gone when it exits).
_PRIVATE_CLEAN = """
import json, os, subprocess, sys, posix_ipc
from tests.private_mounts import mount_fresh
mount_fresh("/dev/mqueue", "mqueue")
for d in ("/dev/shm", "/tmp", "/run", "/var/run"):
    if os.path.isdir(d) and not os.path.islink(d):
        mount_fresh(d)
for name in ("idle", "fresh"):
    posix_ipc.MessageQueue("/" + name, posix_ipc.O_CREX, mode=0o600).close()
    old = os.stat("/dev/mqueue/" + name).st_mtime - 3600
    os.utime("/dev/mqueue/" + name, (old, old))
fresh = posix_ipc.MessageQueue("/fresh")
fresh.send(b"just now")
fresh.close()
own = "ipc:%d" % os.stat("/proc/self/ns/ipc").st_ino  # this namespace only: the host's objects are seen too
def clean(*args):
    done = subprocess.run([sys.executable, "-m", "ipcwatch", "clean", "--namespace", own, *args],
                          capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    return {"rc": done.returncode, "out": done.stdout, "err": done.stderr}
dry = clean()
yes = clean("--yes")
print(json.dumps({"dry": dry, "yes": yes, "left": sorted(os.listdir("/dev/mqueue"))}))
"""


@needs_root
@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare is not installed")
def test_clean_yes_removes_the_idle_queue_in_a_private_namespace():
    result = subprocess.run(
        ["unshare", "--ipc", "--mount", "--net", "--propagation", "private", sys.executable, "-c",
         textwrap.dedent(_PRIVATE_CLEAN)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    dry, yes = report["dry"], report["yes"]
    assert dry["rc"] == 0 and "Traceback" not in dry["err"], dry
    assert "[x] posix-mq:idle: no process has it open; 0 message(s) queued; no message sent or received for 1h" in dry[
        "out"
    ]
    assert "[ ] (touched in the last minute: kept) posix-mq:fresh" in dry["out"]
    assert "would remove 1 of 2 stale object(s)" in dry["out"]
    assert "nothing was removed" in dry["out"]
    assert yes["rc"] == 0 and "Traceback" not in yes["err"], yes
    assert "[x] posix-mq:idle" in yes["out"]  # the dry run's scan did not make it look younger
    assert report["left"] == ["fresh"]
