"""``celltool evaluate REAL GENERATED``: the CLI of :func:`celltool.steps.evaluation.evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from celltool.commands.options import (
    ExecutorOpt,
    InputsArg,
    OutOpt,
    OverwriteOpt,
    SchedulerOpt,
    WorkersOpt,
    executor_spec,
    with_component_options,
)
from celltool.errors import UsageError
from celltool.pipes import emit, input_folders


def _path_option(flag: str, help: str) -> typer.models.OptionInfo:
    return typer.Option(flag, help=help, show_default=False)


def add(app: typer.Typer) -> None:
    @app.command("evaluate")
    @with_component_options("metrics")
    def evaluate_command(
        inputs: InputsArg = None,
        output: OutOpt = None,
        metrics: Annotated[
            str,
            typer.Option(
                "--metrics",
                "-m",
                help="Comma-separated metric names or families (image, sequence, volume, "
                "segmentation, distribution), 'default' or 'all'. `celltool plugins` lists them.",
            ),
        ] = "default",
        pairs: Annotated[
            Optional[Path], _path_option("--pairs", "CSV with columns real,generated (file names).")
        ] = None,
        data_range: Annotated[
            Optional[float],
            typer.Option(
                "--data-range",
                help="Intensity range (default: from the recorded bit depth; 255 for uint8).",
                show_default=False,
            ),
        ] = None,
        target: Annotated[
            str, typer.Option("--target", help="Label part of containers: cells or nuclei.")
        ] = "cells",
        split: Annotated[
            str,
            typer.Option("--split", help="When REAL is a pairs folder: the split to compare."),
        ] = "test",
        real_labels: Annotated[
            Optional[Path], _path_option("--real-labels", "Masks of REAL (volume metrics).")
        ] = None,
        generated_labels: Annotated[
            Optional[Path], _path_option("--generated-labels", "Masks of GENERATED.")
        ] = None,
        real_tracks: Annotated[
            Optional[Path], _path_option("--real-tracks", "CTC man_track.txt (for TRA).")
        ] = None,
        generated_tracks: Annotated[
            Optional[Path], _path_option("--generated-tracks", "CTC res_track.txt.")
        ] = None,
        overwrite: OverwriteOpt = False,
        workers: WorkersOpt = 0,
        executor: ExecutorOpt = "auto",
        scheduler: SchedulerOpt = None,
        options: dict | None = None,
    ) -> None:
        """Score GENERATED images (or a segmentation) against REAL ones, pair by pair.

        Pairing: the same file stem, or the real stem + '_', '-', '.' or ' ' + any suffix
        (img_007_fake.png pairs with img_007.png); or a --pairs CSV. REAL may be a pairs
        folder: the real images of its --split (test) are compared.

        Label folders and simulation/segmentation containers get segmentation metrics.

        Writes pairs.csv, summary.json and plots/ into OUT (default GENERATED-evaluate).
        """
        from celltool.steps.evaluation import evaluate

        folders = input_folders(inputs, at_least=2)
        if len(folders) != 2:
            raise UsageError(f"give exactly two folders, REAL and GENERATED (got {len(folders)})")
        result = evaluate(
            folders[0],
            folders[1],
            output,
            metrics=metrics,
            pairs_csv=pairs,
            data_range=data_range,
            target=target,
            split=split,
            real_labels=real_labels,
            generated_labels=generated_labels,
            real_tracks=real_tracks,
            generated_tracks=generated_tracks,
            params=options,
            overwrite=overwrite,
            spec=executor_spec(executor, workers, scheduler),
        )
        emit([result])
