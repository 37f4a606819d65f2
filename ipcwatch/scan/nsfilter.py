"""`--namespace host|all|NAME`: which objects and namespaces a selector names (list, clean, namespaces, dashboard).

NAME matches a container's name, a prefix of its id, or a namespace tag (`ipc:4026532251`). Objects of kinds no
namespace scopes (pipes, unix sockets, eventfds, signalfds) count as the host's.
"""

from __future__ import annotations

from collections.abc import Iterable

from ipcwatch.scan.model import IpcObject, Snapshot
from ipcwatch.scan.namespaces import Namespace

ALL, HOST = "all", "host"


def namespace_matches(ns: Namespace, selector: str) -> bool:
    """True when `selector` names this namespace (`all`, `host`, its tag, its container's name or id prefix)."""
    if selector == ALL:
        return True
    if selector == HOST:
        return ns.host
    if selector == ns.tag:
        return True
    box = ns.container
    return box is not None and (selector == box.name or (len(selector) >= 4 and box.id.startswith(selector)))


def object_matches(obj: IpcObject, selector: str) -> bool:
    ns = obj.namespace
    if ns is None:
        return selector in (ALL, HOST)
    return namespace_matches(ns, selector)


def select(snapshot: Snapshot, selector: str) -> list[IpcObject]:
    """The snapshot's objects that `selector` names."""
    if selector == ALL:
        return list(snapshot.objects)
    return [o for o in snapshot.objects if object_matches(o, selector)]


def unknown(selector: str, namespaces: Iterable[Namespace]) -> bool:
    """True when the selector names no namespace at all (a typo, or a container that is gone)."""
    return selector not in (ALL, HOST) and not any(namespace_matches(ns, selector) for ns in namespaces)
