"""unet-seg's training data: images and instance label maps from a ``pairs`` folder.

Accepted layouts (``celltool split``):

- ``folders`` with ``<split>/image/`` and ``<split>/labels/`` (``--labels instances``: uint16
  instance maps);
- ``folders`` with ``<split>/sketch/`` or ``side-by-side`` ``[image | mask]``: binary masks
  (foreground > 127), instances = 8-connected components (touching cells stay merged; a 16-bit
  sketch is taken as instance ids).

Items are addressed by ``(epoch, index)``; crops, flips/rotations (the 8 symmetries of the
square, exact for label maps) and the intensity jitter draw from
``numpy.random.default_rng([seed, epoch, index])``. Images are scaled per image to their
1st–99.8th percentiles (robust to the different brightness of real and generated images).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import list_images, read_image
from celltool.labels import instances_of_mask
from celltool.manifest import read_manifest
from celltool.training.data import bit_depth_from, pair_files, split_side_by_side

PERCENTILES = (1.0, 99.8)


def normalise(image: np.ndarray) -> np.ndarray:
    """float32 image scaled so that its 1st/99.8th percentiles become 0/1 (gray: colour
    channels are averaged)."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = image[..., :3].mean(-1)
    low, high = np.percentile(image, PERCENTILES)
    return ((image - low) / max(float(high - low), 1e-6)).astype(np.float32)


def label_pairs(folder: Path, split: str) -> list[tuple[Path, Path | None, bool]]:
    """``(image file, label file, labels are binary)`` of a split; a side-by-side file holds
    both (label file None)."""
    folder = Path(folder)
    facts = (read_manifest(folder) or {}).get("facts", {})
    base = folder / split
    if not base.is_dir():
        raise CelltoolError(f"has no '{split}' split", folder)
    if facts.get("layout") == "folders" and (base / "labels").is_dir():
        images = {p.stem: p for p in list_images(base / "image")}
        labels = {p.stem: p for p in list_images(base / "labels")}
        if set(images) != set(labels):
            raise CelltoolError(
                f"image and labels files do not match: {sorted(set(images) ^ set(labels))[:3]}",
                base,
            )
        return [(images[s], labels[s], False) for s in images]
    layout, items = pair_files(folder, split)
    if layout == "folders":
        return [(image, sketch, True) for image, sketch in items]
    return [(path, None, True) for path in items]


def read_item(image_path: Path, label_path: Path | None, binary: bool):
    """(normalised image, instance labels) of one pair."""
    if label_path is None:
        image, labels = split_side_by_side(read_image(image_path), image_path)
    else:
        image, labels = read_image(image_path), read_image(label_path)
    if labels.ndim == 3:  # a gray sketch stored as RGB
        labels = labels[..., 0]
    if labels.shape != image.shape[:2]:
        raise CelltoolError(
            f"labels {labels.shape} differ from the image {image.shape}", image_path
        )
    if binary and labels.dtype == np.uint8:
        labels = instances_of_mask(labels)
    return normalise(image), np.asarray(labels, np.int32)


def symmetry(arrays: list[np.ndarray], k: int) -> list[np.ndarray]:
    """One of the 8 symmetries of the square (k in 0..7) on the last two axes of each array."""
    out = []
    for a in arrays:
        if k & 4:
            a = np.swapaxes(a, -1, -2)
        if k & 2:
            a = a[..., ::-1, :]
        if k & 1:
            a = a[..., ::-1]
        out.append(np.ascontiguousarray(a))
    return out


class LabelPairsDataset:
    """``{"input": 1×H×W float, "target": H×W long | 2×H×W float, "name"}`` items of one split."""

    def __init__(self, folder: Path, split: str, config: Mapping[str, Any], train: bool) -> None:
        from celltool_unetseg.targets import make_target

        self.folder, self.train = Path(folder), train
        self.items = label_pairs(self.folder, split)
        if not self.items:
            raise CelltoolError(f"split '{split}' holds no pairs", self.folder)
        self.mode = str(config.get("targets", "boundary"))
        self.crop = int(config.get("crop_size", 128))
        self.repeats = int(config.get("crops_per_image", 1))
        self.jitter = float(config.get("intensity_aug", 0.0))
        self.seed = int(config.get("seed", 0))
        self._make_target = make_target
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        sample = read_image(self.items[0][0])
        self.bit_depth = bit_depth_from(read_manifest(self.folder), sample)

    @property
    def info(self) -> dict[str, Any]:
        return {
            "in_channels": 1,
            "out_channels": 3 if self.mode == "boundary" else 2,
            "bit_depth": self.bit_depth,
            "size": [self.crop, self.crop],
            "n_train": len(self.items),
            "targets": self.mode,
        }

    def __len__(self) -> int:
        return len(self.items) * (self.repeats if self.train else 1)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in self._cache:
            image, labels = read_item(*self.items[i])
            self._cache[i] = (image, self._make_target(labels, self.mode))
        return self._cache[i]

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        import torch

        epoch, index = key if isinstance(key, tuple) else (0, key)
        i = index % len(self.items)
        image, target = self._load(i)
        h, w = image.shape
        c = min(self.crop, h, w)
        if self.train:
            rng = np.random.default_rng([self.seed, epoch, index])
            y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
        else:
            rng, y, x = None, (h - c) // 2, (w - c) // 2
        image = image[y : y + c, x : x + c]
        target = target[..., y : y + c, x : x + c]
        if rng is not None:
            image, target = symmetry([image, target], int(rng.integers(0, 8)))
            if self.jitter > 0:
                gain = 1 + rng.uniform(-self.jitter, self.jitter)
                image = image * gain + rng.uniform(-self.jitter, self.jitter)
        if c < self.crop:  # images smaller than the crop: padded with background
            pad = [(0, self.crop - c)] * 2
            image = np.pad(image, pad)
            target = np.pad(target, [(0, 0)] * (target.ndim - 2) + pad)
        tensor = torch.from_numpy(np.ascontiguousarray(target))
        return {
            "input": torch.from_numpy(np.ascontiguousarray(image, np.float32))[None],
            "target": tensor.long() if self.mode == "boundary" else tensor.float(),
            "name": self.items[i][0].stem,
        }
