"""The `?` screen: every key, generated from the bindings themselves so it never goes out of date."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.content import Content

from ipcwatch.tui.screens.text_page import TextPage

# Keys handled by widgets rather than bindings of our own.
EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓ PgUp PgDn Home End", "move in a table (mouse wheel scrolls, click selects)"),
    ("click a column header", "sort by that column (again: reverse)"),
    ("enter", "shared memory: hex view; queue: messages; semaphore: values; process: objects it holds"),
    ("enter (blocked view)", "what can be done about the thread (like a)"),
    ("enter (containers view)", "the All view showing only that namespace's objects (b comes back)"),
    ("tab / shift+tab", "move between the view list, the table and the detail pane"),
    ("ctrl+p", "command palette: every action by name"),
    ("ctrl+q", "quit"),
)


def _key_names(binding: Binding) -> str:
    names = {
        "slash": "/",
        "question_mark": "?",
        "plus": "+",
        "minus": "-",
        "equals_sign": "=",
        "space": "space",
        "right_square_bracket": "]",
        "left_square_bracket": "[",
        "backspace": "backspace",
    }
    return " ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def help_text(bindings: Iterable[Binding]) -> Content:
    rows = [(_key_names(b), b.description) for b in bindings] + list(EXTRA_KEYS)
    width = max(len(k) for k, _ in rows) + 2
    parts: list[str | tuple[str, str]] = [("ipcwatch keys\n\n", "bold")]
    for key, what in rows:
        parts += [(f"{key:<{width}}", "bold $text-accent"), what + "\n"]
    parts.append(
        "\nFilter: plain text matches any column (case-insensitive); start with re: for a regex;\n"
        "ns:NAME shows one namespace's objects (host, a container's name or its start, ipc:INODE).\n"
        "A CONTAINER column shows where each object lives while some live outside the host's namespaces.\n"
        "Narrow terminals show the most useful columns first (kind, name, owner, size, holders, the ! mark);\n"
        "a wider one shows the rest. ! says stale, or wait when a thread is blocked on the object.\n"
        "Pipes are named writer → reader and connected sockets by both ends (process and command, +N more).\n"
        "Rows: "
    )
    parts += [
        ("green", "$text-success"), " = appeared just now, struck out = gone since the last refresh, ",
        ("amber", "$text-warning"), " = stale,\n", ("red", "$text-error"),
        " = blocked with a flagged cause (dead partner, wait cycle).\n",
        "Blocked: a wait for a signal (sigwaitinfo, a signalfd) names the signals under WAKERS; a timed\n"
        "wait starts its OP with the timeout (it wakes by itself: not stuck).\n"
        "Every removal and signal asks first and re-checks the object or process just before acting.\n",
        ("Escape, q or ? closes.", "dim"),
    ]  # fmt: skip
    return Content.assemble(*parts)


class HelpScreen(TextPage):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: Iterable[Binding]) -> None:
        super().__init__(help_text(list(bindings)))
