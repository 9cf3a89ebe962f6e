"""``celltool generate RUN [INPUT...]``: the CLI of :func:`celltool.steps.generation.generate`.

Each model declares its own generate options; ``celltool generate RUN --help`` shows the
options of RUN's model (the CLI reads the run folder named on the command line first).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from celltool import plugins
from celltool.commands.options import OutOpt, OverwriteOpt, SeedOpt, with_params
from celltool.components import Component
from celltool.errors import UsageError
from celltool.pipes import emit, input_folders


def run_model(argv: list[str]) -> Component | None:
    """The model of the first run folder named in ``argv`` (the words after ``generate``)."""
    from celltool.manifest import read_manifest

    for word in argv:
        path = Path(word)
        if word.startswith("-") or not path.is_dir():
            continue
        try:
            manifest = read_manifest(path)
        except Exception:  # a broken manifest is reported when the step reads it
            continue
        if manifest and manifest.get("kind") == "run":
            model = manifest.get("facts", {}).get("model")
            if model in plugins.registry().names("trainers"):
                return plugins.get("trainers", model)
    return None


def _epilog() -> str:
    lines = ["Model options (shown with `celltool generate RUN --help`):"]
    for c in plugins.registry().all("trainers"):
        flags = ", ".join(p.flag for p in c.info.generate_params) or "none"
        lines.append(f"{c.name}: {flags}")
    return "\n\n".join(lines)


def add(app: typer.Typer, argv: list[str] | None = None) -> None:
    model = run_model(argv or [])
    params = [(p, f"Options of {model.name}") for p in model.info.generate_params] if model else []
    settings = {} if model else {"ignore_unknown_options": True, "allow_extra_args": True}

    @app.command("generate", epilog=None if model else _epilog(), context_settings=settings)
    @with_params(params)
    def generate_command(
        ctx: typer.Context,
        run: Annotated[Path, typer.Argument(help="A run folder made by `celltool train`.")],
        inputs: Annotated[
            Optional[list[Path]],
            typer.Argument(
                help="Input folder(s) (or a pairs folder: its test split); stdin when omitted "
                "(models that generate from noise take none).",
                show_default=False,
            ),
        ] = None,
        output: OutOpt = None,
        device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda[:N].")] = "auto",
        precision: Annotated[
            str,
            typer.Option(
                "--precision",
                help="auto | fp32 | bf16 | fp16 (auto: the fastest this device supports "
                "at equal output, recorded in the manifest).",
            ),
        ] = "auto",
        checkpoint: Annotated[
            Optional[Path],
            typer.Option(
                "--checkpoint",
                help="A checkpoint file of the run (default: latest).",
                show_default=False,
            ),
        ] = None,
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
        options: dict | None = None,
    ) -> None:
        """Generate with a trained model: images of any size from INPUT (tiled with blended
        overlaps when larger than the training crops), sequences, or samples from noise,
        as the model does. Prints the output folder."""
        from celltool.steps.generation import generate, model_of

        component = model_of(run)  # errors name RUN when it is not a run folder
        if model is None and ctx.args:
            raise UsageError(f"unknown option(s) {' '.join(ctx.args)} for '{component.name}'")
        opts: dict[str, Any] = dict(options or {})
        folders: list[Path] = list(inputs or [])
        if not folders and component.info.generate_inputs and not sys.stdin.isatty():
            folders = input_folders(None, at_least=0)  # the model says when it needs inputs
        emit([generate(run, folders, output, options=opts, device=device, precision=precision,
                       checkpoint=checkpoint, seed=seed, overwrite=overwrite)])  # fmt: skip
