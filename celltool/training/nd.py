"""Seeded augmentation of 2D images and 3D volumes, the same for several aligned arrays.

Arrays are (C, *spatial): (C, Y, X) or (C, Z, Y, X). One call draws ONE random crop (a size
per spatial axis), flips in Y and X and a multiple of 90° rotation in the YX plane (only when
the crop is square in YX, so every result has the crop's shape) and applies them to every
array — an image and its label map stay aligned. All operations move whole voxels (no
resampling), so label maps keep their values exactly (nearest neighbour by construction).

A volume smaller than the crop along an axis is refused (one line naming the file) rather
than padded: padding would teach the networks reflected or constant borders that real data
never has. A crop equal to the volume is fine (cell_data_synthesis needed it strictly larger).

:data:`ND_DATA_PARAMS` are the data options of N-D models (include them in Component.params).
This module imports numpy only inside its functions: a plugin's registration may import it.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from celltool.components import Param
from celltool.errors import CelltoolError

if TYPE_CHECKING:
    import numpy as np


def crop_axes(crop: int | str | Sequence[int], dims: int) -> tuple[int, ...]:
    """A crop size for ``dims`` spatial axes: one number = every axis; (Y, X) or (Z, Y, X)
    as given; a (Z, Y, X) crop on 2D images uses its (Y, X). Strings like ``"32,256,256"``
    (or ``"[32, 256, 256]"`` as a config file stores them) are parsed."""
    if isinstance(crop, str):
        sizes = parse_sizes(crop)
    elif isinstance(crop, numbers.Integral):
        sizes = (int(crop),)
    else:
        sizes = tuple(int(c) for c in crop)
    if len(sizes) == 1:
        sizes = sizes * dims
    elif len(sizes) == 3 and dims == 2:
        sizes = sizes[1:]
    if len(sizes) != dims:
        raise ValueError(f"crop size {sizes} does not fit {dims}D data (give 1 or {dims} sizes)")
    if min(sizes) < 1:
        raise ValueError(f"crop size {sizes} must be positive")
    return sizes


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"32,256,256"``, ``"32x256x256"``, ``"[32, 256, 256]"`` or ``"256"`` → a tuple of ints
    (each 1..65536; bounds of ``--crop-size`` and ``--tile``)."""
    cleaned = text.strip().strip("[]()").lower().replace("x", ",")
    try:
        sizes = tuple(int(p) for p in cleaned.split(",") if p.strip())
    except ValueError:
        raise ValueError(f"{text!r}: expected sizes like 32,256,256 or one number") from None
    if not 1 <= len(sizes) <= 3 or not all(1 <= s <= 65536 for s in sizes):
        raise ValueError(f"{text!r}: expected 1 to 3 sizes, each 1..65536")
    return sizes


ND_DATA_PARAMS: tuple[Param, ...] = (
    Param(
        "crop_size",
        (32, 256, 256),
        "Training crop Z,Y,X in voxels (Y,X for images; one number = every axis; a Z,Y,X crop "
        "on 2D images uses its Y,X); also the default generate tile.",
        parse=parse_sizes,
        min=1,
        max=8192,
    ),
    Param("flip", True, "Random flips in Y and X."),
    Param("rotate", True, "Random 90° rotations in the YX plane (square YX crops only)."),
    Param(
        "normalize",
        "bit_depth",
        "Intensities to [-1, 1]: bit_depth = 0..2^bits-1 of the recorded bit depth (the "
        "original's x/127.5-1 for 8 bits); percentile = each data set's 0.1-99.9 % range "
        "(for data that uses a small part of its dtype, e.g. 16-bit stacks).",
        choices=("bit_depth", "percentile"),
    ),
)


def check_fits(shape: Sequence[int], crop: Sequence[int], path: str | Path | None = None) -> None:
    """Refuse a volume smaller than the crop along any axis (one line naming the file)."""
    if any(s < c for s, c in zip(shape, crop, strict=True)):
        have = "×".join(map(str, shape))
        want = "×".join(map(str, crop))
        raise CelltoolError(
            f"{'volume' if len(shape) == 3 else 'image'} {have} is smaller than the crop "
            f"{want}; lower --crop-size",
            path,
        )


def random_crop_box(
    shape: Sequence[int], crop: Sequence[int], rng: np.random.Generator
) -> tuple[slice, ...]:
    """Slices of one random crop (uniform origin, crop ≤ shape on every axis)."""
    box = []
    for size, c in zip(shape, crop, strict=True):
        start = int(rng.integers(0, size - c + 1))
        box.append(slice(start, start + c))
    return tuple(box)


def center_box(shape: Sequence[int], crop: Sequence[int]) -> tuple[slice, ...]:
    """Slices of the centred crop (the whole axis where the crop is larger)."""
    box = []
    for size, c in zip(shape, crop, strict=True):
        c = min(c, size)
        start = (size - c) // 2
        box.append(slice(start, start + c))
    return tuple(box)


def augment_nd(
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    *,
    crop: Sequence[int] | None,
    flip: bool = True,
    rotate: bool = True,
    path: str | Path | None = None,
) -> list[np.ndarray]:
    """ONE random crop, Y/X flips and YX rotation applied to every (C, *spatial) array.

    Draws, in order: the crop origin per axis; a Y flip and an X flip (p = 0.5 each, when
    ``flip``); the number of quarter turns k ∈ {0, 1, 2, 3} (when ``rotate`` and the crop is
    square in YX). ``crop`` None keeps the whole extent. ``path`` names the file in errors.
    """
    shape = arrays[0].shape[1:]
    for a in arrays[1:]:
        if a.shape[1:] != shape:
            raise ValueError(f"arrays are not aligned: {a.shape[1:]} vs {shape}")
    crop = tuple(shape) if crop is None else tuple(crop)
    check_fits(shape, crop, path)
    import numpy as np

    box = (slice(None),) + random_crop_box(shape, crop, rng)
    out = [a[box] for a in arrays]
    y_axis, x_axis = out[0].ndim - 2, out[0].ndim - 1
    if flip:
        if rng.random() < 0.5:
            out = [np.flip(a, y_axis) for a in out]
        if rng.random() < 0.5:
            out = [np.flip(a, x_axis) for a in out]
    if rotate and crop[-1] == crop[-2]:
        k = int(rng.integers(0, 4))
        if k:
            out = [np.rot90(a, k, axes=(y_axis, x_axis)) for a in out]
    return [np.ascontiguousarray(a) for a in out]


def center_crop_nd(array: np.ndarray, crop: Sequence[int]) -> np.ndarray:
    """The centred crop of a (C, *spatial) array (no augmentation; sample grids)."""
    import numpy as np

    return np.ascontiguousarray(array[(slice(None),) + center_box(array.shape[1:], crop)])
