"""The dual model's fitted stochastic motion model (celltool_dual.motion): fitting recovers
known drift, growth and division rates; sampling keeps cells, moves them by the fitted amount,
grows and divides them at the fitted rates, and is reproducible from its seed."""

from __future__ import annotations

import numpy as np
import pytest
from celltool_dual.motion import (
    MotionModel,
    MotionSampler,
    count_objects,
    fit_motion,
    signed_distance,
)
from celltool_simulate.toy import moving_cells


def _discs(centres, radius: float, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((size, size), bool)
    for cy, cx in centres:
        mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    return mask


def test_fit_recovers_drift_of_toy_cells():
    images, masks = moving_cells(12, 64, cells=5, velocity=(0.0, 1.0), seed=1)
    model = fit_motion(images, [m > 0 for m in masks])
    # Farnebäck on blurred toy cells sees most of the +1 px/frame translation
    assert 0.6 < model.drift_x < 1.2
    assert abs(model.drift_y) < 0.2
    assert model.sigma_x < model.drift_x
    assert abs(model.growth) < 0.01 and model.births < 0.01  # five cells, no growth


def _growing_discs(frames: int = 41) -> list[np.ndarray]:
    """Coverage doubling every 20 frames, count doubling every 40 (from 4 to 8 discs)."""
    centres = [(12, 12), (12, 44), (44, 12), (44, 44), (28, 28), (12, 28), (44, 28), (28, 12)]
    masks = []
    for t in range(frames):
        n = int(4 * 2 ** (t / 40))
        area = 160 * 2 ** (t / 20) / n  # total area 160·2^(t/20), split over n discs
        masks.append(_discs(centres[:n], np.sqrt(area / np.pi)))
    return masks


def test_fitted_growth_and_births_reproduce_the_observed_trend():
    """Fit on growing, dividing discs; samples from the first mask follow the real coverage
    and count to the last frame (the rates are calibrated by sampling, so the model's pixel
    grid effects are accounted for)."""
    masks = _growing_discs()
    images = [(60 + 150 * m).astype(np.uint8) for m in masks]
    model = fit_motion(images, masks)
    assert model.growth > 0 and model.births > 0
    cover, counts = [], []
    for seed in range(4):
        sampler = MotionSampler(model, masks[0], np.random.default_rng(seed))
        for _ in range(40):
            last = sampler.step()
        cover.append(last.mean())
        counts.append(count_objects(last))
    assert np.mean(cover) == pytest.approx(masks[40].mean(), rel=0.2)
    assert 5 <= np.mean(counts) <= 11  # real: 4 → 8


def test_signed_distance_zero_level_is_the_mask():
    mask = _discs([(20, 30)], 6.5)
    sdf = signed_distance(mask)
    assert np.array_equal(sdf < 0, mask)
    assert sdf.min() < -5 and np.all(np.abs(sdf[mask & ~np.roll(mask, 1, 0)]) <= 0.5 + 1e-6)


def test_sampler_moves_cells_by_the_drift_and_keeps_them():
    mask = _discs([(20, 20), (40, 40), (20, 44)], 5)
    model = MotionModel(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, drift_y=0.0, drift_x=0.5)
    sampler = MotionSampler(model, mask, np.random.default_rng(0))
    assert np.array_equal(sampler.mask, mask)
    for _ in range(8):
        moved = sampler.step()
    # 8 steps of +0.5 px: the discs are 4 px to the right, same shape and number
    assert count_objects(moved) == 3
    assert np.array_equal(moved, np.roll(mask, 4, axis=1))
    image = np.where(mask, 200.0, 50.0)
    sampler.step()  # 4.5 px in all: the start image carried along
    carried = sampler.warp(image)
    assert np.allclose(carried[20, 20:30], 200)  # the disc spanned columns 15..25
    assert carried[20, 19] == pytest.approx(125.0)  # half a pixel of each edge
    assert carried[20, 30] == pytest.approx(125.0)


def test_sampler_random_field_has_the_fitted_amount():
    model = MotionModel(0.3, 0.2, 0.5, 4.0, 0.0, 0.0)
    sampler = MotionSampler(model, _discs([(32, 32)], 8), np.random.default_rng(3))
    fields = []
    for _ in range(30):
        sampler.step()
        fields.append(sampler.field.copy())
    f = np.stack(fields)
    assert f[..., 0].std() == pytest.approx(0.3, rel=0.25)
    assert f[..., 1].std() == pytest.approx(0.2, rel=0.25)
    lag1 = np.corrcoef(f[:-1, ..., 0].ravel(), f[1:, ..., 0].ravel())[0, 1]
    assert lag1 == pytest.approx(0.5, abs=0.15)


def test_sampler_grows_and_divides():
    centres = [(12 + 20 * i, 12 + 20 * j) for i in range(3) for j in range(3)]
    mask = _discs(centres, 5)
    model = MotionModel(0.0, 0.0, 0.0, 0.0, growth=0.03, births=0.03)
    counts, cover = [], []
    for seed in range(4):
        sampler = MotionSampler(model, mask, np.random.default_rng(seed))
        for _ in range(20):
            last = sampler.step()
        counts.append(count_objects(last))
        cover.append(last.mean())
    # the discs grow (nominal area ×e^0.6; on the pixel grid less) and divide (9 → 16 nominal)
    assert 1.2 < np.mean(cover) / mask.mean() < 1.9
    assert 11 <= np.mean(counts) <= 20
    no_change = MotionSampler(
        MotionModel(0.0, 0.0, 0.0, 0.0, 0.0, 0.0), mask, np.random.default_rng(0)
    )
    assert np.array_equal(no_change.step(), mask)


def test_cells_leaving_an_edge_come_back_at_the_other():
    mask = _discs([(32, 60)], 4)
    model = MotionModel(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, drift_x=1.0)
    sampler = MotionSampler(model, mask, np.random.default_rng(0))
    for _ in range(8):
        moved = sampler.step()
    assert moved.sum() == mask.sum()
    assert np.array_equal(moved, np.roll(mask, 8, axis=1))


def test_sampler_is_reproducible_from_its_seed():
    mask = _discs([(20, 20), (40, 40)], 6)
    model = MotionModel(0.4, 0.4, 0.3, 3.0, 0.01, 0.05)

    def run(seed: int) -> np.ndarray:
        sampler = MotionSampler(model, mask, np.random.default_rng(seed))
        return np.stack([sampler.step() for _ in range(10)])

    assert np.array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_fit_refuses_too_few_frames():
    with pytest.raises(ValueError, match="3 or more frames"):
        fit_motion([np.zeros((8, 8))] * 2, [np.zeros((8, 8), bool)] * 2)
