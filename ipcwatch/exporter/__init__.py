"""Prometheus exporter: one snapshot turned into metric families, served over HTTP or written as a textfile.

Never acts on anything: it only scans. `metrics` turns a snapshot into families, `collector` caches them (one scan
shared by concurrent scrapes, a time budget per scan), `server` serves /metrics, `textfile` writes a .prom file.
"""

DEFAULT_PORT = 14720  # outside the Prometheus wiki's allocated 9100-9999, below Linux's ephemeral 32768-60999
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
DEFAULT_MAX_AGE = 10.0  # seconds a scan is served before a scrape asks for a new one
DEFAULT_BUDGET = 8.0  # seconds a scrape waits for a scan: below Prometheus' default 10 s scrape timeout
PER_OBJECT_MAX = 500  # series per per-object metric, whatever --per-object asks
