"""`ipcwatch peek`, `send` and `receive`: look into message queues, add a message, take one out."""

from __future__ import annotations

import argparse

from ipcwatch.actions import queues
from ipcwatch.actions.outcome import Outcome
from ipcwatch.actions.verify import describe, resolve
from ipcwatch.commands.common import EXIT_USAGE, confirm, fail, normalise_ref, refuse_if_read_only, say
from ipcwatch.commands.list import write_json
from ipcwatch.kinds import QUEUE_KINDS, Kind
from ipcwatch.text import escape


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "peek",
        help="show a queue's messages without removing them (SysV) or its attributes (POSIX)",
        description="SysV queues: every message (index, type, size, text preview and hex), copied with MSG_COPY, "
        "never removed. POSIX queues have no peek: their attributes are shown.",
    )
    p.add_argument("ref", metavar="REF", help="sysv-msg:ID or posix-mq:NAME")
    p.add_argument("--json", action="store_true", help="machine-readable output (bodies as hex)")
    p.set_defaults(func=run_peek)

    p = sub.add_parser("send", help="send one message to a queue (never blocks)")
    p.add_argument("ref", metavar="REF", help="sysv-msg:ID or posix-mq:NAME")
    p.add_argument("data", metavar="DATA", help="the message body (text, or hex digits with --hex)")
    p.add_argument("--hex", action="store_true", help="DATA is hex digits, e.g. 'de ad be ef'")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--type", type=int, default=1, metavar="N", help="SysV message type (> 0, default 1)")
    group.add_argument("--priority", type=int, default=0, metavar="N", help="POSIX message priority (default 0)")
    p.set_defaults(func=run_send)

    p = sub.add_parser(
        "receive",
        help="take the first message out of a queue (REMOVES it; never blocks)",
        description="Destructive: the message is removed from the queue and printed. Asks on a terminal; "
        "needs --yes otherwise.",
    )
    p.add_argument("ref", metavar="REF", help="sysv-msg:ID or posix-mq:NAME")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=run_receive)


def message_line(index: int, mtype: int, body: bytes, type_label: str = "type") -> str:
    """One escaped line: index, type, size, a text preview and the hex."""
    return f"#{index} {type_label} {mtype} size {len(body)}: text '{escape(body[:64])}' hex {queues.hex_preview(body)}"


def run_peek(args: argparse.Namespace) -> int:
    obj = resolve(normalise_ref(args.ref), QUEUE_KINDS)
    if isinstance(obj, Outcome):
        return fail(escape(obj.message), obj.exit_code)
    outcome = queues.peek(obj)
    if not outcome.ok:
        return fail(escape(outcome.message), outcome.exit_code)
    view = outcome.data
    if args.json:
        data = {
            "ref": escape(view.ref),
            "kind": view.kind,
            "complete": view.complete,
            "messages": [m.to_json() | {"text": escape(m.body)} for m in view.messages],
            "attributes": view.attributes,
        }
        write_json(data)
        return 0
    say(escape(outcome.message))
    for message in view.messages:
        say("  " + message_line(message.index, message.mtype, message.body))
    for key, label in queues.POSIX_ATTRIBUTES:
        if key in view.attributes:
            value = view.attributes[key]
            say(f"  {label}: {'?' if value is None else escape(str(value))}")
    if view.attributes and all(v is None for v in view.attributes.values()):
        owner = f"owner {escape(str(obj.owner))}, mode {obj.perms}"
        return fail(f"{escape(obj.ref)}: its attributes could not be read ({owner}); run as root or as its owner")
    return 0


def run_send(args: argparse.Namespace) -> int:
    refused = refuse_if_read_only(args, f"send to {escape(args.ref)}")
    if refused is not None:
        return refused
    try:
        body = queues.parse_body(args.data, args.hex)
    except ValueError as exc:
        return fail(f"bad hex data: {escape(str(exc))}", EXIT_USAGE)
    obj = resolve(normalise_ref(args.ref), QUEUE_KINDS)
    if isinstance(obj, Outcome):
        return fail(escape(obj.message), obj.exit_code)
    outcome = queues.send(obj, body, mtype=args.type, priority=args.priority, read_only=args.read_only)
    say(escape(outcome.message), err=not outcome.ok)
    return outcome.exit_code


def run_receive(args: argparse.Namespace) -> int:
    refused = refuse_if_read_only(args, f"receive from {escape(args.ref)}")
    if refused is not None:
        return refused
    obj = resolve(normalise_ref(args.ref), QUEUE_KINDS)
    if isinstance(obj, Outcome):
        return fail(escape(obj.message), obj.exit_code)
    if not confirm(f"receive one message from {escape(describe(obj))}? It is REMOVED from the queue.", yes=args.yes):
        return 1
    outcome = queues.receive(obj, read_only=args.read_only)
    say(escape(outcome.message), err=not outcome.ok)
    if outcome.ok:
        label = "type" if obj.kind == Kind.SYSV_MSG else "priority"
        say("  " + message_line(0, outcome.data.mtype, outcome.data.body, label))
    return outcome.exit_code
