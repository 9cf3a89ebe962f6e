"""celltool.steering: keep n of M samples whose mean statistics hit targets."""

from __future__ import annotations

import numpy as np
import pytest

from celltool.steering import inclusion, steer, systematic


def pool(m: int = 1600, seed: int = 0) -> dict[str, np.ndarray]:
    """Counts ~ Poisson(3) and a coverage that grows with the count, as generated masks."""
    rng = np.random.default_rng(seed)
    count = rng.poisson(3.0, m).astype(float)
    coverage = np.clip(0.02 * count + rng.normal(0, 0.01, m), 0, 1)
    return {"count": count, "coverage": coverage}


def test_inclusion_probabilities_sum_to_n_and_are_capped_at_one():
    log_w = np.array([10.0, 0.0, 0.0, 0.0, 0.0, -5.0])
    pi = inclusion(log_w, 3)
    assert pi.sum() == pytest.approx(3.0) and pi.max() == pytest.approx(1.0)
    assert pi[0] == 1.0 and pi[1] == pytest.approx(pi[2]) and pi[5] < pi[1]
    assert np.allclose(inclusion(np.zeros(8), 2), 0.25)  # no tilt: n/M each


def test_systematic_draw_keeps_exactly_n_distinct_with_the_given_probabilities():
    pi = inclusion(np.linspace(-1, 1, 10), 4)
    hits = np.zeros(10)
    for r in range(4000):
        chosen = systematic(pi, np.linspace(-1, 1, 10), np.random.default_rng(r))
        assert len(chosen) == 4 and len(set(chosen.tolist())) == 4
        assert np.all(np.diff(chosen) > 0)
        hits[chosen] += 1
    assert np.allclose(hits / 4000, pi, atol=0.03)


def test_steer_hits_both_targets_and_moves_the_kept_means():
    stats = pool()
    targets = {"count": 3.6, "coverage": 0.075}  # the pool's means are ~3.0 and ~0.060
    result = steer(stats, targets, 400, np.random.default_rng(1))
    assert result.reached and len(set(result.chosen.tolist())) == 400
    assert result.pool_mean["count"] == pytest.approx(stats["count"].mean())
    for key, target in targets.items():
        assert result.expected[key] == pytest.approx(target, rel=0.02)
        assert result.kept_mean[key] == pytest.approx(target, rel=0.04)
        assert abs(result.kept_mean[key] - target) < abs(result.pool_mean[key] - target) / 3
    again = steer(stats, targets, 400, np.random.default_rng(1))
    assert np.array_equal(again.chosen, result.chosen)  # seeded: the same choice


def test_steer_to_the_pool_mean_barely_tilts_and_lower_targets_tilt_the_other_way():
    stats = pool()
    flat = steer({"count": stats["count"]}, {"count": stats["count"].mean()}, 400,
                 np.random.default_rng(2))  # fmt: skip
    assert abs(flat.tilt["count"]) < 1e-3 and flat.reached
    low = steer({"count": stats["count"]}, {"count": 2.0}, 400, np.random.default_rng(2))
    assert low.tilt["count"] < 0 and low.kept_mean["count"] == pytest.approx(2.0, rel=0.05)


def test_an_unreachable_target_is_reported_and_approached():
    stats = pool()
    result = steer({"count": stats["count"]}, {"count": 9.0}, 400, np.random.default_rng(3))
    assert not result.reached
    top = np.sort(stats["count"])[-400:].mean()  # the densest 400 are as far as it can go
    assert result.kept_mean["count"] > 0.95 * top


def test_bad_requests_raise():
    stats = pool(10)
    with pytest.raises(ValueError, match="cannot keep 11"):
        steer(stats, {"count": 3.0}, 11, np.random.default_rng(0))
    with pytest.raises(ValueError, match="> 0"):
        steer(stats, {"count": 0.0}, 5, np.random.default_rng(0))


def test_a_mean_over_objects_is_steered_as_a_ratio_of_sums():
    # each sample: its objects (weight) and their mean nearest-neighbour distance, which
    # shrinks as the sample gets denser; samples with < 2 objects have no distance (weight 0)
    stats = pool()
    rng = np.random.default_rng(5)
    objects = np.where(stats["count"] >= 2, stats["count"], 0.0)
    spacing = np.where(objects > 0, 40 / np.sqrt(np.maximum(objects, 1)) + rng.normal(0, 2, 1600),
                       np.nan)  # fmt: skip
    pool_spacing = np.nansum(spacing * objects) / objects.sum()
    target = 0.9 * pool_spacing
    result = steer({"nn": spacing, "count": stats["count"]}, {"nn": target, "count": 3.0}, 400,
                   np.random.default_rng(6), weights={"nn": objects})  # fmt: skip
    assert result.reached and result.pool_mean["nn"] == pytest.approx(pool_spacing)
    kept = result.chosen
    kept_spacing = np.nansum(spacing[kept] * objects[kept]) / objects[kept].sum()
    assert result.kept_mean["nn"] == pytest.approx(kept_spacing)
    assert kept_spacing == pytest.approx(target, rel=0.03)  # the ratio, not the mean of means
    assert result.kept_mean["count"] == pytest.approx(3.0, rel=0.05)  # held while nn moves
    unweighted = np.nanmean(spacing[kept])
    assert abs(unweighted - kept_spacing) > 0.2  # the two means differ: the weights matter
