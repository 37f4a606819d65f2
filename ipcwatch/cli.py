"""Command line: `ipcwatch` opens the dashboard; subcommands give the same snapshot and actions headless.

Each subcommand lives in `ipcwatch/commands/<name>.py` with `register(subparsers)`. Only the module of the command
being run is imported (all of them for `--help`, an unknown command or the dashboard), and the modules import their
heavy dependencies inside `run`: `ipcwatch list` never pays for textual, the actions or the exporter.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from ipcwatch import __version__
from ipcwatch.text import terminal_columns

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any, NoReturn

# Every subcommand -> the module under ipcwatch/commands that registers it (in the order `--help` lists them).
COMMANDS = {
    "list": "list",
    "namespaces": "namespaces",
    "why": "why",
    "signals": "signals",
    "hexdump": "hexdump",
    "peek": "peek",
    "send": "peek",
    "receive": "peek",
    "sem": "sem",
    "kill": "kill",
    "rm": "rm",
    "clean": "rm",
    "demo": "demo",
    "exporter": "exporter",
}


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names (its first word that is not an option or an option's value), if it is one; ""
    when `argv` holds only the dashboard's own options (the dashboard: no command module is needed, ~35 ms of
    imports); None when every command must be known (help, an unknown word or option)."""
    words = iter(argv)
    for word in words:
        if word in ("-h", "--help"):
            return None  # help on the top-level parser lists every command
        if word == "--interval":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
        elif word != "--read-only" and not word.startswith("--interval="):
            return None  # an option the parser must explain, with its full usage
    return ""


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's, as wide as the terminal without importing shutil (`text.terminal_columns`); argparse makes one per
    argument it adds."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        width = terminal_columns() - 2 if width is None else width  # argparse's own margin
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    """A parser (and its subcommands' parsers, of the same class) with that formatter unless told another."""

    def __init__(self, *args: Any, formatter_class: type[argparse.HelpFormatter] = _HelpFormatter, **kwargs: Any):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with `only` that one, or none when `only` is "" (the modules of the
    commands left out are never imported)."""
    parser = _Parser(
        prog="ipcwatch",
        description="Every live IPC object on this host, who holds it, and who is waiting on it. "
        "Without a command, opens the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"ipcwatch {__version__}")
    parser.add_argument(
        "--read-only", action="store_true", help="refuse every action that changes anything (dashboard and CLI)"
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, metavar="SECONDS", help="dashboard refresh interval (default 2)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in dict.fromkeys(COMMANDS.values()) if only is None else (COMMANDS[only],) if only else ():
        importlib.import_module(f"ipcwatch.commands.{name}").register(sub)
    return parser


def run_dashboard(args: argparse.Namespace) -> int:
    """The dashboard: imported with the cyclic collector off (16 ms of its 250 ms of imports), which then comes back
    on, the imported modules frozen out of its walks (they live as long as the process)."""
    from ipcwatch.tui.app import run  # noqa: PLC0415 - the TUI is only imported when it is used

    gc.freeze()
    gc.enable()
    return run(read_only=args.read_only, interval=args.interval)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; `argv` None: this process is the command (the console script, `python -m ipcwatch`)."""
    program = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    # The imports, then a headless command's snapshot, build large acyclic heaps: the cyclic collector would only
    # walk them again and again (measured: 4 ms of the 70 ms `list` imports; to_json 4x slower at 45,000 objects).
    # Off for a headless command's whole (short) life; the dashboard turns it back on.
    collecting = gc.isenabled()
    gc.disable()
    command = command_of(argv)
    if program and command == "list" and not any(word.startswith(("--kind", "-h", "--help")) for word in argv):
        # The /proc pass the scan will ask for starts now, while the interpreter imports the scan (it releases the
        # GIL throughout): 9,000 objects, `list --json` 0.149 -> 0.135 s. Any other pass is read as usual.
        from ipcwatch.native import passthread  # noqa: PLC0415 - only `list` starts it

        passthread.start_early(passthread.early_args())
    try:
        args = build_parser(command).parse_args(argv)
    except SystemExit:  # --help, --version, a usage error
        if collecting:
            gc.enable()
        raise
    if args.command is None:
        return run_dashboard(args)
    try:
        code = int(args.func(args) or 0)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = _broken_pipe()
    except OSError as exc:
        if exc.errno not in _OUTPUT_LOST:
            raise
        code = _output_lost(exc, program)
    finally:
        if program:  # the process ends now: the interpreter's last collection would walk the whole heap (10 ms at
            gc.freeze()  # 9,000 objects); frozen objects are left out of it
        elif collecting:  # called in-process (tests, scripts): the caller's collector as it was
            gc.enable()
    threading = sys.modules.get("threading")  # not imported: no thread was started through it
    if program and (threading is None or threading.active_count() == 1):
        _end(code)
    return code


def _broken_pipe() -> int:
    """`ipcwatch list | head`: the reader went away; exit quietly like other Unix tools."""
    sys.stderr.close()
    return 141


# A write the disk refused (`> /dev/full`, a quota, a file size limit): the output is lost, not the command broken.
_OUTPUT_LOST = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _output_lost(exc: OSError, program: bool) -> int:
    """Say the output could not be written and return 120, what the interpreter returns when its last flush fails.
    When this process is the command, what is still buffered goes to /dev/null: the last flush must not fail (and
    say so) a second time."""
    _tell(f"ipcwatch: could not write the output: {exc.strerror or exc}")
    if program:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    return 120


def _end(code: int) -> NoReturn:
    """End the process now, its output flushed, with no thread left to wait for: the interpreter's finalization
    would only free the heap object by object (measured: 5-10 ms of `list --json` at 9,000 objects)."""
    try:
        if sys.stdout is not None:  # None when fd 1 was closed at start-up (`ipcwatch list >&-`)
            sys.stdout.flush()
    except BrokenPipeError:
        code = _broken_pipe()
    except OSError as exc:  # a full disk (`> /dev/full`): the output is lost, and the exit code says so
        code = code or _output_lost(exc, program=False)
    if sys.stderr is not None and not sys.stderr.closed:
        try:
            sys.stderr.flush()
        except OSError:
            pass  # nowhere left to say it
    os._exit(code)


def _tell(message: str) -> None:
    """A last word on stderr, if there is one to write to."""
    if sys.stderr is not None and not sys.stderr.closed:
        try:
            sys.stderr.write(message + "\n")
        except OSError:
            pass
