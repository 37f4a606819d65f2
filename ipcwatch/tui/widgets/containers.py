"""The detail pane's text for one namespace (the Containers view): its container, processes, pins and limits."""

from __future__ import annotations

from rich.text import Text

from ipcwatch.scan import Snapshot
from ipcwatch.scan.limits import limit_usage
from ipcwatch.scan.namespaces import Namespace
from ipcwatch.text import escape

PIDS_SHOWN = 8


def _line(text: Text, label: str, value: str) -> None:
    text.append(f"  {label:<13}", style="bold")
    text.append(value + "\n")


def namespace_text(ns: Namespace, snapshot: Snapshot) -> Text:
    """Everything known about `ns`, every attacker-controlled string (container names, paths) escaped."""
    text = Text()
    text.append(escape(ns.label), style="bold")
    text.append(f"  {ns.type} namespace {ns.inode}" + ("  (the host's)" if ns.host else "") + "\n")
    box = ns.container
    if box is not None:
        _line(text, "runtime", escape(box.runtime))
        _line(text, "container id", escape(box.id))
        if box.name is not None:
            _line(text, "name", escape(box.name))
        if box.pod is not None:
            _line(text, "pod", escape(box.pod) + (f" in {escape(box.pod_namespace)}" if box.pod_namespace else ""))
    shown = ", ".join(str(p) for p in ns.pids[:PIDS_SHOWN]) + (" …" if len(ns.pids) > PIDS_SHOWN else "")
    _line(text, "processes", f"{len(ns.pids)}" + (f": {shown}" if shown else ""))
    for pin in ns.pinned_by:
        _line(text, "pinned by", escape(pin))
    objs = [o for o in snapshot.objects if o.namespace is not None and o.namespace.key == ns.key]
    stale = sum(1 for o in objs if o.stale)
    more = (f", {stale} stale" if stale else "") + ("  (enter: show them)" if objs else "")
    _line(text, "objects", f"{len(objs)}{more}")
    if ns.limits:
        text.append("Limits\n", style="bold")
        for use in limit_usage(snapshot, ns.limits, ns):
            used = "" if use.used is None else f"{use.used} of "
            _line(text, use.resource, f"{used}{use.limit}")
    elif ns.type == "ipc":
        _line(text, "limits", "not read")
    return text
