"""Training data of segmenters that learn (unet-seg, cellpose): images and instance label maps
from a ``pairs`` folder, seeded crops and symmetries, a per-model target.

Accepted layouts (``celltool split``):

- ``folders`` with ``<split>/image/`` and ``<split>/labels/`` (``--labels instances``: uint16
  instance maps);
- ``folders`` with ``<split>/sketch/`` or ``side-by-side`` ``[image | mask]``: 8-bit binary masks
  (foreground > 127), instances = 8-connected components (touching cells stay merged; a
  16-bit sketch is taken as instance ids).

Items are addressed by ``(epoch, index)``; the crop, one of the 8 symmetries of the square (exact
for label maps; vector channels such as flows are turned with the image) and the intensity
jitter draw from ``numpy.random.default_rng([seed, epoch, index])``. Images are scaled per image
to two percentiles (robust to the brightness of real against generated images).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import list_images, read_image
from celltool.labels import instances_of_mask
from celltool.manifest import read_manifest
from celltool.training.data import bit_depth_from, pair_files, split_side_by_side


def normalise(image: np.ndarray, percentiles: Sequence[float] = (1.0, 99.8)) -> np.ndarray:
    """float32 image scaled so that its two percentiles become 0 and 1 (colour channels are
    averaged to gray)."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = image[..., :3].mean(-1)
    low, high = np.percentile(image, percentiles)
    return ((image - low) / max(float(high - low), 1e-6)).astype(np.float32)


def label_pairs(folder: Path, split: str) -> list[tuple[Path, Path | None, bool]]:
    """``(image file, label file, labels are binary masks)`` of a split; a side-by-side file
    holds both (label file None)."""
    folder = Path(folder)
    facts = (read_manifest(folder) or {}).get("facts", {})
    base = folder / split
    if not base.is_dir():
        raise CelltoolError(f"has no '{split}' split", folder)
    if facts.get("layout") == "folders" and (base / "labels").is_dir():
        images = {p.stem: p for p in list_images(base / "image")}
        labels = {p.stem: p for p in list_images(base / "labels")}
        if set(images) != set(labels):
            odd = sorted(set(images) ^ set(labels))[:3]
            raise CelltoolError(f"image and labels files do not match: {odd}", base)
        return [(images[s], labels[s], False) for s in images]
    layout, items = pair_files(folder, split)
    if layout == "folders":
        return [(image, sketch, True) for image, sketch in items]
    return [(path, None, True) for path in items]


def read_item(image_path: Path, label_path: Path | None, binary: bool):
    """(image as stored, instance labels int32) of one pair."""
    if label_path is None:
        image, labels = split_side_by_side(read_image(image_path), image_path)
    else:
        image, labels = read_image(image_path), read_image(label_path)
    if labels.ndim == 3:  # a gray sketch stored as RGB
        labels = labels[..., 0]
    if labels.shape != image.shape[:2]:
        raise CelltoolError(f"labels {labels.shape} differ from image {image.shape}", image_path)
    if binary and labels.dtype == np.uint8:
        labels = instances_of_mask(labels)
    return image, np.asarray(labels, np.int32)


def symmetry(
    arrays: list[np.ndarray], k: int, vectors: Sequence[tuple[int, int] | None] = ()
) -> list[np.ndarray]:
    """One of the 8 symmetries of the square (k in 0..7) on the last two axes of each array.
    ``vectors[i] = (cy, cx)``: channels of array i holding a vector field's (y, x) components,
    which are turned with the image (swapped by a transpose, negated by a flip)."""
    out = []
    for i, a in enumerate(arrays):
        vec = vectors[i] if i < len(vectors) else None
        a = np.array(a, copy=True) if vec else a
        if k & 4:
            a = np.swapaxes(a, -1, -2)
            if vec:
                a[[vec[0], vec[1]]] = a[[vec[1], vec[0]]]
        if k & 2:
            a = a[..., ::-1, :]
            if vec:
                a[vec[0]] = -a[vec[0]]
        if k & 1:
            a = a[..., ::-1]
            if vec:
                a[vec[1]] = -a[vec[1]]
        out.append(np.ascontiguousarray(a))
    return out


class LabelledDataset:
    """Items ``{"input": 1×H×W float32, "target": the model's target, "name"}`` of one split.

    ``make_target(labels) -> array (..., H, W)``, computed once per item and cached;
    ``vector``: the target's (y, x) vector channels, if any. Config keys: ``crop_size``,
    ``crops_per_image`` (items per image and epoch), ``intensity_aug`` (gain 1±a, offset ±a),
    ``seed``."""

    def __init__(
        self,
        folder: Path,
        split: str,
        config: Mapping[str, Any],
        train: bool,
        make_target: Callable[[np.ndarray], np.ndarray],
        *,
        percentiles: Sequence[float] = (1.0, 99.8),
        vector: tuple[int, int] | None = None,
    ) -> None:
        self.folder, self.train = Path(folder), train
        self.items = label_pairs(self.folder, split)
        if not self.items:
            raise CelltoolError(f"split '{split}' holds no pairs", self.folder)
        self.crop = int(config.get("crop_size", 128))
        self.repeats = int(config.get("crops_per_image", 1))
        self.jitter = float(config.get("intensity_aug", 0.0))
        self.seed = int(config.get("seed", 0))
        self.make_target, self.percentiles, self.vector = make_target, percentiles, vector
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.bit_depth = bit_depth_from(read_manifest(self.folder), read_image(self.items[0][0]))

    def __len__(self) -> int:
        return len(self.items) * (self.repeats if self.train else 1)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(normalised image, instance labels, target) of item ``i`` (cached)."""
        if i not in self._cache:
            image, labels = read_item(*self.items[i])
            self._cache[i] = (normalise(image, self.percentiles), labels, self.make_target(labels))
        return self._cache[i]

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        import torch

        epoch, index = key if isinstance(key, tuple) else (0, key)
        i = index % len(self.items)
        image, _, target = self.load(i)
        h, w = image.shape
        c = min(self.crop, h, w)
        rng = np.random.default_rng([self.seed, epoch, index]) if self.train else None
        y, x = (h - c) // 2, (w - c) // 2
        if rng is not None:
            y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
        image, target = image[y : y + c, x : x + c], target[..., y : y + c, x : x + c]
        if rng is not None:
            k = int(rng.integers(0, 8))
            image, target = symmetry([image, target], k, [None, self.vector])
            if self.jitter > 0:
                gain = 1 + rng.uniform(-self.jitter, self.jitter)
                image = image * gain + rng.uniform(-self.jitter, self.jitter)
        if c < self.crop:  # images smaller than the crop: padded with background
            pad = [(0, self.crop - c)] * 2
            image = np.pad(image, pad)
            target = np.pad(target, [(0, 0)] * (target.ndim - 2) + pad)
        return {
            "input": torch.from_numpy(np.ascontiguousarray(image, np.float32))[None],
            "target": torch.from_numpy(np.ascontiguousarray(target)),
            "name": self.items[i][0].stem,
        }
