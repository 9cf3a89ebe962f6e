"""``celltool split``: the CLI of :func:`celltool.steps.splitting.split`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from celltool.commands.options import (
    InputsArg,
    OutOpt,
    OverwriteOpt,
    SeedOpt,
    path_option,
    with_component_options,
)
from celltool.errors import UsageError
from celltool.pipes import emit, input_folders


def add(app: typer.Typer) -> None:
    @app.command("split")
    @with_component_options("splitters")
    def split_command(
        inputs: InputsArg = None,
        masks: Annotated[
            Optional[Path],
            path_option(
                "--masks",
                "Masks to pair with the images of INPUT (same file stems), kept as they are.",
                folder=True,
            ),
        ] = None,
        output: OutOpt = None,
        method: Annotated[
            str, typer.Option("--method", "-m", help="Splitter plugin: crops | frames.")
        ] = "crops",
        by: Annotated[
            str,
            typer.Option(
                "--by",
                help="frame (random frames) | time (earliest train, latest test) "
                "| sequence (whole sequences).",
            ),
        ] = "frame",
        ratios: Annotated[
            str, typer.Option("--ratios", help="Fractions of frames train,val,test.")
        ] = "0.8,0.1,0.1",
        layout: Annotated[
            str, typer.Option("--layout", help="side-by-side (image left, sketch right) | folders.")
        ] = "side-by-side",
        pairs: Annotated[
            str,
            typer.Option("--pairs", help="single | temporal ((t, t+1) within a sequence)."),
        ] = "single",
        fmt: Annotated[
            str,
            typer.Option("--format", help="pairs | ctc (Cell Tracking Challenge GT export)."),
        ] = "pairs",
        sketch: Annotated[
            str, typer.Option("--sketch", help="Sketch part to use: gray | index.")
        ] = "gray",
        sequence_pattern: Annotated[
            Optional[str],
            typer.Option(
                "--sequence-pattern",
                help="Regex on file stems; group 1 names the sequence (default: sub-folders).",
                show_default=False,
            ),
        ] = None,
        labels: Annotated[
            str,
            typer.Option(
                "--labels",
                help="binary (masks as sketches) | instances (a simulation's or segmentation's "
                "instance maps in <split>/labels/; needs --layout folders).",
            ),
        ] = "binary",
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
        options: dict | None = None,
    ) -> None:
        """Paired train/val/test data (image + sketch) for image models, split by frame or
        time, with a crop table; or a Cell Tracking Challenge export (--format ctc)."""
        from celltool.splits import parse_ratios
        from celltool.steps.splitting import split

        folders = input_folders(inputs)
        if len(folders) != 1:
            raise UsageError("split takes one input folder")
        emit(
            [
                split(
                    folders[0],
                    output,
                    masks=masks,
                    method=method,
                    params=options,
                    by=by,
                    ratios=parse_ratios(ratios),
                    layout=layout,
                    pairs=pairs,
                    fmt=fmt,
                    sketch_part=sketch,
                    sequence_pattern=sequence_pattern,
                    seed=seed,
                    overwrite=overwrite,
                    labels=labels,
                )
            ]
        )
