"""Classical instance segmentation: flatten, smooth, threshold, seed, marker watershed.

numpy in, numpy out; 2D (Y, X) or 3D (Z, Y, X) single-channel images of any dtype. Objects are
brighter than the background (fluorescence). No learned weights.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

THRESHOLDS = ("otsu", "li", "triangle", "yen")
SEEDS = ("distance", "intensity", "both")


def flatten_background(image: np.ndarray, radius: float) -> np.ndarray:
    """Subtract a smooth background estimate (median of a coarse grid, interpolated back).

    ``radius`` (px) is the scale of objects to keep; structures much larger than it (uneven
    illumination, vignetting) are removed. 0 = only subtract the global median.
    """
    image = image.astype(np.float32, copy=False)
    if radius <= 0:
        return image - np.median(image)
    factor = max(1, int(radius // 4))
    small = image[tuple(slice(None, None, factor) for _ in range(image.ndim))]
    size = max(3, int(2 * radius / factor) | 1)
    background = ndimage.median_filter(small, size=size, mode="reflect")
    zoom = [full / part for full, part in zip(image.shape, small.shape, strict=True)]
    background = ndimage.zoom(background, zoom, order=1, mode="nearest", grid_mode=True)
    return image - background[tuple(slice(0, n) for n in image.shape)]


def auto_threshold(values: np.ndarray, method: str) -> float:
    from skimage import filters

    funcs: dict[str, Callable[[np.ndarray], float]] = {
        "otsu": filters.threshold_otsu,
        "li": filters.threshold_li,
        "triangle": filters.threshold_triangle,
        "yen": filters.threshold_yen,
    }
    if method not in funcs:
        raise ValueError(f"unknown threshold method {method!r} (one of {', '.join(THRESHOLDS)})")
    if values.size == 0 or values.min() == values.max():
        return float(values.max()) if values.size else 0.0
    return float(funcs[method](values))


def foreground(
    image: np.ndarray,
    *,
    background_radius: float,
    smooth_sigma: float,
    threshold: str,
    threshold_scale: float,
    hysteresis: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed, flattened image and its foreground mask (holes filled).

    Pixels above ``threshold_scale`` × the automatic level are objects; with ``hysteresis`` < 1,
    so are pixels above ``hysteresis`` × that level that connect to them (dim cell edges).
    """
    from skimage.filters import apply_hysteresis_threshold

    flat = flatten_background(image, background_radius)
    if smooth_sigma > 0:
        flat = ndimage.gaussian_filter(flat, smooth_sigma)
    level = auto_threshold(flat, threshold) * threshold_scale
    if hysteresis < 1:
        mask = apply_hysteresis_threshold(flat, hysteresis * level, level)
    else:
        mask = flat > level
    mask = ndimage.binary_opening(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1))
    return flat, ndimage.binary_fill_holes(mask)


def split_touching(
    mask: np.ndarray,
    intensity: np.ndarray,
    *,
    seeds: str,
    min_distance: int,
    prominence: float = 0.0,
) -> np.ndarray:
    """Instance labels of ``mask``: one marker per local maximum, then a marker watershed.

    ``seeds``: maxima of the distance transform (shape), of the intensity (bright centres), or
    of their product (both).
    """
    from skimage import morphology
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    components, n = ndimage.label(mask)
    if n == 0:
        return np.zeros(mask.shape, np.int32)
    distance = ndimage.distance_transform_edt(mask)
    span = np.ptp(intensity[mask]) or 1.0
    bright = (intensity - intensity[mask].min()) / span
    if seeds == "distance":
        landscape = distance
    elif seeds == "intensity":
        landscape = np.where(mask, bright, 0)
    elif seeds == "both":
        landscape = distance * (0.5 + bright)
    else:
        raise ValueError(f"unknown seeds {seeds!r} (one of {', '.join(SEEDS)})")
    landscape = ndimage.gaussian_filter(landscape.astype(np.float32), 1.0)
    peaks = peak_local_max(
        landscape, min_distance=max(1, min_distance), labels=components, exclude_border=False
    )
    if prominence > 0:  # keep only maxima that stand ``prominence`` above their surroundings
        tops = morphology.h_maxima(landscape, prominence)
        peaks = peaks[tops[tuple(peaks.T)] > 0]
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    # every component gets at least one marker (flat plateaus may have no strict maximum)
    unmarked = np.setdiff1d(np.arange(1, n + 1), np.unique(components[markers > 0]))
    if len(unmarked):
        centres = ndimage.maximum_position(distance, components, unmarked)
        for k, pos in enumerate(centres):
            markers[pos] = len(peaks) + 1 + k
    return watershed(-landscape, markers, mask=mask).astype(np.int32)


def bright_cores(cells: np.ndarray, intensity: np.ndarray, quantile: float) -> np.ndarray:
    """Nuclei as the bright core of each cell: pixels above the cell's intensity ``quantile``,
    largest connected piece, holes filled. Nucleus id = its cell's id."""
    ids = cells.ravel()
    inside = ids > 0
    if not inside.any():
        return np.zeros_like(cells)
    values = intensity.ravel()[inside]
    owner = ids[inside]
    order = np.lexsort((values, owner))
    counts = np.bincount(owner, minlength=int(cells.max()) + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pick = starts + np.floor(quantile * np.maximum(counts - 1, 0)).astype(np.int64)
    level = np.full(len(counts), np.inf, np.float64)
    has = counts > 0
    level[has] = values[order][pick[has]]
    core = (cells > 0) & (intensity > level[cells])
    core = ndimage.binary_opening(core, structure=ndimage.generate_binary_structure(core.ndim, 1))
    pieces, n = ndimage.label(core)
    if n == 0:
        return np.zeros_like(cells)
    piece_cell = ndimage.maximum(cells, pieces, np.arange(1, n + 1)).astype(np.int64)
    piece_size = np.bincount(pieces.ravel(), minlength=n + 1)[1:]
    best = np.zeros(len(counts), np.int64)  # cell id -> piece id of its largest piece
    for piece in np.lexsort((piece_size, piece_cell)):  # ascending size: the last one wins
        best[piece_cell[piece]] = piece + 1
    keep = np.zeros(n + 1, bool)
    keep[best[best > 0]] = True
    nuclei = np.where(keep[pieces], cells, 0)
    filled = np.zeros_like(cells)
    for cell_id, box in enumerate(ndimage.find_objects(nuclei), start=1):
        if box is not None:
            region = ndimage.binary_fill_holes(nuclei[box] == cell_id)
            filled[box][region] = cell_id
    return filled


def segment(
    image: np.ndarray,
    nuclei_image: np.ndarray | None = None,
    *,
    background_radius: float = 50.0,
    smooth_sigma: float = 0.5,
    threshold: str = "li",
    threshold_scale: float = 1.3,
    hysteresis: float = 0.5,
    seeds: str = "distance",
    min_distance: int = 10,
    prominence: float = 0.0,
    nucleus_quantile: float = 0.75,
    nucleus_sigma: float = 2.0,
    nucleus_min_distance: int = 4,
) -> dict[str, np.ndarray]:
    """Cells (and nuclei) of a single-channel image; int32 instance maps, 0 = background.

    With ``nuclei_image`` (a nuclear stain), nuclei are segmented from it by the same
    pipeline; without, nuclei are the bright cores of the cells (nucleus id = cell id).
    """
    options = dict(
        background_radius=background_radius,
        smooth_sigma=smooth_sigma,
        threshold=threshold,
        threshold_scale=threshold_scale,
        hysteresis=hysteresis,
    )
    flat, mask = foreground(image, **options)
    cells = split_touching(
        mask, flat, seeds=seeds, min_distance=min_distance, prominence=prominence
    )
    if nuclei_image is not None:
        nflat, nmask = foreground(nuclei_image, **options)
        nuclei = split_touching(
            nmask, nflat, seeds=seeds, min_distance=nucleus_min_distance, prominence=prominence
        )
    else:
        cores = ndimage.gaussian_filter(flat, nucleus_sigma) if nucleus_sigma > 0 else flat
        nuclei = bright_cores(cells, cores, nucleus_quantile)
    return {"cells": cells, "nuclei": nuclei}


def make_segmenter(**params) -> Callable[..., dict[str, np.ndarray]]:
    """The segmenter-family factory: ``make_segmenter(**params)(image, nuclei=None)``."""

    def run(image: np.ndarray, nuclei: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return segment(image, nuclei, **params)

    return run
