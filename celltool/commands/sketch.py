"""``celltool sketch``: the CLI of :func:`celltool.steps.sketching.sketch`."""

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
    SeedOpt,
    WorkersOpt,
    executor_spec,
    with_component_options,
)
from celltool.errors import UsageError
from celltool.pipes import emit, input_folders


def add(app: typer.Typer) -> None:
    @app.command("sketch")
    @with_component_options("sketchers")
    def sketch_command(
        inputs: InputsArg = None,
        masks: Annotated[
            Optional[Path],
            typer.Option(
                "--masks",
                help="Binary cell masks (value > 127 = cell) sharing the images' file stems; "
                "INPUT is then the image folder. Only with --levels 1.",
                show_default=False,
            ),
        ] = None,
        output: OutOpt = None,
        method: Annotated[str, typer.Option("--method", "-m", help="Sketcher plugin.")] = (
            "reference"
        ),
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
        workers: WorkersOpt = 0,
        executor: ExecutorOpt = "auto",
        scheduler: SchedulerOpt = None,
        options: dict | None = None,
    ) -> None:
        """Class-index maps and gray-coded sketches (Biomedical-Image-Generation's reference
        classes) from cell and nucleus label maps of a segmentation or simulation folder (or
        images + --masks).

        Writes OUT/index (class indices), OUT/gray (gray codes) and prints OUT.
        """
        from celltool.steps.sketching import sketch

        folders = input_folders(inputs)
        if len(folders) != 1:
            raise UsageError("sketch takes one input folder")
        out = sketch(
            folders[0],
            output,
            masks=masks,
            method=method,
            params=options,
            seed=seed,
            overwrite=overwrite,
            spec=executor_spec(executor, workers, scheduler),
        )
        emit([out])
