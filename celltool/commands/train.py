"""``celltool train MODEL DATA -o RUN``: one subcommand per registered trainer plugin."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from celltool import plugins
from celltool.components import Component, Param
from celltool.pipes import emit

FRAMEWORK_PANEL = "Training"


class TrainerGroup(TyperGroup):
    """Unknown model names are a one-line usage error listing the available models."""

    def resolve_command(self, ctx, args):  # type: ignore[override]
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            plugins.get("trainers", args[0])  # raises "unknown trainer 'x' (available: ...)"
        return super().resolve_command(ctx, args)


def _framework_params() -> tuple[Param, ...]:
    from celltool.training.options import FRAMEWORK_PARAMS  # no torch import for --help

    return FRAMEWORK_PARAMS


def _option(param: Param, panel: str) -> inspect.Parameter:
    typ = param.py_type
    decls = [param.flag]
    if typ is bool:
        decls = [f"{param.flag}/--no-{param.flag[2:]}"]
    choices = f" One of: {', '.join(map(str, param.choices))}." if param.choices else ""
    option = typer.Option(
        None,
        *decls,
        help=f"{param.help}{choices} (default {param.default})",
        rich_help_panel=panel,
        show_default=False,
    )
    return inspect.Parameter(
        f"opt__{param.name}", inspect.Parameter.KEYWORD_ONLY, default=option,
        annotation=Optional[typ],
    )  # fmt: skip


def _command(component: Component):
    names = tuple(component.info.get("inputs", ("DATA",)))
    data_help = f"Training data: {' '.join(names)}"

    def train_command(
        data: Annotated[
            Optional[list[Path]],
            typer.Argument(help="Training data; stdin when omitted.", show_default=False),
        ] = None,
        output: Annotated[
            Optional[Path],
            typer.Option(
                "--output", "-o", help="Run folder (default: DATA-train).", show_default=False
            ),  # fmt: skip
        ] = None,
        config: Annotated[
            Optional[Path],
            typer.Option(
                "--config",
                help="TOML file with options (flat or a \\[train] table); the command line wins.",
                show_default=False,
            ),  # fmt: skip
        ] = None,
        resume: Annotated[
            Optional[Path],
            typer.Option(
                "--resume",
                help="Continue this run from its latest checkpoint (--epochs may be raised).",
                show_default=False,
            ),  # fmt: skip
        ] = None,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace a non-empty run folder.")
        ] = False,
        **given: Any,
    ) -> None:
        from celltool.commands.train_run import run_train

        options = {k[5:]: v for k, v in given.items() if v is not None}
        run = run_train(component, data, output, config, resume, overwrite, options)
        if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 prints
            emit([run])

    params = [
        p
        for p in inspect.signature(train_command, eval_str=True).parameters.values()
        if p.name != "given"
    ]
    data_arg = typer.Argument(help=f"{data_help}; stdin when omitted.", show_default=False)
    params[0] = params[0].replace(annotation=Annotated[Optional[list[Path]], data_arg])
    params += [_option(p, FRAMEWORK_PANEL) for p in _framework_params()]
    own = {p.name for p in _framework_params()}
    params += [_option(p, f"Options of {component.name}") for p in component.params
               if p.name not in own]  # fmt: skip
    train_command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    train_command.__doc__ = (
        f"{component.description}\n\nTrains on {' '.join(names)} into RUN and prints RUN."
    )
    return train_command


def add(app: typer.Typer) -> None:
    sub = typer.Typer(
        cls=TrainerGroup,
        no_args_is_help=True,
        help="Train a model plugin: `celltool train MODEL DATA -o RUN` (MODEL --help for its "
        "options).",
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for component in plugins.registry().all("trainers"):
        sub.command(component.name)(_command(component))
    app.add_typer(sub, name="train")


def demo_stage(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """The demo: a small pix2pix trained on the demo's pairs (made from the simulation when
    no split stage ran)."""
    from celltool.commands.train_run import demo_pairs, run_train

    data = results.get("split") or demo_pairs(out / "pairs", results["simulate"], seed)
    options: dict[str, Any] = {
        "netG": "unet_64" if quick else "unet_128",
        "ngf": 8 if quick else 16,
        "ndf": 8 if quick else 16,
        "crop_size": 64 if quick else 128,
        "epochs": 2 if quick else 4,
        "seed": seed,
        "save_every": 0,
    }
    if quick:
        options["preprocess"] = "crop"
    component = plugins.get("trainers", "pix2pix")
    return run_train(component, [Path(data)], out / "run", None, None, False, options)
