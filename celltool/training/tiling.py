"""Inference on images and volumes of any size: padding to the network's factor, overlapping
tiles and weighted blending (no seams). 2D (C, H, W) and 3D (C, Z, Y, X) inputs.

An input that fits in one tile is reflect-padded to a multiple of the network's size factor
(2^downsamplings, per axis) and processed in one pass. A larger one is covered by tiles of
``tile`` voxels per axis (a multiple of the factor) placed every ``tile - overlap`` voxels, the
last one flush with the border (origins are multiples of the factor when the overlap allows,
so tiles see the down-sampling grid of a full pass); each tile's output is weighted by a window
that is 1 in the middle and falls smoothly (raised cosine, or Gaussian) towards the tile edges
— in 3D the outer product of one window per axis — and the weighted sum is divided by the
summed weights. Tiles are run in batches.

``trim`` > 0 gives zero weight to the ``trim`` voxels next to every edge where a tile was cut
out of the input (edges on the input's border keep full weight) and blends over the rest of
the overlap (2·trim ≤ overlap). With ``trim`` at least the network's receptive-field radius the
tiled result equals a whole-input pass for networks without global operations (no instance
norm), up to float rounding; ``trim = overlap/2`` with ``blend="none"`` is the "half-cut"
stitching of cell_data_synthesis. ``trim = 0`` (default) is the plain blended tiling.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch

IntOrAxes = int | Sequence[int]


def starts(length: int, tile: int, stride: int) -> list[int]:
    """Tile origins covering ``[0, length)``; the last tile ends at ``length``."""
    if length <= tile:
        return [0]
    out = list(range(0, length - tile + 1, stride))
    if out[-1] != length - tile:
        out.append(length - tile)
    return out


def window(tile: int, overlap: int, blend: str) -> np.ndarray:
    """1D blending weights (min 1e-3, so borders of the image still count)."""
    x = np.arange(tile, dtype=np.float64) + 0.5
    if blend == "gaussian":
        sigma = tile / 4
        w = np.exp(-0.5 * ((x - tile / 2) / sigma) ** 2)
    elif blend == "cosine":
        w = np.ones(tile)
        ramp = max(1, overlap)
        edge = np.minimum(x, tile - x) / ramp
        inside = edge < 1
        w[inside] = 0.5 - 0.5 * np.cos(np.pi * edge[inside])
    elif blend == "none":
        w = np.ones(tile)
    else:
        raise ValueError(f"unknown blend {blend!r} (cosine, gaussian, none)")
    return np.maximum(w, 1e-3)


def cut_window(
    tile: int, overlap: int, blend: str, trim: int, cut_low: bool, cut_high: bool
) -> np.ndarray:
    """1D weights of a tile with ``trim`` > 0: zero on the ``trim`` voxels next to a cut edge,
    then a raised-cosine ramp over ``overlap - 2·trim`` voxels (``cosine``), a Gaussian
    (``gaussian``) or flat (``none``); edges on the input's border are not tapered."""
    x = np.arange(tile, dtype=np.float64) + 0.5
    if blend == "gaussian":
        w = np.maximum(np.exp(-0.5 * ((x - tile / 2) / (tile / 4)) ** 2), 1e-3)
    elif blend in ("cosine", "none"):
        w = np.ones(tile)
    else:
        raise ValueError(f"unknown blend {blend!r} (cosine, gaussian, none)")
    ramp = overlap - 2 * trim
    for cut, dist in ((cut_low, x), (cut_high, tile - x)):
        if not cut:
            continue
        w[dist < trim] = 0.0
        if blend == "cosine" and ramp > 0:
            rising = (dist >= trim) & (dist < trim + ramp)
            w[rising] *= 0.5 - 0.5 * np.cos(np.pi * (dist[rising] - trim) / ramp)
    return w


def pad_to(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Reflect-pad (C, H, W) at the bottom/right to at least height × width."""
    return pad_to_shape(image, (height, width))


def pad_to_shape(image: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Reflect-pad (C, *spatial) at the far end of every axis to at least ``shape``
    (replicate when a pad is as large as the axis)."""
    sizes = image.shape[1:]
    pads = [max(0, int(s) - n) for s, n in zip(shape, sizes, strict=True)]
    if not any(pads):
        return image
    mode = "reflect" if all(p < n for p, n in zip(pads, sizes, strict=True)) else "replicate"
    flat = [v for p in reversed(pads) for v in (0, p)]  # F.pad: last axis first
    return torch.nn.functional.pad(image[None], flat, mode=mode)[0]


def round_up(value: int, factor: int) -> int:
    return -(-value // factor) * factor


def per_axis(value: IntOrAxes, dims: int, name: str) -> tuple[int, ...]:
    """One int for every axis, or one per axis."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * dims
    out = tuple(int(v) for v in value)
    if len(out) != dims:
        raise ValueError(f"{name} {out} does not fit {dims} spatial axes")
    return out


@torch.no_grad()
def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    *,
    tile: IntOrAxes,
    overlap: IntOrAxes,
    factor: IntOrAxes = 1,
    blend: str = "cosine",
    batch_size: int = 4,
    trim: IntOrAxes = 0,
) -> torch.Tensor:
    """Apply ``fn`` (B×C×*tile → B×C'×*tile) to a (C, H, W) or (C, Z, Y, X) input of any
    size; return (C', *spatial) on the input's device (``fn`` may compute elsewhere, e.g. on
    the GPU: tiles are blended where the input lies). ``tile``, ``overlap``, ``factor`` and
    ``trim`` are one int or one per spatial axis."""
    spatial = tuple(image.shape[1:])
    dims = len(spatial)
    factors = per_axis(factor, dims, "factor")
    tiles = tuple(
        max(f, round_up(t, f)) for t, f in zip(per_axis(tile, dims, "tile"), factors, strict=True)
    )
    if all(s <= t for s, t in zip(spatial, tiles, strict=True)):
        full = [round_up(s, f) for s, f in zip(spatial, factors, strict=True)]
        padded = pad_to_shape(image, full)
        return fn(padded[None])[(0, slice(None), *(slice(0, s) for s in spatial))].to(image.device)
    overlaps = per_axis(overlap, dims, "overlap")
    trims = per_axis(trim, dims, "trim")
    for o, t, c in zip(overlaps, tiles, trims, strict=True):
        if not 0 <= o < t:
            raise ValueError(f"overlap {o} must lie in [0, tile {t})")
        if c < 0 or 2 * c > o:
            raise ValueError(f"trim {c} must lie in [0, overlap/2 = {o // 2}]")
    # tile origins on a grid of `align` voxels: the network's factor when the stride allows
    # (the same down-sampling grid as a full pass), else the largest power of two that keeps
    # the overlap (e.g. unet_256 with 256 px tiles: origins every 128 px, not 256 = no overlap)
    aligns, strides = [], []
    for f, t, o in zip(factors, tiles, overlaps, strict=True):
        align = 1
        while align * 2 <= min(f, t - o):
            align *= 2
        aligns.append(align)
        strides.append((t - o) // align * align)
    shape = [max(round_up(s, a), t) for s, a, t in zip(spatial, aligns, tiles, strict=True)]
    padded = pad_to_shape(image, shape)
    shape = list(padded.shape[1:])
    origins = [starts(n, t, s) for n, t, s in zip(shape, tiles, strides, strict=True)]
    weights = _weights(origins, shape, tiles, overlaps, trims, blend, image.device)
    out: torch.Tensor | None = None
    norm = torch.zeros(shape, dtype=torch.float32, device=image.device)
    boxes = list(itertools.product(*[list(enumerate(o)) for o in origins]))
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i : i + batch_size]
        slices = [tuple(slice(o, o + t) for (_, o), t in zip(box, tiles, strict=True))
                  for box in chunk]  # fmt: skip
        tiles_in = torch.stack([padded[(slice(None), *s)] for s in slices])
        result = fn(tiles_in).float().to(image.device)  # fn may run elsewhere (GPU)
        if out is None:
            out = torch.zeros((result.shape[1], *shape), dtype=torch.float32, device=image.device)
        for box, s, r in zip(chunk, slices, result, strict=True):
            w = weights(tuple(k for k, _ in box))
            out[(slice(None), *s)] += r * w
            norm[s] += w
    assert out is not None
    return (out / norm)[(slice(None), *(slice(0, s) for s in spatial))]


def _weights(
    origins: list[list[int]],
    shape: Sequence[int],
    tiles: Sequence[int],
    overlaps: Sequence[int],
    trims: Sequence[int],
    blend: str,
    device: torch.device,
) -> Callable[[tuple[int, ...]], torch.Tensor]:
    """``weights(tile indices per axis)`` → the tile's N-D window (outer product of 1D ones);
    one shared window when nothing is trimmed (the plain blended tiling)."""
    dims = len(tiles)

    def outer(ws: list[np.ndarray]) -> torch.Tensor:
        w = torch.ones((), dtype=torch.float32)
        for axis, w1 in enumerate(ws):
            view = [1] * dims
            view[axis] = len(w1)
            w = w * torch.as_tensor(w1, dtype=torch.float32).view(view)
        return w.to(device)

    if not any(trims):
        shared = outer([window(t, o, blend) for t, o in zip(tiles, overlaps, strict=True)])
        return lambda index: shared
    per_axis_windows = [
        [cut_window(t, o, blend, c, start > 0, start + t < n) for start in axis_origins]
        for axis_origins, t, o, c, n in zip(origins, tiles, overlaps, trims, shape, strict=True)
    ]
    cache: dict[tuple[int, ...], torch.Tensor] = {}

    def weights(index: tuple[int, ...]) -> torch.Tensor:
        if index not in cache:
            cache[index] = outer([per_axis_windows[a][k] for a, k in enumerate(index)])
        return cache[index]

    return weights
