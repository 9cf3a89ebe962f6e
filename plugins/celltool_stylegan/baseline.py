"""A parametric baseline for mask generators: random non-overlapping ellipses.

:func:`fit_ellipses` measures real label maps: objects per image (all objects), and per
interior object its area and axis ratio (minor/major of the moment ellipse).
:func:`sample_ellipses` draws a label map: the count from the real per-image counts, then per
object an (area, axis ratio) pair of one real object (so area and elongation keep their joint
distribution), a uniform orientation and a uniform position, rejected while it would overlap or
touch an earlier ellipse (up to ``tries`` positions). Seeded with a ``numpy.random.Generator``.

A generator that does not beat this on solidity, perimeter²/area and nearest-neighbour
distance has learned no more than "blobs of the right size and number".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EllipseModel:
    counts: np.ndarray  # objects per real image
    areas: np.ndarray  # px, one per real interior object
    ratios: np.ndarray  # minor/major axis, same objects
    shape: tuple[int, int]  # size of the real images


def fit_ellipses(label_maps: Sequence[np.ndarray]) -> EllipseModel:
    """The empirical count, area and elongation distributions of real label maps."""
    from skimage.measure import regionprops

    if not label_maps:
        raise ValueError("fit_ellipses needs at least one label map")
    counts, areas, ratios = [], [], []
    for labels in label_maps:
        labels = np.asarray(labels)
        h, w = labels.shape
        regions = regionprops(labels.astype(np.int32))
        counts.append(len(regions))
        for r in regions:
            y0, x0, y1, x1 = r.bbox
            if y0 == 0 or x0 == 0 or y1 == h or x1 == w or r.axis_major_length <= 0:
                continue
            areas.append(float(r.area))
            ratios.append(float(max(r.axis_minor_length, 1.0) / max(r.axis_major_length, 1.0)))
    if not areas:
        raise ValueError("the real label maps hold no object away from the border")
    return EllipseModel(
        np.asarray(counts), np.asarray(areas), np.clip(np.asarray(ratios), 0.05, 1.0),
        tuple(np.asarray(label_maps[0]).shape),
    )  # fmt: skip


def ellipse_mask(shape, cy, cx, area, ratio, angle) -> np.ndarray:
    """Boolean mask of a filled ellipse of the given area (px) and minor/major ratio."""
    a = np.sqrt(area / (np.pi * ratio))  # semi-major
    b = a * ratio
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    dy, dx = yy + 0.5 - cy, xx + 0.5 - cx
    c, s = np.cos(angle), np.sin(angle)
    u, v = dx * c + dy * s, -dx * s + dy * c
    return (u / a) ** 2 + (v / b) ** 2 <= 1


def sample_ellipses(
    model: EllipseModel,
    rng: np.random.Generator,
    shape: tuple[int, int] | None = None,
    tries: int = 50,
) -> np.ndarray:
    """One label map (uint16) of non-overlapping, non-touching ellipses (see module doc)."""
    from scipy import ndimage

    shape = tuple(shape or model.shape)
    labels = np.zeros(shape, np.uint16)
    taken = np.zeros(shape, bool)
    count = int(rng.choice(model.counts))
    for _ in range(count):
        i = int(rng.integers(len(model.areas)))
        area, ratio = model.areas[i], model.ratios[i]
        angle = rng.uniform(0, np.pi)
        for _ in range(tries):
            cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
            mask = ellipse_mask(shape, cy, cx, area, ratio, angle)
            if mask.any() and not (mask & taken).any():
                labels[mask] = labels.max() + 1
                taken |= ndimage.binary_dilation(mask)  # keep a gap: no touching
                break
    return labels
