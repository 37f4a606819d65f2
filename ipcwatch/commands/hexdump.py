"""`ipcwatch hexdump REF`: a shared-memory object's bytes exactly as `hexdump -C` prints them, in constant memory."""

from __future__ import annotations

import argparse
import sys

from ipcwatch.commands.common import EXIT_REFUSED, fail, require_object, say
from ipcwatch.text import escape, parse_size

READ_WINDOW = 1 << 20  # bytes per pread: memory stays constant whatever the object's size


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hexdump",
        help="print a shared-memory object's bytes like `hexdump -C`",
        description="Print the bytes of a SysV or POSIX shared-memory object exactly as `hexdump -C` would, "
        "streaming in constant memory. POSIX objects are read with pread (never mapped); SysV segments through "
        "a holder's /proc/PID/map_files entry, else attached read-only (which changes nattch/atime: said on "
        "stderr; refused with exit code 3 under --read-only).",
    )
    p.add_argument("ref", metavar="REF", help="sysv-shm:ID, posix-shm:NAME, posix-sem:NAME or a /dev/shm/NAME path")
    p.add_argument("-s", "--skip", type=parse_size, default=0, metavar="OFFSET", help="skip OFFSET bytes first")
    p.add_argument("-n", "--length", type=parse_size, default=None, metavar="LENGTH", help="show at most LENGTH bytes")
    p.add_argument("-v", "--no-squeezing", dest="verbose", action="store_true", help="show repeated lines too")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ipcwatch.native.hexformat import HexdumpStream  # noqa: PLC0415 - only this command needs the helper
    from ipcwatch.shmread import READABLE_KINDS, AttachRefused, SourceError, open_source  # noqa: PLC0415

    obj = require_object(args.ref, READABLE_KINDS)
    if isinstance(obj, str):
        return fail(obj)
    try:
        source = open_source(obj, allow_attach=not getattr(args, "read_only", False))
    except AttachRefused as exc:
        return fail(f"refused: {exc}", EXIT_REFUSED)
    except SourceError as exc:
        return fail(str(exc))
    out = sys.stdout.buffer
    with source:
        if args.length == 0:
            return 0
        read_any = False
        try:
            size = source.status().size
            if size is None:
                return fail(f"{escape(source.title)} no longer exists")
            position = min(args.skip, size)
            end = size if args.length is None else min(size, position + args.length)
            stream = HexdumpStream(position, verbose=args.verbose)
            while position < end:
                want = min(READ_WINDOW, end - position)
                data = source.read(position, want)
                if source.note and not read_any:  # what reading changed; a read that failed changed nothing
                    say(f"ipcwatch: note: {source.note}", err=True)
                read_any = True
                for piece in stream.pieces(data):
                    out.write(piece)
                position += len(data)
                if len(data) < want:
                    out.write(stream.finish())
                    out.flush()
                    return fail(f"{escape(source.title)} shrank to {position} bytes while being read (it had {size})")
            out.write(stream.finish())
        except SourceError as exc:
            out.flush()
            return fail(f"{exc} (while being read; the output above is incomplete)" if read_any else str(exc))
    return 0
