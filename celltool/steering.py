"""Choose n of M generated samples so that their mean statistics hit targets (numpy only).

A generator learns its training data's density: the number of cells per image and the area
they cover. A user who wants denser or sparser images than that (a later time point of a
growing culture, a confluent well) asks for a mean object count and/or coverage; the generator
draws a pool of M > n candidates and :func:`steer` keeps n of them.

The choice is an exponential tilt: candidate i gets the weight exp(λ · f_i), where f_i holds
its statistics relative to the targets (value / target − 1), and the inclusion probability
π_i = min(1, c · w_i) with Σ π_i = n (sampling proportional to size, capped at one so no
candidate is taken twice). λ is solved so that the expected mean of the kept samples, Σ π_i f_i
/ n, is zero: the targets. Of all reweightings of the pool that hit the targets, the tilt
changes the pool's distribution least (it minimises the Kullback–Leibler divergence), so the
kept samples are still the model's, only more of the dense ones (or the sparse ones).
Systematic sampling along the tilt then keeps exactly n distinct candidates with those
probabilities. A target outside what the pool can reach is approached as far as the bound on
λ allows; ``Steering.reached`` says so.

A statistic can also be a mean over objects rather than over images (the mean distance from a
cell to its nearest neighbour): give each sample's own mean x_i and its weight w_i (the
objects it holds) and the kept value is Σ w_i x_i / Σ w_i. Its f_i is w_i (x_i / target − 1)
/ mean(w), so that a zero mean of f is that target, and a sample with w_i = 0 is neutral.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

LAMBDA_MAX = 30.0  # bound on each tilt coefficient: weights span at most e^(2·30·|f| range)
TOLERANCE = 0.02  # |expected mean / target − 1| within this counts as reached


@dataclass(frozen=True)
class Steering:
    chosen: np.ndarray  # sorted indices into the pool, n of them
    tilt: dict[str, float]  # λ per statistic
    pool_mean: dict[str, float]  # mean of each statistic over the pool
    expected: dict[str, float]  # expected mean of the kept samples under the tilt
    kept_mean: dict[str, float]  # mean of the samples actually kept
    reached: bool  # every expected mean within TOLERANCE of its target


def inclusion(log_weights: np.ndarray, n: int) -> np.ndarray:
    """π_i = min(1, c · w_i) with Σ π_i = n, from log-weights (any scale)."""
    w = np.exp(np.clip(log_weights - log_weights.max(), -60.0, 0.0))
    capped = np.zeros(len(w), bool)
    while True:
        free = ~capped
        pi = np.where(capped, 1.0, w * (n - capped.sum()) / w[free].sum())
        over = free & (pi >= 1.0)
        if not over.any() or capped.sum() + over.sum() > n:
            return np.minimum(pi, 1.0)
        capped |= over


def systematic(pi: np.ndarray, score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices drawn with inclusion probabilities pi (each ≤ 1, summing to n): exactly n,
    distinct, in increasing order. Candidates are lined up by ``score`` (ties in a random
    order) before the systematic draw, which stratifies the draw along the score: the kept
    mean then stays close to its expectation."""
    n = int(round(pi.sum()))
    order = np.lexsort((rng.permutation(len(pi)), score))
    edges = np.cumsum(pi[order])
    edges *= n / edges[-1]
    points = rng.uniform() + np.arange(n)
    hits = np.minimum(np.searchsorted(edges, points, side="right"), len(pi) - 1)
    return np.sort(order[hits])


def weighted_mean(x: np.ndarray, w: np.ndarray, pi: np.ndarray | None = None) -> float:
    """Σ p_i w_i x_i / Σ p_i w_i (p = 1 when not given; NaN when no weight)."""
    p = np.ones(len(x)) if pi is None else pi
    total = float(np.sum(p * w))
    return float(np.sum(p * w * np.where(w > 0, x, 0.0)) / total) if total > 0 else float("nan")


def relative(x: np.ndarray, w: np.ndarray, target: float) -> np.ndarray:
    """f_i of the module doc: w_i (x_i / target − 1) / mean(w) (0 where w_i = 0)."""
    scale = float(np.mean(w))
    if not scale > 0:
        return np.zeros(len(x))
    return w * (np.where(w > 0, x, target) / target - 1.0) / scale  # x is NaN where w = 0


def steer(
    stats: Mapping[str, np.ndarray],
    targets: Mapping[str, float],
    n: int,
    rng: np.random.Generator,
    weights: Mapping[str, np.ndarray] | None = None,
) -> Steering:
    """Keep n of the M pooled samples so that the mean of ``stats[k]`` approaches
    ``targets[k]`` for every k in ``targets`` (see the module doc). ``stats`` holds one
    length-M array per statistic; targets must be > 0. ``weights[k]``, where given, makes k a
    mean over objects: ``stats[k]`` holds each sample's own mean, ``weights[k]`` its objects."""
    from scipy.optimize import minimize

    names = list(targets)
    m = len(next(iter(stats.values())))
    if not 0 < n <= m:
        raise ValueError(f"cannot keep {n} of a pool of {m}")
    if any(not targets[k] > 0 for k in names):
        raise ValueError(f"targets must be > 0: {dict(targets)}")
    w = {k: np.asarray((weights or {}).get(k, np.ones(m)), float) for k in names}
    x = {k: np.asarray(stats[k], float) for k in names}
    f = np.stack([relative(x[k], w[k], targets[k]) for k in names], axis=1)

    def expected(lam: np.ndarray) -> np.ndarray:
        return inclusion(f @ lam, n) @ f / n

    def miss(lam: np.ndarray) -> float:
        return float(np.sum(expected(lam) ** 2))

    bounds = [(-LAMBDA_MAX, LAMBDA_MAX)] * len(names)
    start = np.zeros(len(names))
    best = minimize(miss, start, method="Nelder-Mead", bounds=bounds,
                    options={"xatol": 1e-4, "fatol": 1e-10, "maxiter": 2000})  # fmt: skip
    lam = best.x if best.fun <= miss(start) else start
    pi = inclusion(f @ lam, n)
    chosen = systematic(pi, f @ lam, rng)
    kept = np.zeros(m)
    kept[chosen] = 1.0
    exp_mean = {k: weighted_mean(x[k], w[k], pi) for k in names}
    return Steering(
        chosen=chosen,
        tilt={k: float(v) for k, v in zip(names, lam, strict=True)},
        pool_mean={k: weighted_mean(x[k], w[k]) for k in names},
        expected=exp_mean,
        kept_mean={k: weighted_mean(x[k], w[k], kept) for k in names},
        reached=all(abs(exp_mean[k] / targets[k] - 1) <= TOLERANCE for k in names),
    )


def label_statistics(labels: np.ndarray) -> tuple[float, float, float, int]:
    """What steering reads of one label map: objects, foreground fraction, the mean distance
    from each object's centroid to its nearest neighbour's (NaN below two objects) and how many
    distances that mean holds (its weight)."""
    from celltool.labels import centroid_spacing, label_density

    count, coverage = label_density(labels)
    spacing = centroid_spacing(labels)
    nn = float(spacing.mean()) if spacing.size else float("nan")
    return float(count), coverage, nn, int(spacing.size)


def steer_labels(
    values: Sequence[tuple[float, float, float, int]],
    targets: Mapping[str, float],
    n: int,
    rng: np.random.Generator,
) -> Steering:
    """:func:`steer` over label maps, given their :func:`label_statistics`: targets for any of
    ``count``, ``coverage`` (means per image) and ``nn_distance`` (a mean over objects)."""
    count, coverage, nn, pairs = (np.array(v, float) for v in zip(*values, strict=True))
    stats = {"count": count, "coverage": coverage, "nn_distance": nn}
    return steer(stats, targets, n, rng, weights={"nn_distance": pairs})
