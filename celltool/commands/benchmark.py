"""``celltool benchmark DATA --segmenters a,b -o OUT``: the CLI of
:func:`celltool.steps.benchmarking.benchmark`."""

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
    path_option,
)
from celltool.errors import UsageError
from celltool.pipes import emit, input_folders


def add(app: typer.Typer) -> None:
    @app.command("benchmark")
    def benchmark_command(
        inputs: InputsArg = None,
        output: OutOpt = None,
        segmenters: Annotated[
            str,
            typer.Option(
                "--segmenters",
                "-s",
                help="Comma-separated segmenters; METHOD:LABEL runs a segmenter again with "
                "other settings (watershed,watershed:tight,otsu).",
            ),
        ] = "watershed",
        options: Annotated[
            Optional[list[str]],
            typer.Option(
                "--options",
                help="ENTRY.PARAM=VALUE, repeatable: watershed:tight.threshold_scale=1.6, "
                "unet-seg.model=RUN, watershed.min_size=30.",
                show_default=False,
            ),
        ] = None,
        config: Annotated[
            Optional[Path],
            path_option(
                "--config",
                'TOML with one table per entry ([watershed], ["watershed:tight"]; '
                'method = "..." names the segmenter of a free name).',
                folder=False,
            ),
        ] = None,
        labels: Annotated[
            Optional[Path],
            path_option(
                "--labels",
                "Reference label maps or binary masks of DATA's images (same stems); "
                "not needed for a simulation, segmentation or pairs folder.",
                folder=True,
            ),
        ] = None,
        label_mode: Annotated[
            str,
            typer.Option(
                "--label-mode",
                help="auto | instances | binary (8-bit files without a manifest are binary "
                "masks: > 127, connected components).",
            ),
        ] = "auto",
        metrics: Annotated[
            str,
            typer.Option("--metrics", "-m", help="Segmentation metrics (as evaluate -m)."),
        ] = "seg,det,ap,ap_at,f1,pq,aji",
        rank_by: Annotated[
            Optional[str],
            typer.Option(
                "--rank-by",
                help="Score column to rank by (default ap_at.0.5, else ap).",
                show_default=False,
            ),
        ] = None,
        target: Annotated[
            str, typer.Option("--target", help="Label part of a simulation/segmentation.")
        ] = "cells",
        split: Annotated[str, typer.Option("--split", help="Split of a pairs folder.")] = "test",
        bootstrap: Annotated[
            int,
            typer.Option("--bootstrap", help="Bootstrap resamples.", min=1, max=100_000),
        ] = 2000,
        level: Annotated[
            float, typer.Option("--level", help="Confidence level.", min=0.5, max=0.999)
        ] = 0.95,
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
        workers: WorkersOpt = 0,
        executor: ExecutorOpt = "auto",
        scheduler: SchedulerOpt = None,
    ) -> None:
        """Run segmenters on labelled images and rank them.

        DATA: a simulation, a segmentation, a pairs folder (folders layout) or images with
        --labels. Scores per image and overall (AP at IoU 0.5/0.75/0.9, mean AP, F1, PQ, AJI,
        CTC SEG/DET) with seeded bootstrap intervals, runtime per image; writes scores.csv,
        ranking.csv/.json, plots/ and index.html into OUT (default DATA-benchmark); prints OUT.
        """
        from celltool.steps.benchmarking import benchmark
        from celltool.steps.benchmarking.entries import parse_options

        folders = input_folders(inputs)
        if len(folders) != 1:
            raise UsageError(f"give one DATA folder (got {len(folders)})")
        out = benchmark(
            folders[0],
            segmenters,
            output,
            labels=labels,
            options=parse_options(options or []),
            config_file=config,
            metrics=metrics,
            rank_by=rank_by,
            target=target,
            split=split,
            label_mode=label_mode,
            seed=seed,
            n_boot=bootstrap,
            level=level,
            overwrite=overwrite,
            spec=executor_spec(executor, workers, scheduler),
        )
        emit([out])
