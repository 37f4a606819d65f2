"""`ipcwatch namespaces`: every IPC, mount and network namespace, its container, its processes and objects."""

from __future__ import annotations

import argparse
import sys

from ipcwatch.commands.list import add_namespace_option, write_json
from ipcwatch.scan.nsfilter import namespace_matches, unknown

HEADERS = ("NAMESPACE", "CONTAINER", "PIDS", "OBJECTS", "STALE", "BLOCKED", "PINNED", "BUSIEST LIMIT")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "namespaces",
        help="list namespaces and containers with their IPC objects",
        description="Every IPC, mount and network namespace: container, processes, objects, stale, blocked, limits.",
    )
    add_namespace_option(p)
    p.add_argument("--json", action="store_true", help='machine-readable: {"namespaces": [...], "notes": [...]}')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipcwatch.scan import scan  # noqa: PLC0415 - keep `ipcwatch --help` light
    from ipcwatch.scan.nssummary import summarize  # noqa: PLC0415
    from ipcwatch.text import escape  # noqa: PLC0415

    snapshot = scan()
    if unknown(args.namespace, snapshot.namespaces):
        print(f"ipcwatch: no namespace or container matches {escape(args.namespace)}", file=sys.stderr)
        return 2
    chosen = [s for s in summarize(snapshot) if namespace_matches(s.namespace, args.namespace)]
    if args.json:
        data = {"namespaces": [s.to_json() for s in chosen], "notes": list(snapshot.notes)}
        write_json(data)
        return 0
    rows = [HEADERS]
    for s in chosen:
        ns, box = s.namespace, s.namespace.container
        container = "-" if box is None else escape(f"{box.label} ({box.runtime})")
        rows.append(
            (
                ns.tag + (" host" if ns.host else ""),
                container,
                str(len(ns.pids)),
                str(s.total),
                str(s.stale),
                str(s.blocked),
                "yes" if ns.pinned_by else "",
                s.busiest_limit(),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    for note in snapshot.notes:
        print(f"note: {escape(note)}", file=sys.stderr)
    return 0
