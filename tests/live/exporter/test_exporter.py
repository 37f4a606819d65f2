"""The exporter's collector, server and textfile: describe() without scanning, one scan for concurrent scrapes,
a scan over budget or failing served as a metric, clean shutdown on every stop signal, atomic textfile writes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from ipcwatch.exporter import DEFAULT_LISTEN, PER_OBJECT_MAX
from ipcwatch.exporter.collector import ERROR, TIMEOUT, SnapshotCollector
from ipcwatch.exporter.metrics import SPEC, BuildOptions, snapshot_families
from ipcwatch.exporter.server import exposure_warning, parse_listen
from ipcwatch.scan import KINDS, IpcObject, ScanConfig, Snapshot, scan
from ipcwatch.scan.info import SysvShmInfo
from ipcwatch.scan.limits import limit_usage, read_limits
from tests.paths import REPO

ROOT = str(REPO)
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted labels: value} of every sample called `name` in exposition text (parsed by prometheus_client)."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name
    }


class CountingScanner:
    """A real scan (SysV segments only: quick) that counts its calls and can be held back by a gate."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: threading.Event | None = None
        self.fail: Exception | None = None

    def __call__(self) -> Snapshot:
        self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        if self.fail is not None:
            raise self.fail
        return scan(ScanConfig(kinds=frozenset({"sysv-shm"})))


@pytest.fixture
def scanner() -> Iterator[CountingScanner]:
    s = CountingScanner()
    yield s
    if s.gate is not None:
        s.gate.set()  # never leave a scan thread waiting


def registry_of(collector: SnapshotCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def test_registering_calls_describe_only_and_a_scrape_scans_once(scanner: CountingScanner) -> None:
    collector = SnapshotCollector(scanner=scanner)
    registry = registry_of(collector)
    assert scanner.calls == 0
    assert {f.name for f in collector.describe()} == set(SPEC)
    text = generate_latest(registry).decode()
    assert scanner.calls == 1
    assert {labels[0][1] for labels in values(text, "ipcwatch_objects")} >= set(KINDS)
    assert values(text, "ipcwatch_scans_total") == {(): 1.0}
    assert values(text, "ipcwatch_last_scan_success") == {(): 1.0}
    assert values(text, "ipcwatch_build_info")


@pytest.fixture
def served(scanner: CountingScanner) -> Iterator[Callable[[SnapshotCollector], str]]:
    """Serve a collector on a free loopback port with prometheus_client's own server; yields its URL maker."""
    servers = []

    def serve(collector: SnapshotCollector) -> str:
        server, thread = start_http_server(0, "127.0.0.1", registry_of(collector))
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/metrics"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def test_ten_concurrent_scrapes_share_one_scan(scanner: CountingScanner, served) -> None:
    collector = SnapshotCollector(scanner=scanner, max_age=60, budget=120)
    url = served(collector)
    scanner.gate = threading.Event()
    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(scrape, url) for _ in range(10)]
        while collector._flight is None:  # the first scrape started the scan; let the others pile up on it
            time.sleep(0.01)
        time.sleep(0.2)
        scanner.gate.set()
        bodies = [f.result(timeout=30) for f in futures]
    assert scanner.calls == 1
    assert all(values(b, "ipcwatch_objects") for b in bodies)
    assert values(scrape(url), "ipcwatch_scans_total") == {(): 1.0}  # still cached: max_age 60 s


def test_cache_expires_after_max_age(scanner: CountingScanner) -> None:
    collector = SnapshotCollector(scanner=scanner, max_age=0.05)
    registry = registry_of(collector)
    generate_latest(registry)
    time.sleep(0.1)
    text = generate_latest(registry).decode()
    assert scanner.calls == 2
    assert values(text, "ipcwatch_scans_total") == {(): 2.0}


def test_scan_over_budget_serves_the_previous_scan_and_counts_a_timeout(scanner: CountingScanner) -> None:
    collector = SnapshotCollector(scanner=scanner, max_age=0.01, budget=120)
    registry = registry_of(collector)
    first = generate_latest(registry).decode()
    time.sleep(0.05)
    collector.budget = 0.3
    scanner.gate = threading.Event()  # the next scan hangs
    late = generate_latest(registry).decode()
    assert values(late, "ipcwatch_scan_failures_total")[(("reason", TIMEOUT),)] == 1.0
    assert values(late, "ipcwatch_objects") == values(first, "ipcwatch_objects")  # the previous scan, served
    assert values(late, "ipcwatch_snapshot_age_seconds")[()] > 0
    assert values(late, "ipcwatch_last_scan_success") == {(): 0.0}
    again = generate_latest(registry).decode()  # the same slow scan: waited on, not started again
    assert scanner.calls == 2
    assert values(again, "ipcwatch_scan_failures_total")[(("reason", TIMEOUT),)] == 1.0
    scanner.gate.set()
    deadline = time.monotonic() + 30
    while collector.scans < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert collector.scans == 2  # the late scan still completed and filled the cache
    assert collector.last_ok is False  # but it ran over budget


def test_failed_scan_is_an_error_metric_not_a_crash(scanner: CountingScanner) -> None:
    scanner.fail = PermissionError(13, "Permission denied")
    collector = SnapshotCollector(scanner=scanner)
    text = generate_latest(registry_of(collector)).decode()
    assert values(text, "ipcwatch_scan_failures_total")[(("reason", ERROR),)] == 1.0
    assert values(text, "ipcwatch_last_scan_success") == {(): 0.0}
    assert not values(text, "ipcwatch_objects")  # nothing known, nothing claimed
    assert values(text, "ipcwatch_build_info")
    assert collector.last_error == "PermissionError: [Errno 13] Permission denied"


def _object(i: int, size: int) -> IpcObject:
    return IpcObject(
        ref=f"sysv-shm:{i}", kind="sysv-shm", name=None, id=i, key=i, owner="root", uid=0, mode=0o600,
        size=size, holders=(), stale=True, stale_reason="test", identity=str(i),
        info=SysvShmInfo(0, 0, 0, "", None, None, 0, 0, 0, None, 1000 + i),
    )  # fmt: skip


def test_per_object_series_are_capped_and_off_by_default() -> None:
    snap = Snapshot(objects=tuple(_object(i, 4096 * (i + 1)) for i in range(PER_OBJECT_MAX + 100)), processes={})
    off = {f.name for f in snapshot_families(snap, [], [], BuildOptions())}
    assert "ipcwatch_largest_object_bytes" not in off and "ipcwatch_stale_object_idle_seconds" not in off
    fams = {f.name: f for f in snapshot_families(snap, [], [], BuildOptions(per_object=10**6))}
    largest = fams["ipcwatch_largest_object_bytes"].samples
    assert len(largest) == PER_OBJECT_MAX
    assert largest[0].labels["ref"] == f"sysv-shm:{PER_OBJECT_MAX + 99}"  # the largest first
    assert len(fams["ipcwatch_stale_object_idle_seconds"].samples) == PER_OBJECT_MAX
    assert fams["ipcwatch_stale_object_idle_seconds"].samples[0].labels["ref"] == "sysv-shm:0"  # the longest idle


def test_limits_read_the_kernel_and_skip_garbage(tmp_path) -> None:
    real = read_limits()
    with open("/proc/sys/kernel/shmmni") as f:
        assert real["shmmni"] == int(f.read())
    with open("/proc/sys/kernel/sem") as f:
        assert [real[k] for k in ("semmsl", "semmns", "semopm", "semmni")] == [int(v) for v in f.read().split()]
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "sem").write_text("250 32000 bogus\n")
    (tmp_path / "kernel" / "shmmni").write_bytes(b"\xff\xfe\n")
    fake = read_limits(str(tmp_path))
    assert fake == {"semmsl": 250, "semmns": 32000}
    used = {u.resource: u.used for u in limit_usage(Snapshot(objects=(_object(1, 10000),), processes={}), fake)}
    assert used == {"semmsl": 0, "semmns": 0}


def test_listen_addresses() -> None:
    assert parse_listen(DEFAULT_LISTEN) == ("127.0.0.1", 14720)  # loopback unless told otherwise
    assert parse_listen("9999") == ("127.0.0.1", 9999)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen("0.0.0.0:14720") == ("0.0.0.0", 14720)
    for bad in (":14720", "localhost:14720", "127.0.0.1:99999", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            parse_listen(bad)
    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert "not only loopback" in (exposure_warning("0.0.0.0") or "")


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipcwatch", "exporter", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL, check=False, **kwargs,
    )  # fmt: skip


def test_bad_listen_address_is_a_usage_error() -> None:
    done = _cli("--listen", ":14720")
    assert done.returncode == 2 and "no address" in done.stderr and "Traceback" not in done.stderr


def test_textfile_is_written_atomically_and_complete(tmp_path) -> None:
    path = tmp_path / "ipcwatch.prom"
    path.write_text("old\n")
    before = os.stat(path).st_ino
    done = _cli("--textfile", str(path), "--scan-budget", "120")
    assert done.returncode == 0, done.stderr
    assert os.listdir(tmp_path) == ["ipcwatch.prom"]  # no temp file left behind
    assert os.stat(path).st_ino != before  # replaced by a rename, never rewritten in place
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    text = path.read_text()
    assert {labels[0][1] for labels in values(text, "ipcwatch_objects")} >= set(KINDS)
    assert values(text, "ipcwatch_scans_total") == {(): 1.0}


def test_textfile_scan_over_budget_says_so_in_the_file_and_the_exit_code(tmp_path) -> None:
    path = tmp_path / "ipcwatch.prom"
    done = _cli("--textfile", str(path), "--scan-budget", "0.000001")
    assert done.returncode == 1 and "longer than" in done.stderr and "Traceback" not in done.stderr
    text = path.read_text()
    assert values(text, "ipcwatch_last_scan_success") == {(): 0.0}
    assert values(text, "ipcwatch_scan_failures_total")[(("reason", TIMEOUT),)] == 1.0


def test_textfile_in_a_missing_directory_fails_cleanly(tmp_path) -> None:
    done = _cli("--textfile", str(tmp_path / "missing" / "x.prom"))
    assert done.returncode == 1 and "cannot write" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def exporter_process() -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    """Start `ipcwatch exporter --listen 127.0.0.1:0`; returns (process, metrics URL); killed at teardown."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ipcwatch", "exporter", "--listen", "127.0.0.1:0", "--scan-budget", "120", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        procs.append(proc)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "serving http://127.0.0.1:" in line, line
        return proc, line.split("serving ", 1)[1].split(" ", 1)[0]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=[s.name for s in STOP_SIGNALS])
def test_exporter_serves_then_stops_cleanly_on_each_stop_signal(exporter_process, sig: signal.Signals) -> None:
    proc, url = exporter_process()
    text = scrape(url)
    assert {labels[0][1] for labels in values(text, "ipcwatch_objects")} >= set(KINDS)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None
    rest = proc.stderr.read()
    assert f"stopped ({sig.name})" in rest and "Traceback" not in rest
    with pytest.raises(OSError):
        scrape(url)  # the port is closed
