"""The key footer: one line of the keys that apply now, drawn as text by one widget.

Textual's Footer recomposes a widget per key whenever the bindings change (a view switch, a cursor move onto
another kind), and each new key restyles itself on mount: most of a view switch's cost, and its discarded keys
stayed alive in a watcher list (a leak). This footer only redraws its line. A click on a key presses it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual import events
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget

KEY_STYLE = "bold $footer-key-foreground on $footer-key-background"
DESCRIPTION_STYLE = "$footer-description-foreground on $footer-description-background"
DISABLED_STYLE = "dim"


class KeyFooter(Widget):
    """The active bindings that are shown (`show=True`), disabled ones dimmed, the command palette's on the right."""

    DEFAULT_CSS = """
    KeyFooter { dock: bottom; height: 1; background: $footer-background; color: $footer-foreground; }
    """
    PALETTE_GAP: ClassVar[int] = 1

    def __init__(self) -> None:
        super().__init__(id="footer")
        self._keys: list[Hint] = []
        self._palette: Hint | None = None
        self._spans: list[tuple[int, int, str]] = []  # (first cell, end cell, key) of each key drawn

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        keys, seen, palette = [], set(), None
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.key == self.app.COMMAND_PALETTE_BINDING:
                palette = (binding.key, self.app.get_key_display(binding), binding.description, enabled)
            elif binding.show and binding.action not in seen:
                seen.add(binding.action)
                keys.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        if (keys, palette) != (self._keys, self._palette):
            self._keys, self._palette = keys, palette
            self.refresh()

    def render(self) -> Content:
        """The keys from the left while they fit, the command palette's at the right edge."""
        palette = self._palette if self.app.ENABLE_COMMAND_PALETTE else None
        room = self.size.width - (0 if palette is None else _width(palette) + self.PALETTE_GAP)
        parts: list[tuple[str, str] | str] = []
        spans, x = [], 0
        for hint in self._keys:
            if x + _width(hint) > room:
                break
            parts += _hint(hint)
            spans.append((x, x + _width(hint), hint[0]))
            x += _width(hint)
        if palette is not None:
            start = max(x, self.size.width - _width(palette))
            parts += [" " * (start - x), *_hint(palette)]
            spans.append((start, start + _width(palette), palette[0]))
        self._spans = spans
        return Content.assemble(*parts)

    def on_click(self, event: events.Click) -> None:
        key = next((k for start, end, k in self._spans if start <= event.x < end), None)
        if key is not None:
            event.stop()
            self.app.simulate_key(key)


Hint = tuple[str, str, str, bool]  # (key, the key as shown, description, enabled)


def _width(hint: Hint) -> int:
    return cell_len(hint[1]) + cell_len(hint[2]) + 3


def _hint(hint: Hint) -> list[tuple[str, str]]:
    _, shown, description, enabled = hint
    dim = "" if enabled else f" {DISABLED_STYLE}"
    return [(f" {shown} ", KEY_STYLE + dim), (f"{description} ", DESCRIPTION_STYLE + dim)]
