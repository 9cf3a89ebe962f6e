"""The Typer side of options: common step options, and plugin ``Param``s as CLI options.

Only the CLI layer (``celltool.cli`` and this package) imports typer.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from celltool import plugins
from celltool.components import Component, Param

if TYPE_CHECKING:  # the executor (multiprocessing) is imported when a step runs, not for --help
    from celltool.executor import ExecutorSpec

EXEC_PANEL = "Execution"
SEED_MAX = 2**32 - 1

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
SeedOpt = Annotated[
    int,
    typer.Option("--seed", help="Random seed (recorded in the manifest).", min=0, max=SEED_MAX),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        "-j",
        help="Worker processes; 0 = all cores.",
        rich_help_panel=EXEC_PANEL,
        min=0,
        max=1024,
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
    from celltool.executor import ExecutorSpec

    return ExecutorSpec(backend=executor, workers=workers, scheduler=scheduler)


def _annotation(typ: type, nargs: int) -> Any:
    return Optional[tuple[(typ,) * nargs]] if nargs > 1 else Optional[typ]  # type: ignore[misc]


def param_option(param: Param, panel: str, defaults: str | None = None) -> tuple[Any, Any]:
    """(annotation, typer.Option) of a component parameter; the value is None when not given
    (so the component's default, a config file or another source can apply)."""
    typ = Path if param.input else param.py_type  # a path the step reads: it must exist
    decls = [param.flag]
    if typ is bool:
        decls = [f"{param.flag}/--no-{param.flag[2:]}"]
    choices = f" One of: {', '.join(map(str, param.choices))}." if param.choices else ""
    bounds = "" if param.min is None and param.max is None else f" In {param.bounds_text()}."
    default = defaults if defaults is not None else str(param.default)
    option = typer.Option(
        None,
        *decls,
        help=f"{param.help}{choices}{bounds} (default {default})",
        rich_help_panel=panel,
        show_default=False,
        parser=ExistingPath() if param.input else None,
    )
    return _annotation(typ, param.nargs), option


@dataclass(frozen=True)
class ExistingPath:
    """Parses an option naming a path the step reads: it must exist and be a ``file``, a
    ``folder`` or ``any``; an empty value is refused (it is not the current folder).
    ``hint(text)`` may add a sentence to the "does not exist" error."""

    kind: str = "any"
    hint: Callable[[str], str | None] | None = None

    def __call__(self, value: Any) -> Path:
        text = str(value)
        shown = repr(text if len(text) <= 60 else text[:57] + "...")
        if not text.strip():
            raise typer.BadParameter("an empty path")
        path = Path(text)
        try:
            exists, folder = path.exists(), path.is_dir()
        except OSError as exc:  # e.g. a name too long for the file system
            raise typer.BadParameter(f"{shown}: {exc.strerror}") from None
        if not exists:
            extra = self.hint(text) if self.hint else None
            raise typer.BadParameter(f"{shown} does not exist" + (f"; {extra}" if extra else ""))
        if self.kind == "file" and folder:
            raise typer.BadParameter(f"{shown} is a folder; expected a file")
        if self.kind == "folder" and not folder:
            raise typer.BadParameter(f"{shown} is a file; expected a folder")
        return path


def path_option(
    flag: str, help: str, *, folder: bool, hint: Callable[[str], str | None] | None = None
) -> Any:
    """An option naming a file (``folder=False``) or folder the step reads: it must exist
    (exit 2 naming the option, and ``hint(value)`` if it says something, otherwise)."""
    kind = "folder" if folder else "file"
    return typer.Option(flag, help=help, show_default=False, parser=ExistingPath(kind, hint))


def choice_hint(params: Iterable[Any]) -> Callable[[str], str | None]:
    """For ``--config``: a value that is one of an option's choices (``--config stylegan3-t``)
    was meant for that option; say which."""

    def hint(text: str) -> str | None:
        for p in params:
            if p.choices and text in map(str, p.choices):
                flag = "--" + p.name.replace("_", "-")
                return f"'{text}' is a value of {flag} (--config takes a TOML file): {flag} {text}"
        return None

    return hint


def keyword(name: str, annotation: Any, option: Any) -> inspect.Parameter:
    return inspect.Parameter(
        f"opt__{name}", inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
    )


def given_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the ``opt__NAME`` keywords Typer filled; keep the ones the user gave."""
    given = {k[5:]: kwargs.pop(k) for k in list(kwargs) if k.startswith("opt__")}
    return {k: v for k, v in given.items() if v is not None}


def with_params(
    params: Iterable[tuple[Any, ...]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``(param, panel[, defaults text])`` options to a command; the function receives the
    ones given as ``options`` (a dict by parameter name)."""
    params = list(params)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func, eval_str=True)
        core = [p for p in signature.parameters.values() if p.name != "options"]
        taken = {p.name for p in core}
        extra = [keyword(spec[0].name, *param_option(*spec)) for spec in params
                 if spec[0].name not in taken]  # fmt: skip

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, options=given_options(kwargs), **kwargs)

        wrapper.__signature__ = signature.replace(parameters=core + extra)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def with_component_options(family: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add every registered component's parameters of ``family`` as options of a command.

    One option per parameter name, in a panel "Options of NAME" (a name several components
    share is one option listed under all of them). The command function takes an ``options``
    keyword: the options the user gave, by parameter name.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        taken = set(inspect.signature(func).parameters)
        owners: dict[str, list[tuple[Component, Param]]] = {}
        for component in plugins.registry().all(family):
            for param in component.params:
                if param.name not in taken:
                    owners.setdefault(param.name, []).append((component, param))
        merged = []
        for found in owners.values():
            first = found[0][1]
            types = {p.py_type for _, p in found}
            param = first if len(types) == 1 else Param(first.name, "", first.help)
            panel = "Options of " + ", ".join(sorted({c.name for c, _ in found}))
            defaults = "; ".join(f"{c.name}: {p.default}" for c, p in found)
            merged.append((param, panel, defaults if len(found) > 1 else None))
        return with_params(merged)(func)

    return decorate
