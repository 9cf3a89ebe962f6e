"""The Typer commands ``celltool spots``, ``celltool combine`` and ``celltool augment``.

Each follows the step contract: input folders as arguments or from stdin, a default output
``INPUT-STEP``, an atomic output folder with its manifest, and the output folder as the only
line on stdout. Heavy imports happen inside the step functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from celltool.commands.options import (
    ExecutorOpt,
    InputsArg,
    OutOpt,
    OverwriteOpt,
    SeedOpt,
    WorkersOpt,
    executor_spec,
)
from celltool.errors import UsageError
from celltool.pipes import emit, input_folders

SPOTS = "Spots"
CAMERA = "Rendering and camera"


def _opt(flag: str, help: str, panel: str = SPOTS):
    return typer.Option(flag, help=help, rich_help_panel=panel)


def add(app: typer.Typer) -> None:
    app.command("spots")(spots_command)
    app.command("combine")(combine_command)
    app.command("augment")(augment_command)


def spots_command(
    inputs: InputsArg = None,
    output: OutOpt = None,
    compartment: Annotated[
        str, _opt("--compartment", "cytoplasm (cell minus nucleus), nucleus or cell.")
    ] = "cytoplasm",
    layout: Annotated[
        str,
        _opt(
            "--layout",
            "cells (spots inside cells) or cellgen (CellGen "
            "Points.py's five fixed clusters, without its wrap bug).",
        ),
    ] = "cells",
    distribution: Annotated[
        str, _opt("--distribution", "uniform or clustered (around --clusters centres per cell).")
    ] = "uniform",
    per_cell: Annotated[float, _opt("--per-cell", "Mean spots per cell (Poisson).")] = 5.0,
    density: Annotated[
        float,
        _opt(
            "--density",
            "Mean spots per 1000 px² of the compartment (Poisson; > 0 replaces --per-cell).",
        ),
    ] = 0.0,
    clusters: Annotated[int, _opt("--clusters", "Cluster centres per cell.")] = 2,
    cluster_sigma: Annotated[float, _opt("--cluster-sigma", "Cluster spread σ (px).")] = 3.0,
    radius: Annotated[float, _opt("--radius", "Spot disc radius in the label maps (px).")] = 2.0,
    max_spots: Annotated[
        int, _opt("--max-spots", "Most spots per image (more: an error).")
    ] = 20000,
    psf_sigma: Annotated[float, _opt("--psf-sigma", "Gaussian PSF σ (px).", CAMERA)] = 1.2,
    amplitude: Annotated[float, _opt("--amplitude", "Mean peak photons per spot.", CAMERA)] = 100.0,
    amplitude_cv: Annotated[
        float,
        _opt(
            "--amplitude-cv",
            "Coefficient of variation of the peak (log-normal; 0: constant).",
            CAMERA,
        ),
    ] = 0.3,
    background: Annotated[
        float, _opt("--background", "Background photons per pixel.", CAMERA)
    ] = 5.0,
    read_noise: Annotated[float, _opt("--read-noise", "Read noise σ (e⁻).", CAMERA)] = 2.0,
    gain: Annotated[float, _opt("--gain", "ADU per e⁻.", CAMERA)] = 1.0,
    offset: Annotated[float, _opt("--offset", "Camera offset (ADU).", CAMERA)] = 0.0,
    bit_depth: Annotated[int, _opt("--bit-depth", "8, 12 or 16.", CAMERA)] = 8,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
    workers: WorkersOpt = 1,
    executor: ExecutorOpt = "auto",
) -> None:
    """Fluorescent spots inside the cells of a segmentation or simulation: spot label maps,
    binary masks, a rendered spot image (Gaussian PSF, photon and read noise) and a
    ground-truth table spots.csv. Prints the output folder."""
    from celltool.outputs import default_output
    from celltool_spots.spots_step import SpotOptions, run_spots

    opts = SpotOptions(
        compartment=compartment,
        layout=layout,
        distribution=distribution,
        per_cell=per_cell,
        density=density,
        clusters=clusters,
        cluster_sigma=cluster_sigma,
        radius=radius,
        psf_sigma=psf_sigma,
        amplitude=amplitude,
        amplitude_cv=amplitude_cv,
        background=background,
        read_noise=read_noise,
        gain=gain,
        offset=offset,
        bit_depth=bit_depth,
        max_spots=max_spots,
    )
    outs = []
    folders = input_folders(inputs)
    if output is not None and len(folders) > 1:
        raise UsageError("-o names one output folder; give one input folder with it")
    for folder in folders:
        out = output or default_output(folder, "spots")
        spec = executor_spec(executor, workers, None)
        outs.append(run_spots(folder, out, opts, seed=seed, overwrite=overwrite, spec=spec))
    emit(outs)


def combine_command(
    inputs: Annotated[
        Optional[list[Path]],
        typer.Argument(
            help="Two image folders A B (paired by file name); stdin when omitted.",
            show_default=False,
        ),
    ] = None,
    output: OutOpt = None,
    as_channels: Annotated[
        bool,
        typer.Option(
            "--as-channels", help="Stack A's and B's channels (TIFF, YXC) instead of summing."
        ),
    ] = False,
    overwrite: OverwriteOpt = False,
    workers: WorkersOpt = 1,
    executor: ExecutorOpt = "auto",
) -> None:
    """Combine two image folders: a saturating sum per pixel and channel (never wraps; uint8 +
    uint16 promotes the uint8 image to the other's bit depth), or --as-channels. Prints the
    output folder."""
    from celltool.outputs import default_output
    from celltool_spots.combine_step import run_combine

    folders = input_folders(inputs, at_least=2)
    if len(folders) != 2:
        raise UsageError(f"combine takes exactly two folders, got {len(folders)}")
    out = output or default_output(folders[0], "combine")
    spec = executor_spec(executor, workers, None)
    emit([run_combine(*folders, out, channels=as_channels, overwrite=overwrite, spec=spec)])


def augment_command(
    inputs: InputsArg = None,
    output: OutOpt = None,
    n: Annotated[int, typer.Option("-n", "--variants", help="Variants per pair.")] = 10,
    splits: Annotated[
        str,
        typer.Option(
            "--splits", help="Splits to augment (comma-separated); the others are copied."
        ),
    ] = "train",
    originals: Annotated[
        bool, typer.Option("--originals/--no-originals", help="Keep the original pairs.")
    ] = True,
    max_angle: Annotated[
        float,
        typer.Option(
            "--max-angle", help="Rotation angle drawn uniformly in ±this (degrees; 0: none)."
        ),
    ] = 10.0,
    rot90: Annotated[
        bool, typer.Option("--rot90/--no-rot90", help="Also random quarter turns.")
    ] = False,
    gain: Annotated[float, typer.Option("--gain", help="Image gain drawn in 1 ± this.")] = 0.1,
    offset: Annotated[
        float,
        typer.Option(
            "--offset", help="Image offset drawn in ± this (8-bit units, scaled to the bit depth)."
        ),
    ] = 20.0,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
    workers: WorkersOpt = 1,
    executor: ExecutorOpt = "auto",
) -> None:
    """Offline augmented variants of a pairs folder: flips, rotations (labels nearest
    neighbour: they keep their values), gain and offset on the images only. Prints the output
    folder."""
    from celltool.outputs import default_output
    from celltool_spots.augment_step import run_augment

    settings = {"max_angle": max_angle, "rot90": rot90, "gain": gain, "offset": offset}
    chosen = [s.strip() for s in splits.split(",") if s.strip()]
    outs = []
    for folder in input_folders(inputs):
        out = output or default_output(folder, "augment")
        spec = executor_spec(executor, workers, None)
        outs.append(
            run_augment(
                folder,
                out,
                n=n,
                splits=chosen,
                originals=originals,
                settings=settings,
                seed=seed,
                overwrite=overwrite,
                spec=spec,
            )
        )
    emit(outs)
