"""A compiled __init__ for a slotted record (the helper `_model`), built from the class's own hand-written __init__
(its twin): the same parameters, positional or keyword, the same defaults, the same TypeErrors; each argument stored
straight into its slot. None when the helper was not built, and the twin stays.

    twin = IpcObject.__init__
    IpcObject.__init__ = compiled_init(IpcObject, twin) or twin
"""

from __future__ import annotations

from collections.abc import Callable

from ipcwatch.native.compiled import compiled

TYPE_CHECKING = False  # typing is not imported at run time (see ipcwatch.record)
if TYPE_CHECKING:
    from typing import Any

_c = compiled("_model")
IMPLEMENTATION = "c" if _c else "python"
_NOT_PLAIN = 0x04 | 0x08  # inspect.CO_VARARGS | CO_VARKEYWORDS (importing inspect: ~10 ms)


def compiled_init(cls: type, twin: Callable[..., None]) -> Any | None:
    """The compiled __init__ of `cls` that binds its arguments as `twin` does, None when the helper was not built.
    `twin` takes only positional-or-keyword parameters after self, each named as a slot of `cls` (ValueError or
    TypeError otherwise); setting the result as `cls.__init__` makes it what `cls(...)` calls."""
    if _c is None:
        return None
    code = twin.__code__
    if code.co_posonlyargcount or code.co_kwonlyargcount or code.co_flags & _NOT_PLAIN:
        raise ValueError(f"{twin.__qualname__}: only positional-or-keyword parameters can be compiled")
    names = code.co_varnames[: code.co_argcount]
    return _c.init(cls, twin.__qualname__, names, twin.__defaults__ or ())
