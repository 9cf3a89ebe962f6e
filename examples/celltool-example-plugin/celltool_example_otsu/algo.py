"""The algorithm: numpy in, numpy out, no file handling (celltool does that)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def otsu_labels(image: np.ndarray, sigma: float = 1.0, otsu_scale: float = 1.0) -> np.ndarray:
    """Connected components of the pixels above the (scaled) Otsu threshold."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    smooth = ndimage.gaussian_filter(image.astype(np.float32), sigma) if sigma > 0 else image
    if smooth.min() == smooth.max():
        return np.zeros(image.shape, np.int32)
    mask = smooth > threshold_otsu(smooth) * otsu_scale
    labels, _ = ndimage.label(ndimage.binary_fill_holes(mask))
    return labels


def make_segmenter(sigma: float = 1.0, otsu_scale: float = 1.0) -> Callable[..., dict]:
    """celltool calls this once per worker process with the resolved options; the returned
    function gets one single-channel image and returns {"cells": instance map}."""

    def segment(image: np.ndarray, nuclei: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return {"cells": otsu_labels(image, sigma, otsu_scale)}

    return segment
