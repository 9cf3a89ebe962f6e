"""``celltool sketch``: class-index maps and gray-coded sketches from cell/nucleus label maps."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from celltool import plugins
from celltool.cliutil import (
    ExecutorOpt,
    InputsArg,
    OutOpt,
    OverwriteOpt,
    SchedulerOpt,
    SeedOpt,
    WorkersOpt,
    executor_spec,
    run_each,
    with_component_options,
)
from celltool.components import Component
from celltool.console import info
from celltool.errors import CelltoolError, UsageError
from celltool.imageio import list_image_tree, matching_files, read_image, write_image
from celltool.manifest import has_part, make_manifest, part, require_kind, write_manifest
from celltool.outputs import OutputFolder, default_output
from celltool.pipes import emit, input_folders

MASK_THRESHOLD = 127  # binary masks: a pixel is a cell when its value is above this


def read_label_map(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """An instance label map of the image's size, or a one-line error naming the file."""
    labels = read_image(path)
    if labels.ndim != 2 or labels.dtype.kind not in "iu":
        raise CelltoolError(
            f"is not a label map (expected a 2D integer image, got {labels.dtype} {labels.shape})",
            path,
        )
    if labels.shape != tuple(shape[:2]):
        raise CelltoolError(f"size {labels.shape} differs from its image's {shape[:2]}", path)
    return labels


def read_mask(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A binary mask (value > 127 = cell), gray or with identical colour channels."""
    mask = read_image(path)
    if mask.ndim == 3 and all(np.array_equal(mask[..., 0], mask[..., c]) for c in range(1, 3)):
        mask = mask[..., 0]
    if mask.ndim != 2 or mask.dtype.kind not in "iub":
        raise CelltoolError(
            f"is not a mask (expected a 2D integer image, got {mask.dtype} {mask.shape})", path
        )
    if mask.shape != tuple(shape[:2]):
        raise CelltoolError(f"size {mask.shape} differs from its image's {shape[:2]}", path)
    return (mask > MASK_THRESHOLD).astype(np.uint8)


def load_item(item: tuple, *, binary: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Image, cells (instance map or binary mask) and nuclei of one item."""
    _, image_path, cells_path, nuclei_path = item
    image = read_image(image_path)
    cells = (
        read_mask(cells_path, image.shape) if binary else read_label_map(cells_path, image.shape)
    )
    nuclei = None if nuclei_path is None else read_label_map(nuclei_path, image.shape)
    return image, cells, nuclei


def means_one(item: tuple, *, binary: bool) -> np.ndarray:
    """Pass 1: per-cell mean intensities of one image (finite values only)."""
    from celltool_sketch.reference import cell_means, to_gray8

    image, cells, nuclei = load_item(item, binary=binary)
    means = cell_means(to_gray8(image), cells, nuclei)
    return means[np.isfinite(means)]


def sketch_one(
    item: tuple,
    *,
    component: Component,
    params: dict[str, Any],
    bounds: list[float],
    out: Path,
    binary: bool,
) -> dict[str, Any]:
    """Pass 2: render one image and write its index map and gray sketch."""
    from celltool_sketch.reference import gray_sketch, scaled_radii

    rel = item[0]
    image, cells, nuclei = load_item(item, binary=binary)
    render = component.load()
    radii = tuple(params["radii"]) or scaled_radii(cells.shape)
    index = render(cells, nuclei, image, bounds=bounds, **{**params, "radii": radii})
    name = Path(rel).with_suffix(".png")
    for sub, array in (("index", index), ("gray", gray_sketch(index, params["levels"]))):
        (out / sub / name).parent.mkdir(parents=True, exist_ok=True)
        write_image(out / sub / name, array)
    counts = np.bincount(index.ravel(), minlength=len(bounds) + 8)
    return {"shape": list(cells.shape), "radii": list(radii), "counts": counts.tolist()}


def _find_inputs(
    folder: Path, masks: Path | None, levels: int
) -> tuple[Path, Path, Path | None, bool]:
    """(images, cells, nuclei or None, cells are binary masks) for an input folder."""
    if masks is not None:
        if levels != 1:
            raise UsageError(
                f"--masks gives binary cell masks, which only make --levels 1 sketches; "
                f"--levels {levels} needs cell and nucleus label maps (a segmentation or "
                "simulation folder)"
            )
        require_kind(folder, ("images",))
        require_kind(masks, ("images", "labels"))
        return part(folder, "images"), masks, None, True
    require_kind(folder, ("segmentation", "simulation"))
    nuclei = part(folder, "nuclei") if has_part(folder, "nuclei") else None
    if levels not in (1, 4) and nuclei is None:
        info("no nuclei part: sketching without nuclei")
    return part(folder, "images"), part(folder, "cells"), nuclei, False


def sketch_folder(
    source: Path,
    out: Path | None = None,
    *,
    masks: Path | None = None,
    method: str = "reference",
    component_params: dict[str, Any] | None = None,
    seed: int = 0,
    overwrite: bool = False,
    spec: Any = None,
) -> Path:
    """Sketch every image of ``source`` (segmentation/simulation, or images + ``masks``)."""
    from celltool.executor import ExecutorSpec

    spec = spec or ExecutorSpec()
    component = plugins.get("sketchers", method)
    params = component.resolve(component_params)
    from celltool_sketch.reference import check_limits, class_table, layer_bounds

    levels = params["levels"]
    problem = check_limits(levels, params["limits"])
    if problem:
        raise UsageError(problem)
    if params["radii"] and len(params["radii"]) != 4:
        raise UsageError("--radii takes 4 values: pad,open,grow,shrink")
    if params["thickness"] < 1:
        raise UsageError("--thickness must be at least 1")
    images, cells, nuclei, binary = _find_inputs(source, masks, levels)
    names = list_image_tree(images)
    items = list(
        zip(
            names,
            [images / n for n in names],
            matching_files(cells, names),
            matching_files(nuclei, names) if nuclei is not None else [None] * len(names),
            strict=True,
        )
    )
    out = out or default_output(source, "sketch")
    inputs = [source] + ([masks] if masks is not None else [])
    folder = OutputFolder(out, inputs=inputs, overwrite=overwrite)
    with folder as work:
        limits = list(params["limits"])
        needs_pass1 = levels == 7 and not limits or levels == 9 and len(limits) != 4
        bounds = limits
        if needs_pass1:
            job = functools.partial(means_one, binary=binary)
            means = run_each(job, items, spec, "sketch: cell means (pass 1)")
            bounds = layer_bounds(np.concatenate(means + [np.zeros(0)]), levels, limits)
            info(f"layer bounds from {sum(map(len, means))} cells: {np.round(bounds, 2).tolist()}")
        elif levels in (7, 9):
            bounds = layer_bounds(np.zeros(0), levels, limits)
        job = functools.partial(
            sketch_one, component=component, params=params, bounds=bounds, out=work, binary=binary
        )
        records = run_each(job, items, spec, f"sketch ({method}, levels {levels})")
        classes = class_table(levels)
        counts = np.sum([r["counts"][: len(classes)] for r in records], axis=0)
        facts = {
            "parts": {"index": "index", "gray": "gray", "images": str(images.resolve())},
            "levels": levels,
            "classes": classes,
            "layer_bounds": [float(b) for b in bounds],
            "layer_bounds_from": (
                f"quantiles over all cells of all {len(items)} images"
                if needs_pass1
                else ("--limits" if levels in (7, 9) else None)
            ),
            "intensity": "per-image autocontrast to 0..255 (the seed's), luma for colour",
            "wound": params["wound"] and levels != 1,
            "radii_rule": "pad,open,grow,shrink = 60,60,140,50 * sqrt(H*W/(1536*2048))",
            "radii": sorted({tuple(r["radii"]) for r in records}),
            "cells": str(cells.resolve()),
            "nuclei": None if nuclei is None else str(nuclei.resolve()),
            "binary_masks": binary,
            "pixels_per_class": {c["name"]: int(n) for c, n in zip(classes, counts, strict=True)},
            "n_images": len(items),
        }
        common = dict(step="sketch", params=params, seed=seed, plugin=component, inputs=inputs)
        write_manifest(
            work / "index",
            make_manifest("labels", facts={"target": "classes", "classes": classes}, **common),
        )
        write_manifest(
            work / "gray",
            make_manifest("images", facts={"bit_depth": 8, "classes": classes}, **common),
        )
        folder.manifest = make_manifest("sketch", facts=facts, **common)
    return out


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
        component_params: dict | None = None,
    ) -> None:
        """Class-index maps and gray-coded sketches (the seed's references) from cell and
        nucleus label maps of a segmentation or simulation folder (or images + --masks).

        Writes OUT/index (class indices), OUT/gray (gray codes) and prints OUT.
        """
        folders = input_folders(inputs)
        if len(folders) != 1:
            raise UsageError("sketch takes one input folder")
        emit(
            [
                sketch_folder(
                    folders[0],
                    output,
                    masks=masks,
                    method=method,
                    component_params=component_params,
                    seed=seed,
                    overwrite=overwrite,
                    spec=executor_spec(executor, workers, scheduler),
                )
            ]
        )


def demo_stage(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """The demo's sketch stage: levels 7 on the segmentation (or the simulation)."""
    from celltool.executor import ExecutorSpec

    source = results.get("segment") or results["simulate"]
    return sketch_folder(
        source,
        out / "sketch",
        component_params={"levels": 7},
        seed=seed,
        spec=ExecutorSpec(),
    )
