"""Combining two images (numpy in, numpy out): a saturating sum, or channels of one image.

Integer images are brought to a common bit depth first: a uint8 image beside a uint16 one is
promoted to uint16 with its values rescaled to the other's bit depth (× 257 for 8 → 16 bits,
× 4095/255 rounded for 8 → 12 bits), so both keep their meaning as fractions of full scale.
The sum is computed in 64 bits and clipped at the top of the bit depth: it never wraps (CellGen's
Combine.py added uint8 RGB values in a Python loop). Floating-point images are summed as they
are. Any other pair of dtypes is refused.
"""

from __future__ import annotations

import numpy as np

PROMOTABLE = {np.dtype(np.uint8), np.dtype(np.uint16)}


class CombineError(ValueError):
    """Two images that cannot be combined (shapes or dtypes)."""


def common_depth(
    a: np.ndarray, b: np.ndarray, depth_a: int | None, depth_b: int | None
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Both images on one dtype and bit depth (None for floats); see the module doc."""
    if a.dtype != b.dtype:
        if {a.dtype, b.dtype} != PROMOTABLE:
            raise CombineError(f"cannot combine {a.dtype} with {b.dtype}")
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return a, b, None
    if a.dtype.kind not in "ui":
        raise CombineError(f"cannot combine {a.dtype} images")
    depth_a = depth_a or a.dtype.itemsize * 8
    depth_b = depth_b or b.dtype.itemsize * 8
    depth = max(depth_a, depth_b)
    return rescale(a, depth_a, depth), rescale(b, depth_b, depth), depth


def rescale(image: np.ndarray, depth: int, to: int) -> np.ndarray:
    """Integer values from ``depth`` to ``to`` bits (as fractions of full scale), as int64."""
    values = image.astype(np.int64)
    if depth == to:
        return values
    top, new_top = 2**depth - 1, 2**to - 1
    if new_top % top == 0:
        return values * (new_top // top)
    return np.rint(values * (new_top / top)).astype(np.int64)


def out_dtype(depth: int, signed_like: np.dtype | None = None) -> np.dtype:
    if signed_like is not None and signed_like.kind == "i":
        return signed_like
    return np.dtype(np.uint8 if depth <= 8 else np.uint16 if depth <= 16 else np.uint32)


def saturating_sum(
    a: np.ndarray, b: np.ndarray, depth_a: int | None = None, depth_b: int | None = None
) -> tuple[np.ndarray, int | None]:
    """a + b, clipped to the range of the common bit depth; returns (sum, bit depth)."""
    if a.shape != b.shape:
        raise CombineError(f"shapes differ: {a.shape} and {b.shape}")
    kind = a.dtype
    a2, b2, depth = common_depth(a, b, depth_a, depth_b)
    if depth is None:
        return (a2.astype(np.float64) + b2).astype(np.result_type(a, b)), None
    total = a2 + b2
    if kind.kind == "i":
        info = np.iinfo(kind)
        return np.clip(total, info.min, info.max).astype(kind), depth
    return np.clip(total, 0, 2**depth - 1).astype(out_dtype(depth)), depth


def as_channels(
    a: np.ndarray, b: np.ndarray, depth_a: int | None = None, depth_b: int | None = None
) -> tuple[np.ndarray, int | None]:
    """(Y, X, Ca + Cb): the channels of a, then those of b (gray images count as 1 channel)."""
    if a.shape[:2] != b.shape[:2]:
        raise CombineError(f"sizes differ: {a.shape[:2]} and {b.shape[:2]}")
    kind = a.dtype
    a2, b2, depth = common_depth(a, b, depth_a, depth_b)
    a2 = a2 if a2.ndim == 3 else a2[:, :, None]
    b2 = b2 if b2.ndim == 3 else b2[:, :, None]
    stacked = np.concatenate([a2, b2], axis=2)
    if depth is None:
        return stacked.astype(np.result_type(a, b)), None
    return stacked.astype(kind if kind.kind == "i" else out_dtype(depth)), depth
