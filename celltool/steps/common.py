"""Pieces every step uses: per-item runs with a progress bar, component parameters, and the
paths a step reads (protected from its output folder)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from celltool.components import Component
from celltool.console import track
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


def existing(paths: Iterable[str | Path | None]) -> list[Path]:
    """The given paths that are set (None and empty strings dropped)."""
    return [Path(p) for p in paths if p not in (None, "")]
