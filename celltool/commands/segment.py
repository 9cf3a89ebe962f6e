"""``celltool segment``: the CLI of :func:`celltool.steps.segmentation.segment`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from celltool.commands.options import (
    ExecutorOpt,
    InputsArg,
    OutOpt,
    OverwriteOpt,
    SchedulerOpt,
    ShardOpt,
    WorkersOpt,
    executor_spec,
    with_component_options,
)
from celltool.errors import UsageError
from celltool.pipes import emit, input_folders


def add(app: typer.Typer) -> None:
    @app.command("segment")
    @with_component_options("segmenters")
    def segment_command(
        inputs: InputsArg = None,
        output: OutOpt = None,
        method: Annotated[
            str, typer.Option("--method", "-m", help="Segmenter plugin.")
        ] = "watershed",
        channel: Annotated[
            Optional[int],
            typer.Option(
                "--channel",
                help="Channel to segment in multi-channel images (required unless the "
                "channels are equal).",
                show_default=False,
                min=0,
            ),
        ] = None,
        nuclei_channel: Annotated[
            Optional[int],
            typer.Option(
                "--nuclei-channel",
                help="Channel of a nuclear stain; nuclei are segmented from it (else from "
                "the cell channel).",
                show_default=False,
                min=0,
            ),
        ] = None,
        min_size: Annotated[
            int, typer.Option("--min-size", help="Drop objects smaller than this (px).", min=0)
        ] = 15,
        max_size: Annotated[
            int,
            typer.Option("--max-size", help="Drop objects larger than this (px; 0 = none).", min=0),
        ] = 0,
        clear_border: Annotated[
            bool,
            typer.Option("--clear-border", help="Drop objects that touch the image border."),
        ] = False,
        overwrite: OverwriteOpt = False,
        workers: WorkersOpt = 0,
        executor: ExecutorOpt = "auto",
        scheduler: SchedulerOpt = None,
        shard: ShardOpt = None,
        options: dict | None = None,
    ) -> None:
        """Segment cells (and nuclei) into uint16 instance label maps.

        Input: an images folder or a folder with an 'images' part (e.g. a simulation).
        Writes OUT/cells and OUT/nuclei (default OUT: INPUT-segment) and prints OUT.
        """
        from celltool.outputs import Shard
        from celltool.steps.segmentation import segment

        folders = input_folders(inputs)
        if output is not None and len(folders) > 1:
            raise UsageError("-o/--output needs exactly one input folder")
        spec = executor_spec(executor, workers, scheduler)
        outs = [
            segment(
                folder,
                output,
                method=method,
                params=options,
                channel=channel,
                nuclei_channel=nuclei_channel,
                min_size=min_size,
                max_size=max_size,
                clear_border=clear_border,
                overwrite=overwrite,
                shard=Shard.parse(shard),
                spec=spec,
            )
            for folder in folders
        ]
        emit(outs)
