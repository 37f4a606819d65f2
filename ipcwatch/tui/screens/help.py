"""The `?` screen: every key, generated from the bindings themselves so it never goes out of date."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding

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
        "space": "space",
        "right_square_bracket": "]",
        "left_square_bracket": "[",
        "backspace": "backspace",
    }
    return " ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def help_text(bindings: Iterable[Binding]) -> Text:
    rows = [(_key_names(b), b.description) for b in bindings] + list(EXTRA_KEYS)
    width = max(len(k) for k, _ in rows) + 2
    text = Text()
    text.append("ipcwatch keys\n\n", style="bold")
    for key, what in rows:
        text.append(f"{key:<{width}}", style="bold #79c0ff")
        text.append(what + "\n")
    text.append("\nFilter: plain text matches any column (case-insensitive); start with re: for a regex;\n")
    text.append("ns:NAME shows one namespace's objects (host, a container's name or its start, ipc:INODE).\n")
    text.append("A CONTAINER column shows where each object lives while some live outside the host's namespaces.\n")
    text.append("Rows: green = appeared just now, struck out = gone since the last refresh, amber = stale,\n")
    text.append("red = blocked with a flagged cause (dead partner, wait cycle).\n")
    text.append("Blocked: a wait for a signal (sigwaitinfo, a signalfd) names the signals under WAKERS; a timed\n")
    text.append("wait starts its OP with the timeout (it wakes by itself: not stuck).\n")
    text.append("Every removal and signal asks first and re-checks the object or process just before acting.\n")
    text.append("Escape, q or ? closes.", style="dim")
    return text


class HelpScreen(TextPage):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: Iterable[Binding]) -> None:
        super().__init__(help_text(list(bindings)))
