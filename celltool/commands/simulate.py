"""``celltool simulate``: the CLI of :func:`celltool.steps.simulation.simulate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from celltool.commands.options import (
    ExecutorOpt,
    OutOpt,
    OverwriteOpt,
    SchedulerOpt,
    SeedOpt,
    ShardOpt,
    WorkersOpt,
    executor_spec,
    with_component_options,
)
from celltool.pipes import emit

DEFAULT_OUT = Path("sim")


def add(app: typer.Typer) -> None:
    @app.command("simulate")
    @with_component_options("simulators")
    def simulate_command(
        output: OutOpt = None,
        n: Annotated[
            int, typer.Option("--n", "-n", help="Number of images (or volumes).", min=0)
        ] = 16,
        size: Annotated[
            str,
            typer.Option(
                "--size",
                help="Image size HxW, ZxYxX for 3D simulators, or one number (default: the "
                "simulator's: 512 for cells2d; the mask's shape for spheroid).",
                show_default=False,
            ),
        ] = "",
        method: Annotated[
            str, typer.Option("--method", "-m", help="Simulator plugin.")
        ] = "cells2d",
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
        workers: WorkersOpt = 0,
        executor: ExecutorOpt = "auto",
        scheduler: SchedulerOpt = None,
        shard: ShardOpt = None,
        options: dict | None = None,
    ) -> None:
        """Simulate fluorescence-like cell images with exact cell and nucleus labels.

        Writes OUT/images and the simulator's label parts (cells2d: OUT/cells, OUT/nuclei;
        default OUT: ./sim) and prints OUT.
        """
        from celltool.outputs import Shard
        from celltool.steps.simulation import parse_size, simulate

        out = simulate(
            output or DEFAULT_OUT,
            method=method,
            n=n,
            size=parse_size(size),
            seed=seed,
            params=options,
            overwrite=overwrite,
            shard=Shard.parse(shard),
            spec=executor_spec(executor, workers, scheduler),
        )
        emit([out])
