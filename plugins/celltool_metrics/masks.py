"""Mask metrics: a SET of generated masks or label maps against a set of real ones.

No pairing: generated masks are samples, so every metric compares distributions over the whole
sets. The statistics themselves live in :mod:`celltool.mask_statistics` (re-exported here).
As registered metrics (``DistributionMetricInfo``, kind ``distribution``) they are
objects with ``features(image, **params)`` per image (run in worker processes) and
``compare(real_features, gen_features, **params)`` over the two sets; as functions,
:func:`shape_statistics` and :func:`merge_split` take both sets of arrays at once.

The shape statistics (count, coverage, area, eccentricity, solidity, perimeter²/area,
nearest-neighbour distance, each compared as W1/std(real)) are described there; here
:func:`merge_split` adds how often objects look merged or split.

KID and FID (:mod:`celltool_metrics.inception`) use Inception-v3 features trained on
photographs: they are off-domain for binary masks; report them after the shape statistics.

Inputs: as :func:`celltool.mask_statistics.as_labels`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool.mask_statistics import (
    IMAGE_STATS,
    SHAPES,
    as_labels,
    collect,
    combine,
    compare,
    image_features,
    normalized_wasserstein,
    object_table,
    relative_difference,
    shape_statistics,
)

__all__ = [
    "SHAPES",
    "IMAGE_STATS",
    "as_labels",
    "object_table",
    "image_features",
    "combine",
    "collect",
    "normalized_wasserstein",
    "compare",
    "shape_statistics",
    "relative_difference",
    "merge_split",
    "area_fractions",
    "touching_split",
    "MaskShapes",
    "MergeSplit",
]


def merge_split(
    real: Sequence[np.ndarray], generated: Sequence[np.ndarray], *, factor: float = 2.0
) -> dict[str, float]:
    """How often objects look merged or split, against the real objects' sizes: the fraction
    of interior objects larger than ``factor`` × the real median area (``large_*``: merged
    neighbours) and smaller than median / ``factor`` (``small_*``: fragments), real and
    generated. A generator that merges touching cells shows ``large_gen`` ≫ ``large_real``."""
    return area_fractions(collect(real)["area"], collect(generated)["area"], factor)


def area_fractions(a: np.ndarray, b: np.ndarray, factor: float = 2.0) -> dict[str, float]:
    """:func:`merge_split` from the interior object areas of both sets."""
    if a.size == 0:
        return {k: float("nan") for k in ("large_real", "large_gen", "small_real", "small_gen")}
    median = float(np.median(a))
    return {
        "median_area_real": median,
        "large_real": _fraction(a > factor * median),
        "large_gen": _fraction(b > factor * median),
        "small_real": _fraction(a < median / factor),
        "small_gen": _fraction(b < median / factor),
    }


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    if not parts:
        return np.zeros(0)
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])


def _fraction(flags: np.ndarray) -> float:
    return float(flags.mean()) if flags.size else float("nan")


def touching_split(components_maps: Sequence[np.ndarray], instance_maps: Sequence[np.ndarray]):
    """For generated outputs: the fraction of connected components of the foreground that the
    instance map splits into ≥ 2 cells (touching cells that thresholding alone would merge)."""
    total = split = 0
    for comps, inst in zip(components_maps, instance_maps, strict=True):
        c, i = as_labels(comps).ravel(), np.asarray(inst).ravel()
        both = (c > 0) & (i > 0)
        pairs = np.unique(np.stack([c[both], i[both]]), axis=1)
        per_comp = np.bincount(pairs[0], minlength=int(c.max()) + 1)[1:]
        total += int((per_comp > 0).sum())
        split += int((per_comp > 1).sum())
    return {"components": total, "split_components": split,
            "split_fraction": split / total if total else float("nan")}  # fmt: skip


# -- the registered distribution metrics (celltool.contracts.DistributionMetricInfo) ---------
class MaskShapes:
    """``mask_shapes``: per image :func:`image_features`, over the sets :func:`compare`."""

    def features(self, image: np.ndarray, *, mask_min_size: int = 1, **_: object) -> dict:
        return image_features(image, int(mask_min_size))

    def compare(self, real: Sequence[dict], gen: Sequence[dict], **_: object) -> dict:
        return compare(combine(real), combine(gen))


class MergeSplit:
    """``mask_merge_split``: per image the interior object areas, over the sets
    :func:`area_fractions`."""

    def features(self, image: np.ndarray, **_: object) -> np.ndarray:
        return np.asarray(image_features(image)["area"])

    def compare(self, real: Sequence[np.ndarray], gen: Sequence[np.ndarray], **_: object):
        return area_fractions(_cat(list(real)), _cat(list(gen)))


mask_shapes = MaskShapes()
mask_merge_split = MergeSplit()
