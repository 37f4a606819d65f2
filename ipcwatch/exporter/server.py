"""Serve /metrics over HTTP until a stop signal (HUP, TERM, INT, QUIT), then shut the server down cleanly.

Binds to loopback unless told otherwise (the default, `ipcwatch.exporter.DEFAULT_LISTEN`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from prometheus_client import start_http_server
from prometheus_client.registry import CollectorRegistry

from ipcwatch.stopsignals import StopSignals


def parse_listen(text: str) -> tuple[str, int]:
    """`ADDR:PORT`, `[V6ADDR]:PORT` or a bare `PORT` (loopback) -> (address, port). Raises ValueError."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError(f"no address in {text!r}: say 127.0.0.1:PORT (loopback) or 0.0.0.0:PORT (every interface)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"not an IP address: {host!r}") from None
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"not a port number: {port_text!r}")
    return host, int(port_text)


def exposure_warning(host: str) -> str | None:
    """What to say when the server will be reachable from other hosts (names in labels are sensitive)."""
    if ipaddress.ip_address(host).is_loopback:
        return None
    return (
        f"listening on {host}, not only loopback: anyone who can reach this port sees counts, limits and, with "
        "--per-object, object names; restrict it with a firewall"
    )


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/metrics" if ":" in host else f"http://{host}:{port}/metrics"


def serve(registry: CollectorRegistry, host: str, port: int, say: Callable[[str], None]) -> str:
    """Serve until a stop signal; returns the name of the signal. Port 0 picks a free port (said on start)."""
    warning = exposure_warning(host)
    if warning:
        say(f"warning: {warning}")
    with StopSignals() as stop:
        server, thread = start_http_server(port, host, registry)
        try:
            bound_port = server.server_address[1]
            say(f"serving {url_of(host, bound_port)} (stop with Ctrl-C, SIGTERM, SIGHUP or SIGQUIT)")
            reason = stop.wait()
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5.0)
    return reason
