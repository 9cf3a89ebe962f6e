"""Pieces every step uses: per-item runs with a progress bar, component parameters, and the
paths a step reads (protected from its output folder)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from celltool import plugins
from celltool.components import Component
from celltool.console import track
from celltool.errors import CelltoolError, UsageError
from celltool.executor import ExecutorSpec, imap


def run_each(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    spec: ExecutorSpec | None,
    description: str,
) -> list[Any]:
    """Run ``func`` on every item over the executor, with a progress bar; results in order."""
    spec = spec or ExecutorSpec()
    return list(track(imap(func, items, spec, len(items)), len(items), description))


def component(family: str, name: str, flag: str = "--method") -> Component:
    """The registered component ``name`` of ``family``; an unknown name is a UsageError that
    names the option it came from."""
    try:
        return plugins.get(family, name)
    except UsageError as exc:
        raise UsageError(f"{flag}: {exc.message}") from None


def input_paths(component: Component | None, params: Mapping[str, Any]) -> list[Path]:
    """The paths a component's resolved parameters name as inputs (``Param(input=True)``)."""
    if component is None:
        return []
    out: list[Path] = []
    for p in component.params:
        if p.input and params.get(p.name):
            value = params[p.name]
            out += [Path(v) for v in (value if isinstance(value, (tuple, list)) else [value])]
    return out


def must_exist(paths: Iterable[Path]) -> None:
    """CelltoolError naming the first path that does not exist (or cannot be looked at)."""
    for path in paths:
        try:
            found = Path(path).exists()
        except OSError as exc:  # e.g. a name too long for the file system
            raise CelltoolError(f"cannot be read ({exc.strerror})", path) from None
        if not found:
            raise CelltoolError("does not exist", path)


def existing(paths: Iterable[str | Path | None]) -> list[Path]:
    """The given paths that are set (None and empty strings dropped)."""
    return [Path(p) for p in paths if p not in (None, "")]
