"""What a benchmark scores against: images and their reference instance label maps.

DATA may be

- a ``simulation`` (its ``images`` and the ``--target`` label part, cells by default);
- a ``segmentation`` (a curated one: its source images and label part);
- a ``pairs`` folder in the ``folders`` layout (its ``--split``: ``image/`` with ``labels/``,
  instance maps from ``celltool split --labels instances``, or ``sketch/``, binary masks);
- any images folder (real images, a generated set) with ``--labels MASKS``.

Reference labels are instance maps (uint16 ids, 0 = background) when they come from celltool
(a ``labels`` manifest) or are 16/32-bit files; 8-bit files without a manifest are binary masks:
foreground ``> 127`` (``> 0`` for 0/1 masks), instances = 8-connected components, written to
``OUT/reference/`` (``--label-mode`` overrides the guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from celltool.console import info, warn
from celltool.errors import CelltoolError, UsageError
from celltool.imageio import list_images, read_image, write_labels
from celltool.labels import instances_of_mask
from celltool.manifest import part, read_manifest, require_kind

ACCEPTED = ("images", "generated", "simulation", "segmentation", "pairs")
LABEL_MODES = ("auto", "instances", "binary")


@dataclass
class Data:
    """The items a benchmark scores: image files and their reference label files, by stem."""

    images: Path  # the folder the segmenters run on
    image_files: list[Path]
    label_files: list[Path]
    binary: bool  # reference labels are binary masks (converted to instances)

    @property
    def stems(self) -> list[str]:
        return [p.stem for p in self.image_files]


def _label_folder(data: Path, kind: str, target: str, split: str) -> tuple[Path, Path]:
    """(images, labels) folders of a container DATA without ``--labels``."""
    if kind in ("simulation", "segmentation"):
        try:
            return part(data, "images"), part(data, target)
        except CelltoolError as exc:
            raise UsageError(f"--target {target!r}: {exc}") from None
    if kind == "pairs":
        facts = (read_manifest(data) or {}).get("facts", {})
        base = data / split
        if facts.get("layout") != "folders" or not (base / "image").is_dir():
            raise CelltoolError(
                f"benchmark reads pairs in the folders layout (<split>/image/ with labels/ or "
                f"sketch/); make them with `celltool split --layout folders`; no {split}/image/ "
                "(--split)",
                data,
            )
        labels = base / "labels" if (base / "labels").is_dir() else base / "sketch"
        return base / "image", labels
    raise UsageError(
        f"{data}: a '{kind}' folder carries no labels; give --labels MASKS (a folder of label "
        "maps or binary masks with the images' file stems)"
    )


def is_binary(labels: Path, sample: np.ndarray, mode: str) -> bool:
    """Whether reference files are binary masks (see the module docstring)."""
    if mode not in LABEL_MODES:
        raise UsageError(f"--label-mode {mode!r}: one of {', '.join(LABEL_MODES)}")
    if mode != "auto":
        return mode == "binary"
    manifest = read_manifest(labels)
    if manifest is not None and manifest.get("kind") == "labels":
        return False
    return sample.dtype in (np.uint8, np.bool_)


def find_data(
    data: str | Path,
    labels: str | Path | None = None,
    *,
    target: str = "cells",
    split: str = "test",
    label_mode: str = "auto",
) -> Data:
    """Images of DATA and their reference label files, paired by stem (images without a
    reference are left out with a warning; none at all is an error)."""
    data = Path(data)
    manifest = require_kind(data, ACCEPTED) or {"kind": "images"}
    if labels is not None:
        images, label_dir = part(data, "images"), Path(labels)
        require_kind(label_dir, ("images", "labels"))
    else:
        images, label_dir = _label_folder(data, manifest["kind"], target, split)
    image_files = list_images(images)
    by_stem = {p.stem: p for p in list_images(label_dir)}
    kept = [p for p in image_files if p.stem in by_stem]
    if not kept:
        raise CelltoolError(f"no reference label map shares a file stem with {images}", label_dir)
    if len(kept) < len(image_files):
        warn(f"benchmark: {len(image_files) - len(kept)} image(s) without a reference left out")
    label_files = [by_stem[p.stem] for p in kept]
    binary = is_binary(label_dir, read_image(label_files[0]), label_mode)
    if binary and label_mode == "auto":
        info(
            f"benchmark: {label_dir.name}: 8-bit masks read as binary (> 127), instances = "
            "connected components (--label-mode instances if they hold instance ids)"
        )
    return Data(images, kept, label_files, binary)


def write_reference(data: Data, folder: Path) -> list[Path]:
    """The reference instance maps of binary masks, written to ``folder`` (uint16 by stem)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in data.label_files:
        labels = instances_of_mask(read_image(path))
        if labels.max() > np.iinfo(np.uint16).max:
            raise CelltoolError("more than 65535 objects in one mask", path)
        suffix = ".tif" if labels.ndim == 3 else ".png"
        out.append(write_labels(folder / f"{path.stem}{suffix}", labels))
    return out
