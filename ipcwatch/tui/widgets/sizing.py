"""A scroll view's scroll height changed without laying the screen out again, unless a scrollbar comes or goes.

Textual's `virtual_size` is a layout reactive: every change lays out the whole screen (45,000 objects: ~20 ms), and a
widget asks for that layout only when its own turn comes, so a pane whose text changed height during a view switch
could ask after the switch's layout had run and cost a second one. The scroll range, the scrollbars' sizes and the
scroll offset are the widget's own: they are updated here at once, and a layout is asked for only when a scrollbar
appears or goes (its `show_*_scrollbar` is a layout reactive too).
"""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widget import Widget


def set_virtual_size(view: ScrollView, size: Size) -> None:
    """Make `size` the scrollable size of `view` (a line-API widget that draws its own lines)."""
    if size == view.virtual_size:
        return
    view.set_reactive(Widget.virtual_size, size)
    view._scroll_update(size)  # noqa: SLF001 - what textual's own layout does for a size that needs no layout
    repaint_in_next_frame(view)
    for bar in (view.vertical_scrollbar, view.horizontal_scrollbar):
        if bar.is_attached:
            repaint_in_next_frame(bar)


def repaint_in_next_frame(widget: Widget) -> None:
    """Repaint `widget` in the screen's next frame. `Widget.refresh` tells the screen only when the widget's own
    message queue comes round to it: a pane changed in a view switch's key handler missed the switch's frame
    (painted after its layout) and cost a paint of its own."""
    widget._set_dirty()  # noqa: SLF001 - what Widget.refresh does, without the deferred message
    widget.screen._dirty_widgets.add(widget)  # noqa: SLF001
    widget.screen.check_idle()
