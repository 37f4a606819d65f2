"""`ipcwatch list`: every IPC object as tables per kind, or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from ipcwatch.scan import KIND_TITLES, KINDS, ScanConfig, Snapshot, scan
from ipcwatch.text import escape
from ipcwatch.views import COLUMNS, render_table


def _kinds(values: list[str] | None) -> frozenset[str]:
    if not values:
        return frozenset(KINDS)
    chosen = {k.strip() for v in values for k in v.split(",") if k.strip()}
    unknown = chosen - set(KINDS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise argparse.ArgumentTypeError(f"unknown kind(s): {names}; choose from {', '.join(KINDS)}")
    return frozenset(chosen)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list IPC objects (tables per kind, or --json)",
        description="List every IPC object with its holders and a stale verdict.",
    )
    p.add_argument(
        "--kind",
        action="append",
        metavar="KIND",
        help=f"only these kinds (repeat or comma-separate): {', '.join(KINDS)}",
    )
    p.add_argument("--stale", action="store_true", help="only objects that look abandoned")
    p.add_argument("--json", action="store_true", help='machine-readable: {"objects": [...], "errors": [...]}')
    p.set_defaults(func=run)


def print_tables(snapshot: Snapshot, kinds: frozenset[str], stale_only: bool) -> None:
    for kind in KINDS:
        if kind not in kinds:
            continue
        objects = [o for o in snapshot.objects if o.kind == kind and (o.stale or not stale_only)]
        stale = sum(1 for o in objects if o.stale)
        print(f"{KIND_TITLES[kind]} ({kind}): {len(objects)} object(s)" + (f", {stale} stale" if stale else ""))
        if objects:
            for line in render_table(COLUMNS[kind], objects):
                print("  " + line)
        print()


def run(args: argparse.Namespace) -> int:
    try:
        kinds = _kinds(args.kind)
    except argparse.ArgumentTypeError as exc:
        print(f"ipcwatch: {escape(str(exc))}", file=sys.stderr)
        return 2
    snapshot = scan(ScanConfig(kinds=kinds))
    if args.json:
        data = snapshot.to_json()
        if args.stale:
            data["objects"] = [o for o in data["objects"] if o["stale"]]
        # dumps, not dump: dump streams through the pure-Python encoder, one write() per token
        sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")
        return 0
    print_tables(snapshot, kinds, args.stale)
    for note in snapshot.notes:
        print(f"note: {escape(note)}", file=sys.stderr)
    for error in snapshot.errors[:20]:
        print(f"could not read {escape(str(error))}", file=sys.stderr)
    if len(snapshot.errors) > 20:
        print(f"... and {len(snapshot.errors) - 20} more (see --json)", file=sys.stderr)
    return 0
