"""A view key that reaches the dashboard before its widgets are mounted (pressed as it starts) does nothing."""

from __future__ import annotations

from types import SimpleNamespace

from ipcwatch.tui.screens.dashboard import ALL, VIEW_IDS, DashboardScreen


def test_a_view_key_before_the_widgets_are_mounted_does_nothing() -> None:
    dashboard = DashboardScreen(SimpleNamespace())  # type: ignore[arg-type]  # never mounted: no ViewStack to query
    dashboard.show_view(next(v for v in VIEW_IDS if v != ALL))
    assert dashboard.view_id == ALL
