"""``sketch``: class-index maps and gray-coded sketches from cell/nucleus label maps.

The step runs a sketcher plugin (:class:`celltool.contracts.Sketcher`): an optional pass over
all items for statistics, one ``fit`` (e.g. layer bounds over the whole set), then one
``render`` per item. It writes ``OUT/index`` (class indices, uint8 PNG) and ``OUT/gray`` (the
class table's gray value of every pixel).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from celltool import plugins
from celltool.components import Component
from celltool.console import info
from celltool.errors import CelltoolError, UsageError
from celltool.executor import ExecutorSpec
from celltool.imageio import list_image_tree, matching_files, read_image, write_image
from celltool.manifest import has_part, make_manifest, part, require_kind, write_manifest
from celltool.outputs import OutputFolder, default_output
from celltool.steps.common import run_each

MASK_THRESHOLD = 127  # binary masks: a pixel is a cell when its value is above this


@dataclass
class Item:
    """What a sketcher sees of one image (celltool.contracts.SketchItem)."""

    image: np.ndarray
    cells: np.ndarray
    nuclei: np.ndarray | None
    binary: bool


def read_label_map(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """An instance label map of the image's size, or a one-line error naming the file."""
    labels = read_image(path)
    if labels.ndim != 2 or labels.dtype.kind not in "iu":
        raise CelltoolError(
            f"is not a label map (expected a 2D integer image, got {labels.dtype} "
            f"{labels.shape}; sketch works on 2D images)",
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


def load_item(item: tuple, *, binary: bool) -> Item:
    """Image, cells (instance map or binary mask) and nuclei of one item."""
    _, image_path, cells_path, nuclei_path = item
    image = read_image(image_path)
    if image.ndim == 3 and image.shape[2] > 4:
        raise CelltoolError(f"is a 3D stack {image.shape}; sketch works on 2D images", image_path)
    cells = (
        read_mask(cells_path, image.shape) if binary else read_label_map(cells_path, image.shape)
    )
    nuclei = None if nuclei_path is None else read_label_map(nuclei_path, image.shape)
    return Item(image, cells, nuclei, binary)


_SKETCHERS: dict[str, Any] = {}  # one sketcher per process and parameter set


def sketcher(component: Component, params: dict[str, Any]) -> Any:
    key = f"{component.plugin}:{component.name}:{sorted(params.items())!r}"
    if key not in _SKETCHERS:
        _SKETCHERS[key] = component.load()(**params)
    return _SKETCHERS[key]


def stats_one(item: tuple, *, component: Component, params: dict[str, Any], binary: bool) -> Any:
    """Pass 1: the sketcher's statistics of one item."""
    return sketcher(component, params).stats(load_item(item, binary=binary))


def render_one(
    item: tuple,
    *,
    component: Component,
    params: dict[str, Any],
    state: dict[str, Any],
    gray: np.ndarray,
    out: Path,
    binary: bool,
) -> dict[str, Any]:
    """Pass 2: render one item and write its index map and gray sketch."""
    index, facts = sketcher(component, params).render(load_item(item, binary=binary), state)
    index = np.asarray(index)
    if index.dtype != np.uint8 or index.max(initial=0) >= len(gray):
        raise CelltoolError(
            f"sketcher '{component.name}' returned a {index.dtype} map with class "
            f"{int(index.max(initial=0))}; expected uint8 classes below {len(gray)}",
            item[1],
        )
    name = Path(item[0]).with_suffix(".png")
    for sub, array in (("index", index), ("gray", gray[index])):
        (out / sub / name).parent.mkdir(parents=True, exist_ok=True)
        write_image(out / sub / name, array)
    counts = np.bincount(index.ravel(), minlength=len(gray))
    return {**facts, "counts": counts.tolist()}


def find_inputs(folder: Path, masks: Path | None) -> tuple[Path, Path, Path | None, bool]:
    """(images, cells, nuclei or None, cells are binary masks) for an input folder."""
    if masks is not None:
        require_kind(folder, ("images",))
        require_kind(masks, ("images", "labels"))
        return part(folder, "images"), masks, None, True
    require_kind(folder, ("segmentation", "simulation"))
    nuclei = part(folder, "nuclei") if has_part(folder, "nuclei") else None
    return part(folder, "images"), part(folder, "cells"), nuclei, False


def sketch(
    source: str | Path,
    out: str | Path | None = None,
    *,
    masks: str | Path | None = None,
    method: str = "reference",
    params: dict[str, Any] | None = None,
    seed: int = 0,
    overwrite: bool = False,
    spec: ExecutorSpec | None = None,
) -> Path:
    """Sketch every image of ``source`` (a segmentation/simulation folder, or images with
    binary ``masks``) into ``out`` (default ``SOURCE-sketch``); return ``out``."""
    source = Path(source)
    masks = Path(masks) if masks is not None else None
    component = plugins.get("sketchers", method)
    resolved = component.resolve(params)
    if masks is not None and not component.info.binary_input:
        raise UsageError(f"sketcher '{method}' does not take binary --masks")
    maker = sketcher(component, resolved)
    if hasattr(maker, "check_input"):
        maker.check_input(masks is not None)
    images, cells, nuclei, binary = find_inputs(source, masks)
    if nuclei is None and not binary:
        info("no nuclei part: sketching without nuclei")
    names = list_image_tree(images)
    nuclei_files = matching_files(nuclei, names) if nuclei is not None else [None] * len(names)
    cell_files = matching_files(cells, names)
    items = list(zip(names, [images / n for n in names], cell_files, nuclei_files, strict=True))
    out = Path(out) if out else default_output(source, "sketch")
    inputs = [source] + ([masks] if masks is not None else [])
    folder = OutputFolder(out, inputs=inputs, overwrite=overwrite)
    with folder as work:
        stats: list[Any] = []
        if maker.needs_stats:
            job = functools.partial(stats_one, component=component, params=resolved, binary=binary)
            stats = run_each(job, items, spec, "sketch: statistics (pass 1)")
        state = maker.fit(stats)
        if stats:
            info(f"sketch: fitted {state}")
        classes = maker.classes(state)
        gray = np.array([c["gray"] for c in classes], dtype=np.uint8)
        job = functools.partial(
            render_one,
            component=component,
            params=resolved,
            state=state,
            gray=gray,
            out=work,
            binary=binary,
        )
        records = run_each(job, items, spec, f"sketch ({method})")
        counts = np.sum([r.pop("counts") for r in records], axis=0) if records else []
        facts = {
            "parts": {"index": "index", "gray": "gray", "images": str(images.resolve())},
            "classes": classes,
            **maker.facts(state, records),
            "cells": str(cells.resolve()),
            "nuclei": None if nuclei is None else str(nuclei.resolve()),
            "binary_masks": binary,
            "pixels_per_class": {c["name"]: int(n) for c, n in zip(classes, counts, strict=False)},
            "n_images": len(items),
        }
        common = dict(step="sketch", params=resolved, seed=seed, plugin=component, inputs=inputs)
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
