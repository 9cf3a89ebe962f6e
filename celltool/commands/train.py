"""``celltool train MODEL DATA... -o RUN``: one subcommand per registered trainer plugin."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from celltool import plugins
from celltool.commands.options import choice_hint, keyword, param_option, path_option
from celltool.components import Component
from celltool.pipes import emit, input_folders

FRAMEWORK_PANEL = "Training"


class TrainerGroup(TyperGroup):
    """Unknown model names are a one-line usage error listing the available models."""

    def resolve_command(self, ctx, args):  # type: ignore[override]
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            plugins.get("trainers", args[0])  # raises "unknown trainer 'x' (available: ...)"
        return super().resolve_command(ctx, args)


def _command(component: Component):
    from celltool.training.options import FRAMEWORK_PARAMS  # no torch import for --help

    names = component.info.inputs

    def train_command(
        data: Optional[list[Path]] = None,
        output: Annotated[
            Optional[Path],
            typer.Option(
                "--output", "-o", help="Run folder (default: DATA-train).", show_default=False
            ),  # fmt: skip
        ] = None,
        config: Optional[Path] = None,  # its option is set below (the hint needs the component)
        resume: Annotated[
            Optional[Path],
            path_option(
                "--resume",
                "Continue this run from its latest checkpoint (--epochs may be raised).",
                folder=True,
            ),
        ] = None,
        overwrite: Annotated[
            bool,
            typer.Option(
                "--overwrite",
                help="Replace a non-empty run folder (once the new run has its first checkpoint).",
            ),
        ] = False,
        **given: Any,
    ) -> None:
        from celltool.steps.training import train

        options = {k[5:]: v for k, v in given.items() if v is not None}
        folders = None if resume else input_folders(data, at_least=len(names))
        run = train(
            component, folders, output, options=options, config_file=config, resume=resume,
            overwrite=overwrite,
        )  # fmt: skip
        if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 prints
            emit([run])

    params = [
        p
        for p in inspect.signature(train_command, eval_str=True).parameters.values()
        if p.name != "given"
    ]
    data_arg = typer.Argument(
        help=f"Training data: {' '.join(names)}; stdin when omitted.", show_default=False
    )
    params[0] = params[0].replace(annotation=Annotated[Optional[list[Path]], data_arg])
    config_option = path_option(
        "--config",
        "TOML file with options (flat or a [train] table); the command line wins.",
        folder=False,
        hint=choice_hint(component.params),  # `--config stylegan3-t` meant --cfg
    )
    params[2] = params[2].replace(annotation=Annotated[Optional[Path], config_option])
    params += [keyword(p.name, *param_option(p, FRAMEWORK_PANEL)) for p in FRAMEWORK_PARAMS]
    own = {p.name for p in FRAMEWORK_PARAMS}
    params += [keyword(p.name, *param_option(p, f"Options of {component.name}"))
               for p in component.params if p.name not in own]  # fmt: skip
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
