"""`ipcwatch exporter`: Prometheus metrics on /metrics (loopback by default), or once into a textfile."""

from __future__ import annotations

import argparse

from ipcwatch.commands.common import EXIT_OK, EXIT_USAGE, fail, say
from ipcwatch.exporter import DEFAULT_BUDGET, DEFAULT_LISTEN, DEFAULT_MAX_AGE, PER_OBJECT_MAX
from ipcwatch.text import escape


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exporter",
        help="Prometheus metrics: serve /metrics, or write a node_exporter textfile once",
        description="Serve Prometheus metrics about IPC objects (counts, stale objects, blocked threads, full "
        "queues, kernel limits) on /metrics, or write them once to a file for node_exporter's textfile collector. "
        "Never changes anything. Stops cleanly on SIGINT, SIGTERM, SIGHUP or SIGQUIT.",
    )
    p.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="ADDR:PORT",
        help=f"address to serve on (default {DEFAULT_LISTEN}; 0.0.0.0:PORT or [::]:PORT for every interface; "
        "port 0 picks a free one)",
    )
    p.add_argument("--textfile", metavar="PATH", help="write the metrics once to PATH (atomically), then exit")
    p.add_argument(
        "--max-age",
        type=_positive,
        default=DEFAULT_MAX_AGE,
        metavar="SECONDS",
        help=f"serve a scan this long before scanning again; concurrent scrapes share one scan "
        f"(default {DEFAULT_MAX_AGE:g})",
    )
    p.add_argument(
        "--scan-budget",
        type=_positive,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help="longest a scrape waits for a scan; past it the previous scan is served and a timeout counted "
        f"(default {DEFAULT_BUDGET:g}, below Prometheus' 10 s scrape timeout)",
    )
    p.add_argument(
        "--per-object",
        type=_count,
        default=0,
        metavar="N",
        help="also export the N largest objects and the N longest idle stale objects, with ref and object "
        f"labels (default 0: off; at most {PER_OBJECT_MAX})",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prometheus_client.registry import CollectorRegistry  # noqa: PLC0415 - only this command pays for it

    from ipcwatch.exporter.collector import SnapshotCollector  # noqa: PLC0415
    from ipcwatch.exporter.metrics import BuildOptions  # noqa: PLC0415
    from ipcwatch.exporter.server import parse_listen, serve  # noqa: PLC0415
    from ipcwatch.exporter.textfile import write_textfile  # noqa: PLC0415

    collector = SnapshotCollector(
        max_age=args.max_age, budget=args.scan_budget, options=BuildOptions(per_object=args.per_object)
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # calls describe() only: no scan yet
    if args.textfile:
        try:
            write_textfile(args.textfile, registry)
        except OSError as exc:
            return fail(f"cannot write {escape(args.textfile)}: {escape(exc.strerror or str(exc))}")
        if not collector.last_ok:
            detail = collector.last_error or f"the scan took longer than {args.scan_budget:g} s"
            return fail(f"wrote {escape(args.textfile)} without IPC metrics: {escape(detail)}")
        return EXIT_OK
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        return fail(f"--listen: {escape(str(exc))}", EXIT_USAGE)
    try:
        reason = serve(registry, host, port, lambda text: say(f"ipcwatch exporter: {text}", err=True))
    except OSError as exc:
        return fail(f"cannot listen on {escape(args.listen)}: {escape(exc.strerror or str(exc))}")
    say(f"ipcwatch exporter: stopped ({escape(reason)})", err=True)
    return EXIT_OK
