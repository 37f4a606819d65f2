"""The detail pane's text for one namespace (the Containers view): its container, processes, pins and limits."""

from __future__ import annotations

from rich.text import Text

from ipcwatch.scan import Snapshot
from ipcwatch.scan.limits import limit_usage
from ipcwatch.scan.namespaces import Namespace
from ipcwatch.text import escape
from ipcwatch.tui.widgets.detail import field_line
from ipcwatch.tui.widgets.rows import home

PIDS_SHOWN = 8


def namespace_text(ns: Namespace, snapshot: Snapshot) -> Text:
    """Everything known about `ns`; `field_line` escapes every value (container names and pin paths are hostile)."""
    text = Text()
    text.append(escape(ns.label), style="bold")
    text.append(f"  {ns.type} namespace {ns.inode}" + ("  (the host's)" if ns.host else "") + "\n")
    box = ns.container
    if box is not None:
        field_line(text, "runtime", box.runtime)
        field_line(text, "container id", box.id)
        if box.name is not None:
            field_line(text, "name", box.name)
        if box.pod is not None:
            field_line(text, "pod", box.pod + (f" in {box.pod_namespace}" if box.pod_namespace else ""))
    shown = ", ".join(str(p) for p in ns.pids[:PIDS_SHOWN]) + (" …" if len(ns.pids) > PIDS_SHOWN else "")
    field_line(text, "processes", f"{len(ns.pids)}" + (f": {shown}" if shown else ""))
    for pin in ns.pinned_by:
        field_line(text, "pinned by", pin)
    by_tag = {n.tag: n for n in snapshot.namespaces}
    objs = [o for o in snapshot.objects if (where := home(o, by_tag)) is not None and where.key == ns.key]
    stale = sum(1 for o in objs if o.stale)
    more = (f", {stale} stale" if stale else "") + ("  (enter: show them)" if objs else "")
    field_line(text, "objects", f"{len(objs)}{more}")
    if ns.limits:
        text.append("Limits\n", style="bold")
        for use in limit_usage(snapshot, ns.limits, ns):
            used = "" if use.used is None else f"{use.used} of "
            field_line(text, use.resource, f"{used}{use.limit}")
    elif ns.type == "ipc":
        field_line(text, "limits", "not read")
    return text
