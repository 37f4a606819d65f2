"""The key footer, without textual's leak: every refresh of the bindings recomposes the footer, and each discarded
key stays alive in the footer's watcher list (it is bound to the footer's `compact`), which textual prunes only when
`compact` changes. Under a live dashboard that was megabytes a minute; touching `compact` after each recompose
lets textual drop the closed keys."""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        self.mutate_reactive(Footer.compact)
