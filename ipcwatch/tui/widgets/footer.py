"""The key footer, without textual's leak: every refresh of the bindings recomposes the footer, and each discarded
key stays alive in the footer's watcher list (it is bound to the footer's `compact`), which textual prunes only when
`compact` changes. Under a live dashboard that was megabytes a minute. After each recompose the keys no longer
attached are dropped from that list: touching `compact` instead (the former fix) made every live key restyle too,
the largest cost of a view switch."""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        # textual keeps a reactive's watchers as (node, callback) pairs in the `__watchers` attribute of the
        # watched object (textual 8.x, reactive._watch)
        watchers = getattr(self, "__watchers", {}).get("compact")
        if watchers:
            watchers[:] = [(node, callback) for node, callback in watchers if node.is_attached]
