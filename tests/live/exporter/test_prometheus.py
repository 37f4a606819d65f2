"""The exporter with the real Prometheus tools: a Prometheus server scrapes it every second and loads the alert
rules; promtool checks and unit-tests the rules; every metric the rules and the Grafana dashboard use exists;
the dashboard's queries run; the systemd units verify."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipcwatch.exporter.metrics import SPEC
from ipcwatch.scan import KINDS
from tests.paths import REPO

ROOT = REPO
CONTRIB = ROOT / "contrib"
RULES = CONTRIB / "prometheus" / "ipcwatch.rules.yml"
DASHBOARD = CONTRIB / "grafana" / "ipcwatch-dashboard.json"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
needs_prometheus = pytest.mark.skipif(
    not os.access(PROMETHEUS, os.X_OK), reason="prometheus is not installed (Debian package prometheus)"
)
needs_promtool = pytest.mark.skipif(
    not os.access(PROMTOOL, os.X_OK), reason="promtool is not installed (Debian package prometheus)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base

    def query(self, expr: str) -> Any:
        return _get(f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))

    def wait_for(self, expr: str, timeout: float = 90.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = self.query(expr)["data"]["result"]
                if result:
                    return result
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus never returned {expr}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """ipcwatch's exporter on a free loopback port, and a private Prometheus scraping it every second."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("prometheus is not installed (Debian package prometheus)")
    tmp = tmp_path_factory.mktemp("prometheus")
    err = open(tmp / "exporter.err", "wb")  # noqa: SIM115 - closed at teardown
    server_err = open(tmp / "prometheus.err", "wb")  # noqa: SIM115 - closed at teardown
    exporter = subprocess.Popen(
        [sys.executable, "-m", "ipcwatch", "exporter", "--listen", "127.0.0.1:0", "--max-age", "1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT,
    )  # fmt: skip
    server = None
    try:
        deadline = time.monotonic() + 30
        while "serving" not in (text := (tmp / "exporter.err").read_text()):
            assert exporter.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.05)
        target = text.split("serving http://", 1)[1].split("/", 1)[0]
        config = tmp / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: [{json.dumps(str(RULES))}]\n"
            "scrape_configs:\n"
            f"  - {{job_name: ipcwatch, static_configs: [{{targets: [{json.dumps(target)}]}}]}}\n"
        )
        port = _free_port()
        server = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=server_err,
        )  # fmt: skip
        yield Prometheus(f"http://127.0.0.1:{port}")
    finally:
        if server is not None:
            _stop(server)
        _stop(exporter)
        err.close()
        server_err.close()


@needs_prometheus
def test_prometheus_scrapes_the_exporter(prometheus: Prometheus) -> None:
    up = prometheus.wait_for('up{job="ipcwatch"} == 1')
    assert up[0]["value"][1] == "1"
    series = prometheus.wait_for('ipcwatch_objects{job="ipcwatch"}')
    assert {s["metric"]["kind"] for s in series} >= set(KINDS)
    assert prometheus.wait_for("ipcwatch_scans_total > 0")


@needs_prometheus
def test_prometheus_loads_the_alert_rules(prometheus: Prometheus) -> None:
    prometheus.wait_for('up{job="ipcwatch"} == 1')
    deadline = time.monotonic() + 60
    while True:
        groups = _get(f"{prometheus.base}/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups if g["name"] == "ipcwatch" for r in g["rules"]]
        if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules):
            break
        assert time.monotonic() < deadline, groups
        time.sleep(0.5)
    assert len(rules) == 6
    assert all(r["health"] == "ok" for r in rules), rules


@needs_prometheus
def test_every_dashboard_query_runs(prometheus: Prometheus) -> None:
    prometheus.wait_for('up{job="ipcwatch"} == 1')
    for expr in _dashboard_exprs():
        answer = prometheus.query(expr.replace("$instance", ".*"))
        assert answer["status"] == "success", (expr, answer)


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_rules_and_dashboard_use_only_metrics_the_exporter_has() -> None:
    exported = {f"{name}_total" if kind == "counter" else name for name, (kind, _, _) in SPEC.items()}
    used = set(re.findall(r"ipcwatch_[a-z_]+", RULES.read_text() + " ".join(_dashboard_exprs())))
    assert used and used <= exported, used - exported


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    done = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


@needs_promtool
def test_promtool_unit_test_fires_the_alerts() -> None:
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "ipcwatch.rules.test.yml"],
        capture_output=True, text=True, timeout=60, cwd=CONTRIB / "prometheus",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tests = (CONTRIB / "prometheus" / "ipcwatch.rules.test.yml").read_text()
    fired = ("StaleBytesGrowing", "DeadPartner", "WaitCycle", "LimitNearlyReached", "QueueNearlyFull", "ScanFailing")
    for alert in (f"Ipcwatch{name}" for name in fired):
        assert f"alertname: {alert}\n        exp_alerts:\n          - exp_labels" in tests


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    ipcwatch = shutil.which("ipcwatch", path=str(Path(sys.executable).parent)) or sys.executable
    for unit in sorted((CONTRIB / "systemd").iterdir()):
        quoted = f'"{ipcwatch}"'  # a clone's path may hold a space
        (tmp_path / unit.name).write_text(unit.read_text().replace("/usr/local/bin/ipcwatch", quoted))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ipcwatch" not in done.stderr, done.stderr
