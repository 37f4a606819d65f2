"""`ipcwatch demo`: every kind's demo objects appear with holders, the leftovers are stale, stop removes it all."""

from __future__ import annotations

import os

from ipcwatch.demo import PREFIX, Demo
from ipcwatch.scan import KINDS, ScanConfig, scan

LOCAL_KINDS = {"eventfd", "signalfd"}  # process-local kinds the demo does not make (yet)


def test_demo_makes_every_kind_and_cleans_up() -> None:
    demo = Demo()
    try:
        demo.start()
        directory, pids = demo.directory, set(demo.pids.values())
        assert os.path.basename(directory).startswith(PREFIX) and os.stat(directory).st_mode & 0o077 == 0
        snapshot = scan(ScanConfig(file_dirs=(directory,)))
        made = {m.ref: m.what for m in demo.made}
        found = {ref: snapshot.get(ref) for ref in made}
        assert all(found.values()), [ref for ref, obj in found.items() if obj is None]
        live = [obj for ref, obj in found.items() if obj is not None and not made[ref].startswith("stale")]
        stale = [obj for ref, obj in found.items() if obj is not None and made[ref].startswith("stale")]
        assert {o.kind for o in live} == set(KINDS) - LOCAL_KINDS
        for obj in live:
            assert not obj.stale, (obj.ref, obj.stale_reason)
            if obj.kind not in ("sysv-msg", "sysv-sem"):  # the kernel does not record SysV queue/sem holders
                assert obj.holder_pids and obj.holder_pids <= pids, (obj.ref, obj.holder_pids)
        assert {o.kind for o in stale} == {"sysv-shm", "posix-shm", "fifo", "unix"}
        assert all(o.stale and not o.holders for o in stale)
        refs = set(made)
    finally:
        demo.stop()
    after = scan(ScanConfig(file_dirs=(directory,)))
    assert not refs & {o.ref for o in after.objects}
    assert not os.path.exists(directory)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")
