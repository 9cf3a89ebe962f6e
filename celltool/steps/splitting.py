"""``split``: train/val/test image–sketch pairs (or a CTC export) from a sketch folder.

A splitter plugin says where samples are cut from each frame; which split each frame goes to
(:mod:`celltool.splits`), the layouts, temporal pairs and the Cell Tracking Challenge export
(:mod:`celltool.ctc`) are the step's.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from celltool.console import info, track, warn
from celltool.errors import CelltoolError, InfeasibleError, UsageError
from celltool.imageio import (
    atomic_write_bytes,
    list_image_tree,
    matching_files,
    read_image,
    write_image,
    write_labels,
)
from celltool.labels import relabel_sequential
from celltool.manifest import make_manifest, part, require_kind
from celltool.outputs import OutputFolder, default_output
from celltool.splits import SPLITS, assign_splits, parse_ratios, temporal_pairs
from celltool.steps.common import component as get_component
from celltool.steps.common import existing

LAYOUTS = ("side-by-side", "folders")
TABLE = "crops.csv"


@dataclass
class Source:
    """What split reads: images, their sketches (same stems) and, for CTC, instance labels."""

    images: Path
    sketch: Path | None
    labels: Path | None  # instance label maps (None: connected components of ``sketch``)
    classes: list[dict] | None
    names: list[Path]  # image paths relative to ``images``
    sequences: list[str]  # sequence of every image
    binary: bool = False  # the sketch is a label part: pairs get its binary mask (0/255 uint8)
    instances: bool = False  # the label part's instance maps go to `<split>/labels/` (uint16)


def _sequences(names: list[Path], pattern: str | None, images: Path) -> list[str]:
    if pattern is None:
        return [str(n.parent) if str(n.parent) != "." else "" for n in names]
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--sequence-pattern {pattern!r}: {exc}") from None
    out = []
    for name in names:
        found = regex.search(name.stem)
        if not found:
            raise UsageError(f"name does not match --sequence-pattern {pattern!r}", images / name)
        out.append(found.group(1) if regex.groups else found.group(0))
    return out


def find_source(folder: Path, masks: Path | None, sketch_part: str, pattern: str | None) -> Source:
    """Images + sketches of a sketch folder, or images + ``--masks``, or a simulation or
    segmentation folder (its cell label maps as the sketch), or a spots folder (its binary
    spot masks as the sketch, its spot label maps as the instances)."""
    labels = None
    classes = None
    binary = False
    if masks is not None:
        require_kind(folder, ("images",))
        require_kind(masks, ("images", "labels"))
        images, sketch = part(folder, "images"), masks
    else:
        manifest = require_kind(folder, ("sketch", "simulation", "segmentation", "spots")) or {}
        images = part(folder, "images")
        facts = manifest.get("facts", {})
        if manifest["kind"] == "spots":  # spot masks → spot images (CellGen's spot pairs)
            sketch, labels, classes = part(folder, "masks"), part(folder, "spots"), facts["classes"]
        elif manifest["kind"] == "sketch":
            sketch = part(folder, sketch_part)
            classes = facts.get("classes")
            if facts.get("cells") and not facts.get("binary_masks"):
                labels = Path(facts["cells"])
        else:
            sketch = labels = part(folder, "cells")
            binary = True
    names = list_image_tree(images)
    return Source(
        images, sketch, labels, classes, names, _sequences(names, pattern, images), binary
    )


def _read_pair(image_path: Path, sketch_path: Path) -> tuple[np.ndarray, np.ndarray]:
    image = read_image(image_path)
    if image.ndim > 3 or (image.ndim == 3 and image.shape[2] > 4):
        raise CelltoolError(f"is a 3D stack {image.shape}; split works on 2D images", image_path)
    sketch = read_image(sketch_path)
    if sketch.ndim != 2:
        raise CelltoolError(
            f"is not a sketch or mask (shape {sketch.shape}; expected 2D)", sketch_path
        )
    if sketch.shape != image.shape[:2]:
        raise CelltoolError(
            f"size {sketch.shape} differs from its image's {image.shape[:2]}", sketch_path
        )
    return image, sketch


def side_by_side(image: np.ndarray, sketch: np.ndarray) -> np.ndarray:
    """``[image | sketch]`` in the image's dtype: an 8-bit sketch in a 16-bit file is scaled by
    257 (0 → 0, 255 → 65535); a gray sketch beside a colour image is repeated per channel."""
    if sketch.dtype != image.dtype:
        if image.dtype == np.uint16 and sketch.dtype == np.uint8:
            sketch = sketch.astype(np.uint16) * 257
        elif (
            image.dtype == np.uint8
            and sketch.dtype.kind in "iu"
            and 0 <= sketch.min()
            and (sketch.max() <= 255)
        ):  # e.g. 0/255 masks stored as uint16: the same values in uint8
            sketch = sketch.astype(np.uint8)
        else:
            raise UsageError(
                f"side-by-side needs the sketch ({sketch.dtype}) to fit the image's {image.dtype};"
                " use --layout folders"
            )
    if image.ndim == 3:
        sketch = np.repeat(sketch[..., None], image.shape[2], axis=2)
    return np.concatenate([image, sketch], axis=1)


def _crop(array: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    r, c, h, w = window
    return array[r : r + h, c : c + w]


def write_pairs(
    src: Source,
    work: Path,
    *,
    component: Any,
    params: dict[str, Any],
    splits: list[str],
    layout: str,
    temporal: bool,
    seed: int,
) -> tuple[list[dict], dict[str, int]]:
    """Cut and write every sample; returns the crop table rows and samples per split."""
    cut = component.load()
    sketches = matching_files(src.sketch, src.names)
    if temporal:
        units = temporal_pairs(src.sequences, splits)
    else:
        units = [(i,) for i in range(len(src.names))]
    per_unit = int(params.get(component.info.samples_param or "", 1))
    width = max(4, len(str(len(units) * per_unit)))
    count = {"train": 0, "val": 0, "test": 0}
    rows = []
    for unit in track(units, len(units), "split"):
        frames = [_read_pair(src.images / src.names[i], sketches[i]) for i in unit]
        if src.binary:  # cell label maps of a simulation/segmentation: their binary masks
            frames = [(im, ((sk > 0) * 255).astype(np.uint8)) for im, sk in frames]
        sketch_dir = "labels" if src.instances else "sketch"
        shape = frames[0][0].shape[:2]
        if any(f[0].shape[:2] != shape for f in frames):
            raise CelltoolError(
                f"size differs from frame {src.names[unit[0]]}", src.images / src.names[unit[-1]]
            )
        try:
            windows = cut(shape, np.random.default_rng([seed, unit[0]]), **params)
        except InfeasibleError as exc:
            raise CelltoolError(str(exc), src.images / src.names[unit[0]]) from None
        split = splits[unit[0]]
        for window in windows:
            name = f"{count[split]:0{width}d}.png"
            count[split] += 1
            if layout == "side-by-side":
                try:
                    sample = side_by_side(_crop(frames[0][0], window), _crop(frames[0][1], window))
                except UsageError as exc:
                    raise UsageError(exc.message, sketches[unit[0]]) from None
                files = {f"{split}/{name}": sample}
            else:
                suffixes = ("_t", "_t1") if temporal else ("",)
                files = {}
                for (image, sketch), suffix in zip(frames, suffixes, strict=True):
                    files[f"{split}/image{suffix}/{name}"] = _crop(image, window)
                    crop = _crop(sketch, window)
                    if src.instances:
                        crop = relabel_sequential(crop)
                    files[f"{split}/{sketch_dir}{suffix}/{name}"] = crop
            for rel, array in files.items():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                write_image(work / rel, array)
            rows.append(
                {
                    "file": f"{split}/{name}",
                    "split": split,
                    "sequence": src.sequences[unit[0]],
                    "frame": str(src.names[unit[0]]),
                    "frame_t1": str(src.names[unit[1]]) if temporal else "",
                    "row": window[0],
                    "col": window[1],
                    "height": window[2],
                    "width": window[3],
                }
            )
    return rows, count


def write_ctc(src: Source, work: Path) -> dict[str, Any]:
    """One CTC sequence per input sequence: ``NN/tTTT.tif``, ``NN_GT/SEG/man_segTTT.tif``,
    ``NN_GT/TRA/man_trackTTT.tif`` and ``NN_GT/TRA/man_track.txt``."""
    from celltool.ctc import Tracker, instances_from_mask

    from_masks = src.labels is None
    labels = matching_files(src.labels or src.sketch, src.names)
    order: dict[str, list[int]] = {}
    for i, seq in enumerate(src.sequences):
        order.setdefault(seq, []).append(i)
    facts: dict[str, Any] = {"sequences": {}}
    for k, (seq, members) in enumerate(order.items(), start=1):
        nn = f"{k:02d}"
        digits = 3 if len(members) <= 1000 else 4
        tracker = Tracker()
        for d in (nn, f"{nn}_GT/SEG", f"{nn}_GT/TRA"):
            (work / d).mkdir(parents=True)
        for t, i in enumerate(track(members, len(members), f"ctc {nn}")):
            image, lab = _read_pair(src.images / src.names[i], labels[i])
            if from_masks:
                lab = instances_from_mask(lab > 127)
            elif lab.dtype.kind not in "iu":
                raise CelltoolError(f"is not a label map ({lab.dtype})", labels[i])
            tt = f"{t:0{digits}d}"
            write_image(work / nn / f"t{tt}.tif", image)
            write_labels(work / f"{nn}_GT/SEG/man_seg{tt}.tif", lab)
            write_labels(work / f"{nn}_GT/TRA/man_track{tt}.tif", tracker.add(lab))
        atomic_write_bytes(work / f"{nn}_GT/TRA/man_track.txt", tracker.table().encode())
        facts["sequences"][nn] = {
            "source": seq,
            "frames": len(members),
            "tracks": len(tracker.tracks),
        }
    facts["labels"] = "connected components of the masks (> 127)" if from_masks else str(src.labels)
    return facts


def split(
    source: str | Path,
    out: str | Path | None = None,
    *,
    masks: str | Path | None = None,
    method: str = "crops",
    params: dict[str, Any] | None = None,
    by: str = "frame",
    ratios: tuple[float, ...] = (0.8, 0.1, 0.1),
    layout: str = "side-by-side",
    pairs: str = "single",
    fmt: str = "pairs",
    sketch_part: str = "gray",
    sequence_pattern: str | None = None,
    seed: int = 0,
    overwrite: bool = False,
    labels: str = "binary",
) -> Path:
    """Build a ``pairs`` folder (or a CTC export, ``fmt="ctc"``) from ``source`` into ``out``
    (default ``SOURCE-split``/``SOURCE-ctc``); return ``out``. See docs/sketch-split.md.

    ``labels="instances"`` (a simulation or segmentation source, ``layout="folders"``): the
    pairs hold the cell instance maps (``<split>/labels/``, uint16, ids 1..N per crop) instead
    of their binary masks (``<split>/sketch/``), for segmenters that learn (``unet-seg``)."""
    source = Path(source)
    masks = Path(masks) if masks is not None else None
    if fmt not in ("pairs", "ctc"):
        raise UsageError(f"--format {fmt!r}: choose pairs or ctc")
    if layout not in LAYOUTS:
        raise UsageError(f"--layout {layout!r}: choose {' or '.join(LAYOUTS)}")
    if pairs not in ("single", "temporal"):
        raise UsageError(f"--pairs {pairs!r}: choose single or temporal")
    if sketch_part not in ("gray", "index"):
        raise UsageError(f"--sketch {sketch_part!r}: choose gray or index")
    if labels not in ("binary", "instances"):
        raise UsageError(f"--labels {labels!r}: choose binary or instances")
    parse_ratios(",".join(map(str, ratios)))  # the same checks for Python callers
    temporal = pairs == "temporal"
    if temporal and by == "frame":
        raise UsageError("--pairs temporal needs --by time or --by sequence (whole runs of frames)")
    if temporal:
        layout = "folders"
    component = get_component("splitters", method)
    params = component.resolve(params)
    src = find_source(source, masks, sketch_part, sequence_pattern)
    if labels == "instances":
        if not src.binary or fmt != "pairs" or layout != "folders":
            raise UsageError(
                "--labels instances needs a simulation or segmentation folder, --layout folders "
                "and --format pairs"
            )
        src.binary, src.instances = False, True
    out = Path(out) if out else default_output(source, "split" if fmt == "pairs" else "ctc")
    inputs = [source] + ([masks] if masks is not None else [])
    reads = [*inputs, *existing([src.images, src.sketch, src.labels])]  # parts may lie elsewhere
    folder = OutputFolder(out, inputs=reads, overwrite=overwrite)
    with folder as work:
        sample = read_image(src.images / src.names[0])
        facts: dict[str, Any] = {
            "bit_depth": int(sample.dtype.itemsize * 8),
            "dtype": str(sample.dtype),
            "classes": src.classes,
            "images": str(src.images.resolve()),
            "sketch": None if src.sketch is None else str(src.sketch.resolve()),
            "n_frames": len(src.names),
            "n_sequences": len(set(src.sequences)),
        }
        if fmt == "ctc":
            facts.update(layout="ctc", **write_ctc(src, work))
        else:
            splits = assign_splits(src.sequences, ratios, by, np.random.default_rng(seed))
            rows, count = write_pairs(
                src,
                work,
                component=component,
                params=params,
                splits=splits,
                layout=layout,
                temporal=temporal,
                seed=seed,
            )
            for split in count:
                (work / split).mkdir(exist_ok=True)
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["file"])
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_bytes(work / TABLE, buffer.getvalue().encode())
            frames = {s: sum(1 for x in splits if x == s) for s in count}
            for split in count:
                if not count[split] and ratios[SPLITS.index(split)] > 0:
                    warn(f"split '{split}' is empty ({len(src.names)} frames)")
            facts.update(
                layout=layout,
                labels="instances (<split>/labels/, uint16)" if src.instances else None,
                pairs=pairs,
                parts=(["image_t", "sketch_t", "image_t1", "sketch_t1"] if temporal else None)
                if layout == "folders"
                else None,
                side_by_side="left = image, right = sketch" if layout == "side-by-side" else None,
                # 8-bit sketches (gray codes, class indices, binary masks) beside 16-bit images
                sketch_scaled_by_257=layout == "side-by-side" and sample.dtype == np.uint16,
                table=TABLE,
                by=by,
                ratios=list(ratios),
                frames_per_split=frames,
                samples_per_split=count,
            )
            info(f"split: {frames} frames -> {count} samples")
        folder.manifest = make_manifest(
            "pairs",
            step="split",
            params={
                **params,
                "by": by,
                "ratios": list(ratios),
                "layout": layout,
                "pairs": pairs,
                "format": fmt,
                "sketch": sketch_part,
                "sequence_pattern": sequence_pattern,
                "labels": labels,
            },
            seed=seed,
            plugin=component,
            inputs=inputs,
            facts=facts,
        )
    return out
