"""Option values without pydantic for the common cases (start-up time of every step).

Typer (>= 0.2x) converts every option value, ``None`` included, through a pydantic
``TypeAdapter`` built on first use: importing pydantic and building the adapters is about a
quarter of the start-up of a step such as ``celltool sketch --levels 7``. :func:`install`
gives every Typer parameter a front runtime that converts the plain cases itself —
missing values, ``str``, decimal ``int``/``float`` within their bounds, ``Path`` and lists or
tuples of these — exactly as Typer's adapters would, and hands everything else (choices, dates,
custom parsers, clamping, out-of-range or malformed values, so their error messages stay
Typer's) to Typer's own runtime. ``tests/test_startup.py`` checks the equivalence value by value
against Typer's adapters, so a change in Typer shows there; should Typer's internals move,
:func:`install` does nothing (slower start, same behaviour).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, get_args, get_origin

_MISS = object()
_INT = re.compile(r"-?[0-9]{1,18}", re.ASCII)
_FLOAT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?", re.ASCII)


def _in_bounds(value: float, info: Any) -> bool:
    return (info.min is None or value >= info.min) and (info.max is None or value <= info.max)


def _path(value: Any, info: Any, param: Any, ctx: Any) -> Any:
    """A Path the way Typer's path adapter makes it (its checks included), or _MISS."""
    try:
        from typer._click.exceptions import BadParameter
        from typer._param_types import coerce_cli_path
    except ImportError:
        return _MISS
    if info.path_type not in (None, Path) or not isinstance(value, (str, Path)):
        return _MISS
    try:  # with a Path in hand Typer skips its pydantic conversion; checks run unchanged
        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    except BadParameter:  # let Typer's runtime word the error
        return _MISS


def leaf(annotation: Any, info: Any, value: Any, param: Any = None, ctx: Any = None) -> Any:
    """One value of a plain type, converted as Typer would, or _MISS (Typer must decide)."""
    if info.parser is not None or info.clamp or isinstance(value, bool):
        return _MISS
    if annotation is str:
        return value if type(value) is str else _MISS
    if annotation is int:
        if type(value) is str and _INT.fullmatch(value):
            value = int(value)
        return value if type(value) is int and _in_bounds(value, info) else _MISS
    if annotation is float:
        if type(value) is str and _FLOAT.fullmatch(value):
            value = float(value)
        elif type(value) is int:
            value = float(value)
        return value if type(value) is float and _in_bounds(value, info) else _MISS
    if annotation is Path:
        return _path(value, info, param, ctx)
    return _MISS


def convert(annotation: Any, info: Any, value: Any, param: Any = None, ctx: Any = None) -> Any:
    """A (non-None) value converted without pydantic, or _MISS."""
    origin = get_origin(annotation)
    if origin in (list, tuple):
        items = value if isinstance(value, (list, tuple)) else [value] if origin is list else None
        types = get_args(annotation)
        if items is None or (origin is tuple and len(types) != len(items)):
            return _MISS
        types = types * len(items) if origin is list else types
        out = [leaf(t, info, item, param, ctx) for t, item in zip(types, items, strict=True)]
        return _MISS if any(o is _MISS for o in out) else origin(out)
    return leaf(annotation, info, value, param, ctx)


class FrontRuntime:
    """Converts the plain cases itself; builds Typer's runtime (pydantic) only when needed."""

    def __init__(self, param: Any, build: Any) -> None:
        self.param = param
        self.build = build  # Typer's own get_runtime_param
        self.runtime: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multi = param.multiple or param.nargs == -1
        if value is None:  # what Typer's RuntimeParam.coerce does first, adapter unused
            return () if multi else None
        desc = self.param.type_descriptor
        if desc.file_annotation is None and not (multi and isinstance(value, str)):
            out = convert(desc.annotation, desc.parameter_info, value, param, ctx)
            if out is not _MISS:
                return out
        if self.runtime is None:
            self.runtime = self.build()
        return self.runtime.coerce(value, param=param, ctx=ctx)


def install() -> None:
    """Give every Typer parameter the front runtime (once per process; a no-op when Typer's
    internals are not the expected ones)."""
    try:
        from typer.core import _TyperParameter
    except ImportError:
        return
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if original is None or getattr(original, "_celltool_front", False):
        return

    def get_runtime_param(self: Any) -> Any:
        front = self.__dict__.get("_celltool_front")
        if front is None:
            front = self._celltool_front = FrontRuntime(self, functools.partial(original, self))
        return front

    get_runtime_param._celltool_front = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param
