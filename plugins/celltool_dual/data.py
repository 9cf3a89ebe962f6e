"""Chains of consecutive frames from a temporal ``pairs`` folder (``split --pairs temporal``).

A temporal pairs folder holds ``<split>/{image_t,sketch_t,image_t1,sketch_t1}/NAME`` and a crop
table ``crops.csv`` (file, split, sequence, frame, frame_t1, row, col, height, width). Pair B
continues pair A when both are in the same sequence and crop window and A's ``frame_t1`` is B's
``frame``; following these links gives chains of consecutive frames (whole frames with
``--method frames``). Training items are windows of ``length`` consecutive frames of a chain;
without a crop table (or with random crops per pair) every chain is one pair (length 2).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import list_images, read_image
from celltool.manifest import read_manifest
from celltool.training.data import (
    augment,
    bit_depth_from,
    center_crop,
    channels_first,
    channels_of,
    to_unit,
)

PARTS = ("image_t", "sketch_t", "image_t1", "sketch_t1")


def pair_names(folder: Path, split: str) -> list[str]:
    """File names of the temporal pairs of ``split`` (errors name the folder)."""
    base = Path(folder) / split
    manifest = read_manifest(folder) or {}
    if manifest.get("kind") != "pairs" or manifest.get("facts", {}).get("pairs") != "temporal":
        raise CelltoolError(
            "is not a temporal pairs folder (make it with `celltool split --pairs temporal`)",
            folder,
        )
    if not base.is_dir():
        raise CelltoolError(f"has no '{split}' split", folder)
    names = [p.name for p in list_images(base / "image_t")]
    for part in PARTS[1:]:
        other = {p.name for p in list_images(base / part)}
        if other != set(names):
            raise CelltoolError(f"'{part}' does not hold the same files as 'image_t'", base)
    return names


def chains(folder: Path, split: str, names: list[str]) -> list[list[tuple[str, int]]]:
    """Chains of consecutive frames: lists of (pair name, 0 = the pair's t / 1 = its t+1)."""
    table = Path(folder) / "crops.csv"
    rows: dict[str, dict[str, str]] = {}
    if table.is_file():
        with table.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("split") == split:
                    rows[Path(row["file"]).name] = row
    if set(rows) != set(names):
        return [[(n, 0), (n, 1)] for n in names]

    def window(r: dict[str, str]) -> tuple[str, ...]:
        return (r["sequence"], r["row"], r["col"], r["height"], r["width"])

    by_start = {(window(r), r["frame"]): n for n, r in rows.items()}
    has_prev = {by_start.get((window(r), r["frame_t1"])) for r in rows.values()} - {None}
    out = []
    for name in names:
        if name in has_prev:
            continue
        chain = [(name, 0), (name, 1)]
        seen = {name}
        nxt = by_start.get((window(rows[name]), rows[name]["frame_t1"]))
        while nxt is not None and nxt not in seen:
            seen.add(nxt)
            chain.append((nxt, 1))
            nxt = by_start.get((window(rows[nxt]), rows[nxt]["frame_t1"]))
        out.append(chain)
    return out


class SequenceDataset:
    """Windows of ``length`` consecutive frames as ``{"images": (L, C, H, W), "sketches":
    (L, Cs, H, W), "name"}`` in [-1, 1]; keys ``(epoch, index)`` seed the augmentation (one
    crop/flip for the whole window)."""

    def __init__(
        self, folder: Path, split: str, config: Mapping[str, Any], *, train: bool = True
    ) -> None:
        self.folder = Path(folder)
        self.base = self.folder / split
        names = pair_names(self.folder, split)
        if not names:
            raise CelltoolError(f"split '{split}' holds no pairs", self.folder)
        self.chains = chains(self.folder, split, names)
        longest = max(len(c) for c in self.chains)
        wanted = int(config.get("rollout", 1)) + 1 if config.get("variant", "dual") == "dual" else 2
        self.length = max(2, min(wanted, longest))
        self.windows = [
            (ci, start)
            for ci, chain in enumerate(self.chains)
            for start in range(len(chain) - self.length + 1)
        ]
        self.train = train
        self.seed = int(config.get("seed", 0))
        self.crop = int(config.get("crop_size", 256))
        self.load = int(config.get("load_size", 0)) or round(self.crop * 286 / 256)
        self.mode = config.get("preprocess", "resize_and_crop")
        self.flip = bool(config.get("flip", True))
        self.cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] | None = (
            {} if config.get("cache") else None
        )
        image, sketch = self._read(self.chains[0][0])
        self.bit_depth = bit_depth_from(read_manifest(self.folder), image)
        self.sketch_bit_depth = 8 if sketch.dtype == np.uint8 else self.bit_depth
        self.image_channels = channels_of(image)
        self.sketch_channels = channels_of(sketch)
        self.size = image.shape[:2]

    @cached_property
    def info(self) -> dict[str, Any]:
        return {
            "in_channels": self.sketch_channels,
            "out_channels": self.image_channels,
            "bit_depth": self.bit_depth,
            "in_bit_depth": self.sketch_bit_depth,
            "size": list(self.size),
            "n_train": len(self.windows),
            "window": self.length,
            "chains": len(self.chains),
            "motion_model": self.fit_motion(),
        }

    def fit_motion(self, limit: int = 400) -> dict[str, float] | None:
        """The stochastic motion model (``celltool_dual.motion``) fitted to the longest chain
        (at most ``limit`` frames), or None when the sketches are not binary masks."""
        from celltool_dual.motion import fit_motion

        chain = max(self.chains, key=len)[:limit]
        if len(chain) < 3 or self.image_channels != 1 or self.sketch_channels != 1:
            return None
        images, masks = [], []
        for frame in chain:
            image, sketch = self._read(frame)
            if len(np.unique(sketch)) > 2:
                return None
            images.append(image)
            masks.append(sketch > sketch.min())
        return fit_motion(images, masks, data_range=2.0**self.bit_depth - 1).as_dict()

    def __len__(self) -> int:
        return len(self.windows)

    def _read(self, frame: tuple[str, int]) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is not None and frame in self.cache:
            return self.cache[frame]
        name, which = frame
        suffix = "_t1" if which else "_t"
        pair = (
            read_image(self.base / f"image{suffix}" / name),
            read_image(self.base / f"sketch{suffix}" / name),
        )
        if self.cache is not None:
            self.cache[frame] = pair
        return pair

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        import torch

        epoch, index = key if isinstance(key, tuple) else (0, key)
        ci, start = self.windows[index]
        frames = self.chains[ci][start : start + self.length]
        arrays = []
        for frame in frames:
            image, sketch = self._read(frame)
            arrays.append(to_unit(channels_first(image, self.image_channels), self.bit_depth))
            arrays.append(
                to_unit(channels_first(sketch, self.sketch_channels), self.sketch_bit_depth)
            )
        if self.train:
            rng = np.random.default_rng([self.seed, epoch, index])
            arrays = augment(
                arrays,
                rng,
                crop=self.crop,
                load=self.load,
                mode=self.mode,
                flip=self.flip,
                nearest=[False, True] * len(frames),
            )
        else:
            arrays = [center_crop(a, self.crop) for a in arrays]
        return {
            "images": torch.from_numpy(np.stack(arrays[0::2])),
            "sketches": torch.from_numpy(np.stack(arrays[1::2])),
            "name": f"{frames[0][0]}",
        }
