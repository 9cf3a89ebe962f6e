"""Shape statistics of a SET of masks or label maps against a set of real ones (numpy only).

No pairing: generated masks are samples, so every statistic compares distributions over the
whole sets. The core holds them because more than one family uses them: the metrics plugin
registers them as ``celltool evaluate`` metrics (``mask_shapes``), and the StyleGAN plugin uses
them to choose how its channels are split into cells (``--split-reference``).

Shape statistics (lead with these; they are in the masks' own terms):

- per image: object count and coverage (foreground fraction);
- per object: area (px), eccentricity (of the moment ellipse), solidity (area / convex hull
  area), perimeter²/area (4π for a disc; rough outlines score higher), and the distance from its
  centroid to the nearest other centroid in the same image (px).

Each distribution is compared by the 1-D Wasserstein distance W1 (the mean absolute
difference of the quantile functions) **normalised by the standard deviation of the real
distribution**: ``W1 / std(real)`` — scale-free, 0 for identical distributions, about 1 when the
generated distribution is shifted by one real standard deviation. Objects touching the image
border are left out of the per-object shape statistics (they are cut by the crop; count,
coverage and nearest-neighbour distances use every object).

Inputs: 2-D arrays. bool/uint8 arrays are masks (> 127 = cell, or True/1 for 0/1 masks) whose
instances are their 8-connected components; wider integer types are instance label maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool.labels import nearest_neighbour

SHAPES = ("area", "eccentricity", "solidity", "perimeter2_area")
IMAGE_STATS = ("count", "coverage")
STATISTICS = SHAPES + ("nn_distance",) + IMAGE_STATS  # every distribution compare() scores


def as_labels(array: np.ndarray) -> np.ndarray:
    """Instance labels of a mask or label map (see the module docstring)."""
    from scipy import ndimage

    a = np.asarray(array)
    if a.ndim == 3:
        a = a[..., 0]
    if a.dtype == np.bool_ or a.dtype == np.uint8:
        fg = a > (0 if a.dtype == np.bool_ or a.max() <= 1 else 127)
        labels, _ = ndimage.label(fg, structure=np.ones((3, 3), bool))
        return labels
    if a.dtype.kind == "f":
        raise ValueError("float images are not masks: give a binary mask or a label map")
    return a.astype(np.int64)


def object_table(labels: np.ndarray, min_size: int = 1) -> dict[str, np.ndarray]:
    """Per-object area, eccentricity, solidity, perimeter²/area, centroid and border flag."""
    from skimage.measure import regionprops_table

    props = regionprops_table(
        labels.astype(np.int32),
        properties=("area", "eccentricity", "solidity", "perimeter", "centroid", "bbox"),
    )
    area = np.asarray(props["area"], dtype=np.float64)
    keep = area >= min_size
    h, w = labels.shape
    border = (
        (props["bbox-0"] == 0) | (props["bbox-1"] == 0) | (props["bbox-2"] == h)
        | (props["bbox-3"] == w)
    )  # fmt: skip
    perimeter = np.asarray(props["perimeter"], dtype=np.float64)
    table = {
        "area": area,
        "eccentricity": np.asarray(props["eccentricity"], dtype=np.float64),
        "solidity": np.asarray(props["solidity"], dtype=np.float64),
        "perimeter2_area": perimeter**2 / np.maximum(area, 1),
        "cy": np.asarray(props["centroid-0"], dtype=np.float64),
        "cx": np.asarray(props["centroid-1"], dtype=np.float64),
        "border": np.asarray(border, dtype=bool),
    }
    return {k: v[keep] for k, v in table.items()}


def image_features(array: np.ndarray, min_size: int = 1) -> dict[str, np.ndarray | float]:
    """One image's statistics (small, picklable): count and coverage, the shapes of its interior
    objects, the nearest-neighbour distances of all its objects."""
    labels = as_labels(array)
    t = object_table(labels, min_size)
    sizes = np.bincount(labels.ravel())
    kept = np.flatnonzero(sizes >= min_size)
    coverage = float(sizes[kept[kept > 0]].sum() / labels.size)
    out: dict[str, np.ndarray | float] = {"count": float(len(t["area"])), "coverage": coverage}
    for k in SHAPES:
        out[k] = t[k][~t["border"]]
    out["nn_distance"] = nearest_neighbour(np.stack([t["cy"], t["cx"]], axis=1))
    return out


def combine(features: Sequence[dict]) -> dict[str, np.ndarray]:
    """Per-image features → the set's distributions (per-image count/coverage, all objects)."""
    out: dict[str, np.ndarray] = {}
    for k in IMAGE_STATS:
        out[k] = np.asarray([f[k] for f in features], dtype=np.float64)
    for k in SHAPES + ("nn_distance",):
        parts = [np.asarray(f[k], dtype=np.float64) for f in features]
        out[k] = np.concatenate(parts) if parts else np.zeros(0)
    return out


def collect(maps: Sequence[np.ndarray], min_size: int = 1) -> dict[str, np.ndarray]:
    """All statistics of a set of masks or label maps (see :func:`combine`)."""
    return combine([image_features(m, min_size) for m in maps])


def normalized_wasserstein(real: np.ndarray, gen: np.ndarray) -> float:
    """W1(real, gen) / std(real) (NaN when a side is empty; W1 alone when the real values have
    no spread beyond rounding)."""
    from scipy.stats import wasserstein_distance

    real, gen = np.asarray(real, float), np.asarray(gen, float)
    if real.size == 0 or gen.size == 0:
        return float("nan")
    w = float(wasserstein_distance(real, gen))
    std = float(real.std())
    spread = std > 1e-9 * max(float(np.abs(real).mean()), 1.0)  # not rounding noise
    return w / std if spread else w


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Normalised W1 of every distribution (``<stat>_w``), the means of both sets
    (``<stat>_real``, ``<stat>_gen``) and the relative error of the mean count and coverage
    per image (``count_rel_error`` = |mean_gen − mean_real| / mean_real), signed with its 95 %
    bootstrap interval (``count_rel_diff``, ``count_rel_low``, ``count_rel_high``:
    :func:`relative_difference`, seeded, so the numbers repeat)."""
    out: dict[str, float] = {}
    for k in STATISTICS:
        out[f"{k}_w"] = normalized_wasserstein(a[k], b[k])
        out[f"{k}_real"] = float(a[k].mean()) if a[k].size else float("nan")
        out[f"{k}_gen"] = float(b[k].mean()) if b[k].size else float("nan")
    for k in IMAGE_STATS:
        ref = out[f"{k}_real"]
        out[f"{k}_rel_error"] = abs(out[f"{k}_gen"] - ref) / ref if ref else float("nan")
        diff = relative_difference(a[k], b[k], np.random.default_rng(0))
        out[f"{k}_rel_diff"], out[f"{k}_rel_low"], out[f"{k}_rel_high"] = diff
    out["objects_real"], out["objects_gen"] = float(a["area"].size), float(b["area"].size)
    return out


def shape_statistics(
    real: Sequence[np.ndarray], generated: Sequence[np.ndarray], *, mask_min_size: int = 1
) -> dict[str, float]:
    """:func:`compare` of two sets of masks or label maps (set-level, unpaired)."""
    return compare(collect(real, mask_min_size), collect(generated, mask_min_size))


def relative_difference(
    real: Sequence[float],
    gen: Sequence[float],
    rng: np.random.Generator,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """mean(gen) / mean(real) − 1 (signed: −0.2 is 20 % low) and its percentile-bootstrap
    interval: both sets resampled with replacement, independently, ``n_boot`` times from the
    numpy Generator ``rng``. For per-image count or coverage (``collect(maps)["count"]``), so a
    bar such as "within 20 %" can be read with its sampling error."""
    if not 1 <= n_boot <= 100_000 or not 0 < level < 1:
        raise ValueError(f"n_boot {n_boot} (1..100000) or level {level} (0..1) out of range")
    a, b = np.asarray(real, np.float64), np.asarray(gen, np.float64)
    if a.size == 0 or b.size == 0 or a.mean() == 0:
        return float("nan"), float("nan"), float("nan")
    ra, rb = _resampled_means(a, n_boot, rng), _resampled_means(b, n_boot, rng)
    ratios = rb / np.where(ra > 0, ra, np.nan) - 1
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(ratios, [tail, 100 - tail])
    return float(b.mean() / a.mean() - 1), float(low), float(high)


def _resampled_means(v: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` resamples with replacement, drawn in blocks of ~4 M indices."""
    block = max(1, 4_000_000 // v.size)
    parts = [v[rng.integers(0, v.size, size=(min(block, n_boot - i), v.size))].mean(axis=1)
             for i in range(0, n_boot, block)]  # fmt: skip
    return np.concatenate(parts)
