"""Shared pieces of step commands: common options, plugin options in --help, per-image runs."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from celltool import plugins
from celltool.components import Component, Param
from celltool.console import track
from celltool.executor import ExecutorSpec, imap

EXEC_PANEL = "Execution"

InputsArg = Annotated[
    Optional[list[Path]],
    typer.Argument(
        help="Input folder(s); read one per line from stdin when omitted.", show_default=False
    ),
]
OutOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--output",
        "-o",
        help="Output folder (default: INPUT-STEP beside the input).",
        show_default=False,
    ),
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace the output folder if it is not empty.")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (recorded in the manifest).")]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers", "-j", help="Worker processes; 0 = all cores.", rich_help_panel=EXEC_PANEL
    ),
]
ExecutorOpt = Annotated[
    str,
    typer.Option("--executor", help="auto | serial | process | dask.", rich_help_panel=EXEC_PANEL),
]
SchedulerOpt = Annotated[
    Optional[str],
    typer.Option(
        "--scheduler",
        help="dask scheduler address (default: a local cluster; env CELLTOOL_DASK_SCHEDULER).",
        rich_help_panel=EXEC_PANEL,
        show_default=False,
    ),
]
ShardOpt = Annotated[
    Optional[str],
    typer.Option(
        "--shard",
        help="K/N: process every N-th item from the K-th (array jobs that "
        "share one output folder).",
        rich_help_panel=EXEC_PANEL,
        show_default=False,
    ),
]


def executor_spec(executor: str, workers: int, scheduler: str | None) -> ExecutorSpec:
    return ExecutorSpec(backend=executor, workers=workers, scheduler=scheduler)


def run_each(
    func: Callable[[Any], Any], items: Sequence[Any], spec: ExecutorSpec, description: str
) -> list[Any]:
    """Run ``func`` on every item over the executor, with a progress bar; results in order."""
    return list(track(imap(func, items, spec, len(items)), len(items), description))


def _param_option(owners: list[tuple[Component, Param]]) -> tuple[Any, Any]:
    first = owners[0][1]
    types = {p.py_type for _, p in owners}
    typ = types.pop() if len(types) == 1 else str
    defaults = "; ".join(f"{c.name}: {p.default}" for c, p in owners)
    choices = f" One of: {', '.join(map(str, first.choices))}." if first.choices else ""
    panel = "Options of " + ", ".join(sorted({c.name for c, _ in owners}))
    decls = [first.flag]
    if typ is bool:
        decls = [f"{first.flag}/--no-{first.flag[2:]}"]
    option = typer.Option(
        None,
        *decls,
        help=f"{first.help}{choices} (default {defaults})",
        rich_help_panel=panel,
        show_default=False,
    )
    return Optional[typ], option


def with_component_options(family: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add every registered component's parameters of ``family`` as options of a command.

    The command function must take a ``component_params`` keyword: a dict of the options the
    user gave (by parameter name). Resolve it with ``component.resolve(component_params)``.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func, eval_str=True)
        core = [p for p in signature.parameters.values() if p.name != "component_params"]
        taken = {p.name for p in core}
        owners: dict[str, list[tuple[Component, Param]]] = {}
        for component in plugins.registry().all(family):
            for param in component.params:
                if param.name in taken:
                    continue  # a core option of the same name wins; the component gets it too
                owners.setdefault(param.name, []).append((component, param))
        extra = []
        for name, found in owners.items():
            annotation, option = _param_option(found)
            extra.append(
                inspect.Parameter(
                    f"opt__{name}",
                    inspect.Parameter.KEYWORD_ONLY,
                    default=option,
                    annotation=annotation,
                )
            )

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {k[5:]: kwargs.pop(k) for k in list(kwargs) if k.startswith("opt__")}
            given = {k: v for k, v in given.items() if v is not None}
            return func(*args, component_params=given, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=core + extra)  # type: ignore[attr-defined]
        return wrapper

    return decorate
