"""What unet-seg learns from an instance label map, and instances back from its predictions
(numpy in, numpy out).

- ``boundary`` (3 classes): 0 background, 1 cell interior, 2 cell boundary (the object's own
  pixels next to background or another object). Instances: seeds are connected interiors
  (p_interior > seed_threshold), the mask is p_interior + p_boundary > fg_threshold, and a
  marker watershed on −p_interior grows the seeds over the mask; mask components without a
  seed (thin cells that are all boundary) become objects of their own.
- ``distance``: foreground plus each object's Euclidean distance transform divided by its
  maximum (1 at the object's centre). Instances: seeds are connected regions with
  distance > seed_threshold, watershed on −distance over p_fg > fg_threshold.
"""

from __future__ import annotations

import numpy as np

TARGETS = ("boundary", "distance")
N_OUT = {"boundary": 3, "distance": 2}


def boundary_classes(labels: np.ndarray) -> np.ndarray:
    """uint8 map: 0 background, 1 interior, 2 boundary (inner boundaries of every object)."""
    from skimage.segmentation import find_boundaries

    labels = np.asarray(labels)
    out = (labels > 0).astype(np.uint8)
    out[find_boundaries(labels, mode="inner") & (labels > 0)] = 2
    return out


def normalised_distance(labels: np.ndarray) -> np.ndarray:
    """float32 map: per object, its distance transform divided by its maximum (0 outside)."""
    from scipy import ndimage

    labels = np.asarray(labels)
    out = np.zeros(labels.shape, np.float32)
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        padded = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        obj = labels[padded] == i
        d = ndimage.distance_transform_edt(obj)
        if d.max() > 0:
            out[padded][obj] = (d / d.max())[obj]
    return out


def make_target(labels: np.ndarray, mode: str) -> np.ndarray:
    """The training target of one label map: (H, W) uint8 classes, or (2, H, W) float32
    foreground and normalised distance."""
    if mode == "boundary":
        return boundary_classes(labels)
    if mode == "distance":
        return np.stack([(labels > 0).astype(np.float32), normalised_distance(labels)])
    raise ValueError(f"unknown targets {mode!r} (one of {', '.join(TARGETS)})")


def instances(
    maps: np.ndarray, mode: str, *, fg_threshold: float = 0.5, seed_threshold: float = 0.5
) -> np.ndarray:
    """Instance labels (int32, 1..N) from the network's per-pixel maps: ``boundary``:
    softmax probabilities (3, ...); ``distance``: (p_fg, distance) (2, ...)."""
    from scipy import ndimage
    from skimage.segmentation import watershed

    if mode == "boundary":
        mask = maps[1] + maps[2] > fg_threshold
        height = maps[1]
    else:
        mask = maps[0] > fg_threshold
        height = maps[1]
    structure = np.ones((3,) * mask.ndim, bool)
    seeds, n = ndimage.label((height > seed_threshold) & mask, structure=structure)
    labels = watershed(-height, seeds, mask=mask) if n else np.zeros(mask.shape, np.int32)
    rest, m = ndimage.label(mask & (labels == 0), structure=structure)
    labels = np.where(rest > 0, rest + labels.max(), labels)
    return labels.astype(np.int32)
