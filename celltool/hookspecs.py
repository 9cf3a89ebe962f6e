"""Every extension point of celltool, in one place.

All hooks use the *register-callback* style: celltool calls the hook with a ``register``
function and the plugin calls ``register(component)`` once per thing it provides. A component
(see :mod:`celltool.components`) carries a name, a one-line description, typed parameters
(shown in ``--help``) and a lazy ``"module:attr"`` target, so listing plugins never imports
heavy libraries such as torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("celltool")

Register = Callable[[Any], None]


@hookspec
def register_segmenters(register: Register) -> None:
    """Register instance segmenters (``celltool segment --method NAME``)."""


@hookspec
def register_sketchers(register: Register) -> None:
    """Register sketch/reference builders (``celltool sketch --method NAME``)."""


@hookspec
def register_splitters(register: Register) -> None:
    """Register dataset splitters (``celltool split --method NAME``)."""


@hookspec
def register_trainers(register: Register) -> None:
    """Register trainable models (``celltool train NAME`` and ``celltool generate``)."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metric evaluators (``celltool evaluate --metrics NAME,...``)."""


@hookspec
def register_simulators(register: Register) -> None:
    """Register image simulators (``celltool simulate --method NAME``)."""


@hookspec
def register_commands(app: Any) -> None:
    """Add whole commands: ``app`` is the root Typer app (call ``app.command()`` or
    ``app.add_typer(sub_app, name=...)``)."""


@hookspec
def register_report_sections(register: Callable[[str, Callable[..., str]], None]) -> None:
    """Add report sections (``celltool report``) for a folder kind: call
    ``register(kind, render)`` with ``render(folder, manifest, ctx) -> str`` returning HTML
    for a folder of that kind (``ctx``: :class:`celltool.report.context.ReportContext`)."""
