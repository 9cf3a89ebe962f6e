"""Offline augmentation of aligned image/label arrays (numpy in, numpy out).

One draw of random parameters per variant applies to every array of an item: horizontal and
vertical flips (p = 0.5 each), an optional quarter turn, a rotation by a uniform angle about the
centre (images bilinear, labels nearest neighbour, so label maps keep exactly their values —
CellGen's Data_Augmentation.py rotated masks bilinearly and left non-binary edges), and, on the
images only, a gain α and an offset β on **every** channel (the original's ``cv2.add(image,
beta)`` added β to the first colour channel only), clipped to the bit depth (no wrap). Pixels
rotated in from outside are 0 in images and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Variant:
    """The random parameters of one augmented copy."""

    flip_h: bool
    flip_v: bool
    quarter_turns: int
    angle: float
    gain: float
    offset: float  # in 8-bit units (scaled to the image's bit depth)

    def as_dict(self) -> dict:
        return asdict(self)


def draw_variant(
    rng: np.random.Generator, *, max_angle: float, rot90: bool, gain: float, offset: float
) -> Variant:
    """Random parameters: flips p 0.5, quarter turns 0–3 (with ``rot90``), angle U(±max_angle),
    gain U(1 ± gain), offset U(±offset)."""
    return Variant(
        flip_h=bool(rng.random() < 0.5),
        flip_v=bool(rng.random() < 0.5),
        quarter_turns=int(rng.integers(0, 4)) if rot90 else 0,
        angle=float(rng.uniform(-max_angle, max_angle)) if max_angle > 0 else 0.0,
        gain=float(rng.uniform(1 - gain, 1 + gain)) if gain > 0 else 1.0,
        offset=float(rng.uniform(-offset, offset)) if offset > 0 else 0.0,
    )


def geometry(array: np.ndarray, variant: Variant, nearest: bool) -> np.ndarray:
    """Flips, quarter turns and the rotation of a (Y, X) or (Y, X, C) array."""
    out = array
    if variant.flip_h:
        out = out[:, ::-1]
    if variant.flip_v:
        out = out[::-1]
    if variant.quarter_turns:
        out = np.rot90(out, variant.quarter_turns, axes=(0, 1))
    out = np.ascontiguousarray(out)
    if variant.angle:
        out = rotate(out, variant.angle, nearest)
    return out


def rotate(array: np.ndarray, angle: float, nearest: bool) -> np.ndarray:
    """Rotate about the image centre by ``angle`` degrees (counter-clockwise), same size,
    border 0; nearest neighbour for labels (any integer dtype, channel by channel)."""
    import cv2

    height, width = array.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    planes = array[:, :, None] if array.ndim == 2 else array
    work = (
        planes if planes.dtype in (np.uint8, np.uint16, np.float32) else planes.astype(np.float64)
    )
    out = np.stack(
        [
            cv2.warpAffine(
                np.ascontiguousarray(work[:, :, c]),
                matrix,
                (width, height),
                flags=interp,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )  # fmt: skip
            for c in range(work.shape[2])
        ],
        axis=2,
    ).astype(array.dtype)
    return out[:, :, 0] if array.ndim == 2 else out


def intensity(image: np.ndarray, variant: Variant, bit_depth: int | None) -> np.ndarray:
    """α·image + β on every channel, clipped to [0, 2^bit_depth − 1] (integers) — floats are
    scaled without clipping. β is given in 8-bit units and scaled to the bit depth."""
    if variant.gain == 1.0 and variant.offset == 0.0:
        return image
    if image.dtype.kind == "f":
        return (image * variant.gain + variant.offset / 255.0).astype(image.dtype)
    depth = bit_depth or image.dtype.itemsize * 8
    top = 2**depth - 1
    values = image.astype(np.float64) * variant.gain + variant.offset * top / 255.0
    return np.clip(np.rint(values), 0, top).astype(image.dtype)


def augment_item(
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    variant: Variant,
    bit_depth: int | None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One variant of an item: geometry on all arrays, intensity on the images only."""
    out_images = [intensity(geometry(a, variant, False), variant, bit_depth) for a in images]
    out_labels = [geometry(a, variant, True) for a in labels]
    return out_images, out_labels
