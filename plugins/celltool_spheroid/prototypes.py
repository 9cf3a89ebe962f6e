"""Nucleus prototypes: crops of single real nuclei (image + mask) that the simulator places.

``extract_prototypes`` follows extract_phantoms.py of cell_data_synthesis, fixed: each crop
keeps only its own nucleus (the original kept pieces of neighbours in the crop's label) and
only its largest connected piece. ``augment_prototypes`` makes variants as augment_nuclei.py
does (rotation, per-axis zoom, blur, elastic deformation, contrast/gamma).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from celltool_spheroid.errors import BadInput, BadParameter

MAX_AUGMENT = 1000


@dataclass(frozen=True)
class Prototype:
    """One nucleus: ``image`` float32 in [0, 1] over its bounding box, ``mask`` bool (same
    shape, one 26-connected piece), both (Z, Y, X)."""

    image: np.ndarray
    mask: np.ndarray

    def __post_init__(self) -> None:
        if self.image.shape != self.mask.shape or self.image.ndim != 3:
            raise BadInput(
                f"prototype image {self.image.shape} and mask {self.mask.shape} must be the "
                "same 3D shape"
            )
        if not self.mask.any():
            raise BadInput("a prototype mask must not be empty")


def _largest_piece(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    pieces, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count <= 1:
        return mask
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    return pieces == int(np.argmax(sizes))


def _normalise(crop: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] (the original's per-crop 0..255 stretch, without the uint8 steps)."""
    crop = crop.astype(np.float32)
    low, high = float(crop.min()), float(crop.max())
    if high <= low:
        return np.zeros_like(crop)
    return (crop - low) / (high - low)


def _crop_to_mask(image: np.ndarray, mask: np.ndarray) -> Prototype:
    """Cut both arrays to the mask's bounding box."""
    from scipy import ndimage

    box = ndimage.find_objects(mask.astype(np.uint8))[0]
    return Prototype(np.ascontiguousarray(image[box]), np.ascontiguousarray(mask[box]))


def extract_prototypes(
    image: np.ndarray, labels: np.ndarray, *, min_voxels: int = 8
) -> list[Prototype]:
    """One prototype per labelled nucleus that does not touch the volume border.

    ``labels`` is an instance map (ids > 0) or a binary mask (then its connected pieces are the
    nuclei). Each crop is the nucleus's bounding box in ``image``, min-max normalised to
    [0, 1]; its mask holds only that nucleus (the largest piece when an id has several).
    Nuclei smaller than ``min_voxels`` are skipped. Returned in the order of the ids.
    """
    from scipy import ndimage

    image = np.asarray(image)
    labels = np.asarray(labels)
    if image.ndim != 3 or image.shape != labels.shape:
        raise BadInput(
            f"prototypes need a 3D image and labels of the same shape, got {image.shape} "
            f"and {labels.shape}"
        )
    if labels.dtype == bool or labels.max() <= 1:
        labels, _ = ndimage.label(labels > 0, structure=np.ones((3, 3, 3), bool))
    out = []
    for index, box in enumerate(ndimage.find_objects(labels)):
        if box is None:
            continue
        on_border = any(s.start == 0 or s.stop == n for s, n in zip(box, labels.shape, strict=True))
        if on_border:
            continue
        own = _largest_piece(labels[box] == index + 1)
        if own.sum() < min_voxels:
            continue
        crop = _crop_to_mask(image[box], own)
        out.append(Prototype(_normalise(crop.image), crop.mask))
    return out


# --- augmentation (augment_nuclei.py) -------------------------------------------------------


def _rotate_z(image, mask, rng: np.random.Generator):
    from scipy import ndimage

    angle = rng.uniform(-180.0, 180.0)
    image = ndimage.rotate(image, angle, axes=(1, 2), order=1, mode="constant")
    mask = ndimage.rotate(mask.astype(np.float32), angle, axes=(1, 2), order=1) >= 0.5
    return image, mask


def _zoom(image, mask, rng: np.random.Generator):
    from scipy import ndimage

    factors = rng.uniform(0.8, 1.3, size=3)
    image = ndimage.zoom(image, factors, order=1)
    mask = ndimage.zoom(mask.astype(np.float32), factors, order=1) >= 0.5
    return image, mask


def _blur(image, mask, rng: np.random.Generator):
    from scipy import ndimage

    if rng.random() < 0.5:
        return ndimage.gaussian_filter(image, rng.uniform(0.0, 2.5), mode="constant"), mask
    return ndimage.median_filter(image, size=3, mode="constant"), mask


def _elastic(image, mask, rng: np.random.Generator):
    """Simard-style elastic deformation: smoothed random displacements (α, σ in voxels)."""
    from scipy import ndimage

    alpha, sigma = (50.0, 200.0, 200.0), (4.0, 7.5, 7.5)
    grids = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in image.shape), indexing="ij")
    coords = []
    for axis in range(3):
        noise = rng.uniform(-1.0, 1.0, image.shape).astype(np.float32)
        shift = ndimage.gaussian_filter(noise, sigma[axis], mode="constant") * alpha[axis]
        coords.append(grids[axis] + shift)
    warped = ndimage.map_coordinates(image, coords, order=1, mode="reflect")
    warped_mask = ndimage.map_coordinates(mask.astype(np.float32), coords, order=1, mode="reflect")
    return warped.astype(np.float32), warped_mask >= 0.5


def _contrast(image, mask, rng: np.random.Generator):
    """Contrast ×U(0.65, 1.1) about the mean, gamma U(0.5, 1.5); half the time the original
    mean and standard deviation are restored."""
    img = image.astype(np.float64)
    mean0, std0 = img.mean(), img.std()
    img = (img - mean0) * rng.uniform(0.65, 1.1) + mean0
    low, span = img.min(), max(img.max() - img.min(), 1e-7)
    img = ((img - low) / span) ** rng.uniform(0.5, 1.5) * span + low
    if rng.random() < 0.5:
        img = (img - img.mean()) / (img.std() + 1e-8) * std0 + mean0
    return np.clip(img, 0.0, 1.0).astype(np.float32), mask


STEPS = (_rotate_z, _zoom, _blur, _elastic, _contrast)


def augment_prototype(
    p: Prototype, rng: np.random.Generator, probability: float = 0.8
) -> Prototype | None:
    """One random variant of ``p`` (each step applied with ``probability``), or None when
    the deformed mask vanished. The mask is reduced to its largest piece and both arrays are
    cropped to it."""
    image, mask = p.image, p.mask
    for step in STEPS:
        if rng.random() < probability:
            image, mask = step(image, mask, rng)
    mask = _largest_piece(mask)
    if not mask.any():
        return None
    return _crop_to_mask(np.clip(image, 0.0, 1.0).astype(np.float32), mask)


def augment_prototypes(
    prototypes: list[Prototype],
    rng: np.random.Generator,
    *,
    variants: int = 15,
    probability: float = 0.8,
) -> list[Prototype]:
    """The prototypes followed by ``variants`` augmented copies of each (augment_nuclei.py made
    15 per nucleus, each step with p = 0.8). The inputs are not modified."""
    if not 0 <= variants <= MAX_AUGMENT:
        raise BadParameter(f"variants must lie in 0..{MAX_AUGMENT}, got {variants}")
    if not 0.0 <= probability <= 1.0:
        raise BadParameter(f"probability must lie in [0, 1], got {probability}")
    out = list(prototypes)
    for p in prototypes:
        for _ in range(variants):
            variant = augment_prototype(p, rng, probability)
            if variant is not None:
                out.append(variant)
    return out
