"""``segment``: instance label maps (cells, nuclei) of an image folder.

Output (kind ``segmentation``): ``OUT/cells/`` and ``OUT/nuclei/`` (kind ``labels``), one uint16
instance map per image with the image's stem (``.png``; ``.tif`` for 3D stacks or more than
65535 objects), and ``facts.parts.images`` = the absolute path of the source images.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from celltool.components import Component
from celltool.console import warn
from celltool.errors import CelltoolError, UsageError
from celltool.executor import ExecutorSpec
from celltool.imageio import is_image_file, list_images, read_image, tiff_axes, write_image
from celltool.manifest import (
    MANIFEST_NAME,
    labels_facts,
    make_manifest,
    part,
    read_manifest,
    write_manifest,
)
from celltool.outputs import OutputFolder, Shard, default_output
from celltool.steps.common import component as get_component
from celltool.steps.common import run_each

STEP = "segment"
# Options of the command itself; a segmenter that declares a parameter of the same name gets it.
CORE = ("channel", "nuclei_channel", "min_size", "max_size", "clear_border")

_SEGMENTERS: dict[str, Any] = {}  # one segmenter per worker process (models load once)


def segmenter(component: Component, params: dict[str, Any]) -> Any:
    """The component's segmenter built with ``params``, cached in this process."""
    key = f"{component.plugin}:{component.name}:{json.dumps(params, sort_keys=True, default=str)}"
    if key not in _SEGMENTERS:
        _SEGMENTERS[key] = component.load()(**params)
    return _SEGMENTERS[key]


def channel_axis(path: Path, image: np.ndarray) -> bool:
    """Whether the last axis of ``image`` holds channels (not a z-stack)."""
    axes = tiff_axes(path) if path.suffix.lower() in (".tif", ".tiff") else None
    if axes and len(axes) == image.ndim:
        return axes.endswith("C") or axes.endswith("S")
    return image.ndim == 4 or (image.ndim == 3 and image.shape[2] <= 4)


def pick_channel(image: np.ndarray, channel: int | None, path: Path, has_channels: bool):
    """The single-channel image to segment; multi-channel input needs ``channel`` unless all
    colour channels are equal (gray stored as RGB)."""
    if not has_channels:
        if channel not in (None, 0):
            raise UsageError(f"has one channel; --channel {channel} does not exist", path)
        return image
    n = image.shape[-1]
    if channel is None:
        colours = image[..., : min(n, 3)]
        if all(np.array_equal(colours[..., 0], colours[..., c]) for c in range(1, min(n, 3))):
            return image[..., 0]
        raise CelltoolError(
            f"has {n} channels; choose the one to segment with --channel 0..{n - 1}", path
        )
    if not 0 <= channel < n:
        raise UsageError(f"has {n} channels; --channel {channel} does not exist", path)
    return image[..., channel]


def segment_one(
    path: Path,
    *,
    component: Component,
    params: dict[str, Any],
    options: dict[str, Any],
    targets: tuple[str, ...],
    out: Path,
) -> dict[str, Any]:
    """Segment one image file and write one label map per target it returns (of ``targets``);
    returns the object count per target and ``_seconds``, the segmenter's time on it."""
    image = read_image(path)
    has_channels = channel_axis(path, image)
    cells_image = pick_channel(image, options["channel"], path, has_channels)
    if cells_image.ndim not in (2, 3):
        raise CelltoolError(f"cannot segment an image of shape {image.shape}", path)
    run = segmenter(component, params)
    if options["nuclei_channel"] is not None:
        if not has_channels:
            raise UsageError("has one channel; --nuclei-channel needs a multi-channel image", path)
        nuclei_image = pick_channel(image, options["nuclei_channel"], path, True)
        start = time.perf_counter()
        result = run(cells_image, nuclei=nuclei_image)
    else:
        start = time.perf_counter()
        result = run(cells_image)
    seconds = time.perf_counter() - start
    if "cells" not in result:
        raise CelltoolError(f"segmenter '{component.name}' returned no cells", path)
    from celltool.labels import filter_instances

    counts: dict[str, Any] = {"_seconds": seconds}
    for target in (t for t in targets if t in result):
        labels = filter_instances(
            np.asarray(result[target]),
            min_size=options["min_size"],
            max_size=options["max_size"],
            clear_border=options["clear_border"],
        )
        if labels.shape != cells_image.shape:
            raise CelltoolError(
                f"segmenter '{component.name}' returned {target} of shape {labels.shape} "
                f"for an image of shape {cells_image.shape}",
                path,
            )
        suffix = ".tif" if labels.ndim == 3 or labels.dtype != np.uint16 else ".png"
        (out / target).mkdir(exist_ok=True)
        write_image(out / target / f"{path.stem}{suffix}", labels)
        counts[target] = int(labels.max())
    return counts


def source_images(folder: Path) -> Path:
    """The images of an input folder (a plain folder, or a container's ``images`` part)."""
    manifest = read_manifest(folder) if folder.is_dir() else None
    try:
        images = part(folder, "images")
    except CelltoolError:
        kind = manifest["kind"] if manifest else "?"
        raise CelltoolError(
            f"is a '{kind}' folder; segment expects images or a folder with an 'images' part "
            "(e.g. a simulation)",
            folder,
        ) from None
    if images != folder and read_manifest(images) and read_manifest(images)["kind"] != "images":
        raise CelltoolError("the 'images' part is not an images folder", images)
    return images


def segment(
    folder: str | Path,
    out: str | Path | None = None,
    *,
    method: str = "watershed",
    params: dict[str, Any] | None = None,
    channel: int | None = None,
    nuclei_channel: int | None = None,
    min_size: int = 15,
    max_size: int = 0,
    clear_border: bool = False,
    overwrite: bool = False,
    shard: Shard | None = None,
    spec: ExecutorSpec | None = None,
    timings: dict[str, float] | None = None,
) -> Path:
    """Segment every image of ``folder`` into ``out`` (a 'segmentation' folder; default
    ``FOLDER-segment``); return ``out``. ``timings``, when given, receives the segmenter's
    seconds per image by stem (the call alone: no reading, writing or model loading)."""
    folder = Path(folder)
    if min_size < 0 or max_size < 0 or (max_size and max_size < min_size):
        raise UsageError("--min-size/--max-size: need 0 <= min-size <= max-size (0 = no limit)")
    component = get_component("segmenters", method)
    options = dict(
        channel=channel,
        nuclei_channel=nuclei_channel,
        min_size=min_size,
        max_size=max_size,
        clear_border=clear_border,
    )
    given = dict(params or {})
    given.update({k: v for k, v in options.items() if component.param(k) and v is not None})
    params = component.resolve(given)  # options are checked before any input is read
    targets = tuple(component.info.targets)
    if "cells" not in targets:
        raise UsageError(f"segmenter '{method}' does not segment cells (targets: {targets})")
    if not folder.exists():
        raise CelltoolError("folder does not exist", folder)
    images = source_images(folder).resolve()
    files = list_images(images)
    skipped = [
        p.name
        for p in images.iterdir()
        if p.is_file() and not is_image_file(p) and p.name != MANIFEST_NAME
    ]
    if skipped:
        warn(f"{images}: ignoring {len(skipped)} non-image file(s): {', '.join(skipped[:5])}")
    out = Path(out) if out else default_output(folder, STEP)
    items = files if shard is None else shard.take(files)
    identity = {"step": STEP, "method": method, "params": params, "options": options}
    output = OutputFolder(
        out, inputs=[folder, images], overwrite=overwrite, shard=shard, identity=identity
    )
    with output as work:
        (work / "cells").mkdir(exist_ok=True)
        job = functools.partial(
            segment_one,
            component=component,
            params=params,
            options=options,
            targets=targets,
            out=work,
        )
        records = run_each(job, items, spec, f"segment ({method})")
        if timings is not None:
            timings.update({p.stem: r["_seconds"] for p, r in zip(items, records, strict=True)})
        written = tuple(t for t in targets if records and t in records[0]) or ("cells",)
        common = dict(step=STEP, params={"method": method, **options, **params}, plugin=component)
        for target in written:
            counts = {p.stem: r[target] for p, r in zip(items, records, strict=True)}
            facts = labels_facts(target, counts, images=str(images))
            record = make_manifest("labels", inputs=[images], facts=facts, **common)
            write_manifest(work / target, record)
        parts = {t: t for t in written} | {"images": str(images)}
        output.manifest = make_manifest(
            "segmentation", inputs=[folder], facts={"parts": parts}, **common
        )
    return out
