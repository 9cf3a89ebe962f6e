"""Thumbnails for the report (numpy in, numpy or bytes out): contrast stretch, 3D views,
coloured label maps, filmstrips and animated GIFs.

GIFs are written with Pillow, which matplotlib and scikit-image (both celltool dependencies)
require; without it :func:`gif_bytes` returns None and the report shows the filmstrip alone.
"""

from __future__ import annotations

import io

import numpy as np

THUMB = 256  # longest side of a thumbnail, px
LOW, HIGH = 1.0, 99.5  # percentiles of the contrast stretch


def is_stack(image: np.ndarray) -> bool:
    """A 3D stack (Z, Y, X), not a colour image (Y, X, 3|4)."""
    return image.ndim == 3 and image.shape[-1] not in (3, 4)


def stretch(image: np.ndarray, low: float = LOW, high: float = HIGH) -> np.ndarray:
    """uint8 for display: 8-bit data as it is; other data stretched from its ``low`` to its
    ``high`` percentile (one stretch for all channels), NaN as black."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    data = image.astype(np.float64)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return np.zeros(image.shape, np.uint8)
    lo, hi = np.percentile(finite, [low, high])
    if hi <= lo:
        hi = lo + 1.0
    scaled = np.clip((np.nan_to_num(data, nan=lo) - lo) / (hi - lo), 0, 1)
    return np.rint(scaled * 255).astype(np.uint8)


def views(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """What to show of an image: itself; for a stack its middle slice and max projection;
    for more than 3 dimensions the first plane of the leading axes."""
    image = np.asarray(image)
    while image.ndim > 4 or (image.ndim == 4 and image.shape[-1] not in (3, 4)):
        image = image[0]
    if image.ndim == 4:  # (Z, Y, X, C)
        image = image[..., 0]
    if is_stack(image):
        z = image.shape[0] // 2
        return [(f"z {z} of {image.shape[0]}", image[z]), ("max projection", image.max(axis=0))]
    return [("", image)]


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """RGB uint8 of an instance map: a fixed colour per id (golden-angle hues), black = 0."""
    import cv2

    labels = np.asarray(labels)
    ids = labels.astype(np.int64)
    hue = ((ids * 0.618033988749895) % 1.0 * 179).astype(np.uint8)
    sat = np.where(ids > 0, 200, 0).astype(np.uint8)
    val = np.where(ids > 0, 150 + (ids * 37) % 106, 0).astype(np.uint8)
    return cv2.cvtColor(np.stack([hue, sat, val], axis=-1), cv2.COLOR_HSV2RGB)


def label_views(labels: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Label maps: a 2D map itself; a stack's middle slice and its max projection, coloured."""
    labels = np.asarray(labels)
    if labels.ndim == 3:
        z = labels.shape[0] // 2
        return [
            (f"z {z} of {labels.shape[0]}", colour_labels(labels[z])),
            ("max projection", colour_labels(labels.max(axis=0))),
        ]
    return [("", colour_labels(labels))]


def shrink(image: np.ndarray, max_side: int = THUMB, *, nearest: bool = False) -> np.ndarray:
    """Scale down (never up) so that the longest side is at most ``max_side``."""
    import cv2

    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def enlarge(image: np.ndarray, side: int) -> np.ndarray:
    """Scale a small image up by a whole factor (pixel copies) towards ``side`` px."""
    factor = side // max(image.shape[:2])
    if factor < 2:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def split_side_by_side(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of a side-by-side pair image ``[left │ right]``."""
    half = image.shape[1] // 2
    return image[:, :half], image[:, half : 2 * half]


def evenly(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (first and last included)."""
    if n <= 0 or k <= 0:
        return []
    if k >= n:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, k)})


def filmstrip(frames: list[np.ndarray], tile: int = 96, gap: int = 2) -> np.ndarray:
    """Frames side by side (one contrast stretch for all when they share a shape), each scaled
    to at most ``tile`` px, white gaps between; uint8."""
    if len({np.shape(f) for f in frames}) == 1:
        shown = list(stretch(np.stack([np.asarray(f) for f in frames])))
    else:
        shown = [stretch(f) for f in frames]
    tiles = [enlarge(shrink(f, tile), tile) for f in shown]
    height = max(t.shape[0] for t in tiles)
    rgb = any(t.ndim == 3 for t in tiles)
    parts = []
    for t in tiles:
        t = np.repeat(t[..., None], 3, axis=2) if rgb and t.ndim == 2 else t
        pad = [(0, height - t.shape[0]), (0, 0)] + ([(0, 0)] if t.ndim == 3 else [])
        parts.append(np.pad(t, pad, constant_values=255))
        parts.append(np.full((height, gap) + t.shape[2:], 255, np.uint8))
    return np.concatenate(parts[:-1], axis=1)


def gif_bytes(frames: list[np.ndarray], max_side: int = 192, ms: int = 250) -> bytes | None:
    """An endlessly looping animated GIF of the frames (one stretch for the whole sequence,
    so brightness changes stay visible), or None without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return None
    stack = np.stack([np.asarray(f) for f in frames])
    shown = stretch(stack)
    pictures = [Image.fromarray(enlarge(shrink(f, max_side), max_side)) for f in shown]
    buf = io.BytesIO()
    first, rest = pictures[0], pictures[1:]
    first.save(buf, format="GIF", save_all=True, append_images=rest, duration=ms, loop=0)
    return buf.getvalue()
