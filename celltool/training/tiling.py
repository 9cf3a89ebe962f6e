"""Inference on images of any size: padding to the network's factor, overlapping tiles and
weighted blending (no seams).

An image that fits in one tile is reflect-padded to a multiple of the network's size factor
(2^downsamplings) and processed in one pass. A larger image is covered by tiles of ``tile`` px
(a multiple of the factor) placed every ``tile - overlap`` px, the last one flush with the
border (origins are multiples of the factor when the overlap allows, so tiles see the
down-sampling grid of a full pass); each tile's output is weighted by a window that is 1 in
the middle and falls smoothly (raised cosine, or Gaussian) towards the tile edges, and the
weighted sum is divided by the summed weights. Tiles are run in batches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


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


def pad_to(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Reflect-pad (C, H, W) at the bottom/right to at least height × width."""
    ph, pw = max(0, height - image.shape[-2]), max(0, width - image.shape[-1])
    if not (ph or pw):
        return image
    mode = "reflect" if ph < image.shape[-2] and pw < image.shape[-1] else "replicate"
    return torch.nn.functional.pad(image[None], (0, pw, 0, ph), mode=mode)[0]


def round_up(value: int, factor: int) -> int:
    return -(-value // factor) * factor


@torch.no_grad()
def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    *,
    tile: int,
    overlap: int,
    factor: int = 1,
    blend: str = "cosine",
    batch_size: int = 4,
) -> torch.Tensor:
    """Apply ``fn`` (B×C×h×w → B×C'×h×w) to a (C, H, W) image of any size; return (C', H, W)."""
    height, width = image.shape[-2:]
    tile = max(factor, round_up(tile, factor))
    if height <= tile and width <= tile:
        padded = pad_to(image, round_up(height, factor), round_up(width, factor))
        return fn(padded[None])[0, :, :height, :width]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap {overlap} must lie in [0, tile {tile})")
    # tile origins on a grid of `align` px: the network's factor when the stride allows (the
    # same down-sampling grid as a full pass), else the largest power of two that keeps the
    # overlap (e.g. unet_256 with 256 px tiles: origins every 128 px, not 256 = no overlap)
    align = 1
    while align * 2 <= min(factor, tile - overlap):
        align *= 2
    stride = (tile - overlap) // align * align
    padded = pad_to(image, max(round_up(height, align), tile), max(round_up(width, align), tile))
    ph, pw = padded.shape[-2:]
    boxes = [(y, x) for y in starts(ph, tile, stride) for x in starts(pw, tile, stride)]
    w1 = torch.as_tensor(window(tile, overlap, blend), dtype=torch.float32)
    weight = (w1[:, None] * w1[None, :]).to(image.device)
    out: torch.Tensor | None = None
    norm = torch.zeros((ph, pw), dtype=torch.float32, device=image.device)
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i : i + batch_size]
        tiles = torch.stack([padded[:, y : y + tile, x : x + tile] for y, x in chunk])
        result = fn(tiles).float()
        if out is None:
            out = torch.zeros((result.shape[1], ph, pw), dtype=torch.float32, device=image.device)
        for (y, x), r in zip(chunk, result, strict=False):
            out[:, y : y + tile, x : x + tile] += r * weight
            norm[y : y + tile, x : x + tile] += weight
    assert out is not None
    return (out / norm)[:, :height, :width]
