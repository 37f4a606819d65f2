"""Every built-in theme shows the dashboard readably: it renders, and a stale row and the view list's stale count
are drawn in the theme's warning colour (a tint under the row, bold in the list), distinct from a normal row and
legible (text against its background)."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from textual.strip import Strip

from ipcwatch.tui.app import IpcwatchApp
from tests.tui.test_snapshots import scanned
from tests.tui_fixtures import fixed_clock, recorded_snapshot

STALE_ROW = "7 0x1dc0beef"  # sysv-shm:7, stale in the recorded snapshot
NORMAL_ROW = "3 0x0052e2c1"  # sysv-shm:3, held
MIN_CONTRAST = 3.0  # WCAG's minimum for large text; body text in the themes' own colours is well above


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: Color, bg: Color) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def style_of(strips: list[Strip], needle: str) -> Style:
    """The style the screen draws `needle` in (the first segment holding it)."""
    for strip in strips:
        for segment in strip:
            if needle in segment.text:
                return segment.style or Style()
    raise AssertionError(f"{needle!r} is not on the screen")


def count_style(strips: list[Strip], label: str, count: str) -> Style:
    """The style of the count drawn on the view list line that starts with `label`."""
    line = next(strip for strip in strips if strip.text.startswith(label))
    return next(segment.style or Style() for segment in line if segment.text.strip() == count)


async def test_every_builtin_theme_renders_with_the_stale_mark_styled() -> None:
    app = IpcwatchApp(recorded_snapshot, interval=2.0, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await scanned(pilot)
        themes = sorted(app.available_themes)
        assert len(themes) >= 10, themes
        unreadable = []
        for name in themes:
            app.theme = name
            await pilot.pause()
            assert app.export_screenshot()  # the whole screen renders under this theme
            strips = app.screen._compositor.render_strips()
            stale, normal = style_of(strips, STALE_ROW), style_of(strips, NORMAL_ROW)
            assert stale.color is not None and stale.bgcolor is not None, name
            looks = (stale.color, stale.bgcolor, stale.bold)
            assert looks != (normal.color, normal.bgcolor, normal.bold), f"{name}: a stale row looks like any other"
            count = count_style(strips, "1 shm", "2")  # the shm view's count in the view list: 2, one stale
            assert count.color is not None and count.bold, name
            if contrast(stale.color, stale.bgcolor) < MIN_CONTRAST:
                unreadable.append((name, round(contrast(stale.color, stale.bgcolor), 2)))
        assert not unreadable, f"stale rows below {MIN_CONTRAST}:1 contrast: {unreadable}"
