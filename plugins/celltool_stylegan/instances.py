"""Masks ↔ training channels ↔ instance label maps (numpy in, numpy out).

Thresholding one generated mask merges touching cells. The generator therefore draws two
channels: the foreground and an *instance distance*: each pixel's Euclidean distance to the
nearest pixel that is not part of the same cell (background or a touching neighbour), clipped
at ``distance_max`` px and scaled to [-1, 1]. Where two cells touch the distance drops to 0,
so :func:`split_instances` finds one marker (distance ≥ ``marker_depth``) per cell and grows
the markers back over the foreground by watershed on the distance.
"""

from __future__ import annotations

import numpy as np

CELLGEN_LEVEL = 240  # CellGen's Tools/Threshold.py: gray ≥ 240 (of 255) → cell


def components(mask: np.ndarray) -> np.ndarray:
    """Instance labels of a binary mask: 8-connected components, uint16/uint32."""
    from scipy import ndimage

    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    return labels.astype(np.uint16 if n < 65536 else np.uint32)


def touching_boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels of a cell that have a 4-neighbour belonging to ANOTHER cell (not background)."""
    lab = labels.astype(np.int64)
    edge = np.zeros(lab.shape, bool)
    for axis in (0, 1):
        a = np.take(lab, range(lab.shape[axis] - 1), axis=axis)
        b = np.take(lab, range(1, lab.shape[axis]), axis=axis)
        differ = (a != b) & (a > 0) & (b > 0)
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        edge[tuple(lo)] |= differ
        edge[tuple(hi)] |= differ
    return edge


def instance_distance(labels: np.ndarray) -> np.ndarray:
    """Distance (px, float32) of every cell pixel to the nearest pixel outside its cell."""
    from scipy import ndimage

    inside = (labels > 0) & ~touching_boundaries(labels)
    return ndimage.distance_transform_edt(inside).astype(np.float32)


def distance_channel(labels: np.ndarray, distance_max: float) -> np.ndarray:
    """The generator's second channel: min(distance, distance_max)/distance_max → [-1, 1]."""
    d = np.minimum(instance_distance(labels), distance_max) / distance_max
    return (d * 2 - 1).astype(np.float32)


def split_instances(
    foreground: np.ndarray,
    distance: np.ndarray | None,
    *,
    threshold: float = 0.0,
    distance_max: float = 4.0,
    marker_depth: float = 2.0,
    min_size: int = 4,
    smooth: float = 1.0,
) -> np.ndarray:
    """Instance labels from generated channels in [-1, 1].

    Foreground = ``foreground > threshold``. With a distance channel (first smoothed by a
    Gaussian of σ = ``smooth`` px, so that pixel noise of a generated channel does not make
    extra markers): markers are the connected regions of distance ≥ ``marker_depth`` px inside
    the foreground, grown by watershed on −distance over the foreground; foreground parts
    that hold no marker (cells smaller than the marker depth) become cells of their own.
    Without: connected components.
    Objects under ``min_size`` px are dropped. Labels are 1..N (uint16).
    """
    from scipy import ndimage
    from skimage.segmentation import watershed

    from celltool.labels import relabel_sequential

    fg = foreground > threshold
    if distance is None:
        labels = components(fg).astype(np.int32)
    else:
        d = (np.clip(distance, -1, 1) + 1) / 2 * distance_max
        if smooth > 0:
            d = ndimage.gaussian_filter(d, smooth)
        markers = components(fg & (d >= marker_depth)).astype(np.int32)
        labels = watershed(-d, markers, mask=fg)
        rest = components(fg & (labels == 0)).astype(np.int32)
        labels = np.where(rest > 0, rest + labels.max(), labels)
    if min_size > 1 and labels.max() > 0:
        sizes = np.bincount(labels.ravel())
        labels = np.where(sizes[labels] < min_size, 0, labels)
    return relabel_sequential(labels).astype(np.uint16)


def cellgen_threshold(foreground: np.ndarray) -> np.ndarray:
    """CellGen's recipe: gray = clamp((x + 1)·127.5) as uint8 (gen_images_gray.py), cell
    where gray ≥ 240 (Tools/Threshold.py), instances = connected components."""
    gray = np.clip(np.rint((foreground + 1) * 127.5), 0, 255).astype(np.uint8)
    return components(gray >= CELLGEN_LEVEL)


def to_binary(labels: np.ndarray) -> np.ndarray:
    """0/255 uint8 mask of a label map."""
    return np.where(labels > 0, 255, 0).astype(np.uint8)
