"""``celltool generate RUN INPUT [-o OUT]``: run a trained model on every input image."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from celltool import plugins
from celltool.cliutil import OutOpt, OverwriteOpt, SeedOpt
from celltool.components import Param
from celltool.errors import UsageError
from celltool.outputs import default_output
from celltool.pipes import emit, input_folders


def _generate_params() -> list[tuple[Param, str]]:
    from celltool.training.options import GENERATE_PARAMS

    out = [(p, "Generation") for p in GENERATE_PARAMS]
    names = {p.name for p in GENERATE_PARAMS}
    for component in plugins.registry().all("trainers"):
        for p in component.info.get("generate_params", ()):
            if p.name not in names:
                names.add(p.name)
                out.append((p, f"Options of {component.name}"))
    return out


def _with_generate_options(func):
    from celltool.commands.train import _option

    signature = inspect.signature(func, eval_str=True)
    core = [p for p in signature.parameters.values() if p.name != "options"]
    extra = [_option(p, panel) for p, panel in _generate_params()]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {k[5:]: kwargs.pop(k) for k in list(kwargs) if k.startswith("opt__")}
        return func(*args, options={k: v for k, v in given.items() if v is not None}, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=core + extra)  # type: ignore[attr-defined]
    return wrapper


def resolve_generate_options(record_model: str, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults of the common and the model's generate options, overridden by ``given``."""
    values: dict[str, Any] = {}
    component = plugins.get("trainers", record_model)
    own = tuple(component.info.get("generate_params", ()))
    from celltool.training.options import GENERATE_PARAMS

    params = {p.name: p for p in GENERATE_PARAMS + own}
    for name, p in params.items():
        values[name] = p.default
    for name, value in given.items():
        if name not in params:
            raise UsageError(f"--{name.replace('_', '-')} is not an option of '{record_model}'")
        values[name] = params[name].convert(value, owner=record_model)
    return values


def add(app: typer.Typer) -> None:
    @app.command("generate")
    @_with_generate_options
    def generate_command(
        run: Annotated[Path, typer.Argument(help="A run folder made by `celltool train`.")],
        inputs: Annotated[
            Optional[list[Path]],
            typer.Argument(
                help="Input image folder(s) (or a pairs folder: its test split); "
                "stdin when omitted.",
                show_default=False,
            ),  # fmt: skip
        ] = None,
        output: OutOpt = None,
        steps: Annotated[
            int, typer.Option("--steps", help="Sequence models: frames to generate.")
        ] = 0,
        between: Annotated[
            Optional[tuple[Path, Path]],
            typer.Option(
                "--between",
                help="Sequence models: generate --steps frames between two real frames A B.",
                show_default=False,
            ),  # fmt: skip
        ] = None,
        device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda[:N].")] = "auto",
        precision: Annotated[
            str,
            typer.Option(
                "--precision",
                help="fp32 | bf16 | fp16. pix2pix runs a bf16 copy of the generator for bf16 "
                "(fastest on CPUs with AVX-512 BF16, with --compile); others autocast.",
            ),
        ] = "fp32",
        checkpoint: Annotated[
            Optional[Path],
            typer.Option(
                "--checkpoint",
                help="A checkpoint file of the run (default: latest).",
                show_default=False,
            ),  # fmt: skip
        ] = None,
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
        options: dict | None = None,
    ) -> None:
        """Generate images with a trained model: every image of INPUT, any size (tiled with
        blended overlaps when larger than the training crops). Prints the output folder."""
        from celltool.training.generate import generate_folder
        from celltool.training.loop import read_run

        if precision not in ("fp32", "bf16", "fp16"):
            raise UsageError(f"--precision {precision!r}: expected fp32, bf16 or fp16")
        # with --between A B the two frames may be the only inputs
        folders = input_folders(inputs) if (inputs or not between) else []
        record = read_run(run)
        opts = resolve_generate_options(record["model"], dict(options or {}))
        opts["steps"] = steps
        opts["between"] = [str(p) for p in between] if between else None
        out = output or default_output(folders[0] if folders else between[0], "generate")
        emit(
            [
                generate_folder(
                    run,
                    folders,
                    out,
                    options=opts,
                    device=device,
                    precision=precision,
                    checkpoint=checkpoint,
                    overwrite=overwrite,
                    seed=seed,
                )  # fmt: skip
            ]
        )


def demo_stage(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """Generate with the demo's model from the sketches of its test split."""
    from celltool.training.generate import generate_folder
    from celltool.training.loop import data_folders, read_run

    run = results["train"]
    record = read_run(run)
    opts = resolve_generate_options(record["model"], {})
    opts.update(steps=0, between=None)
    return generate_folder(
        run, data_folders(record)[:1], out / "generate", options=opts, device="cpu", seed=seed
    )
