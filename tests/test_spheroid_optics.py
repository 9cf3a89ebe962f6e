"""Spheroid simulator physics: depth attenuation, PSFs, the depth-variant convolution,
resampling and PSF-grown labels (small arrays, seconds)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from celltool_spheroid import optics, psf, resample
from scipy import ndimage


def test_f2p_matches_the_published_values():
    # cell_data_synthesis: f2p with B = 150 gives 0.68 / 0.40 / 0.18 / 0.047 at 10/25/50/100
    got = optics.attenuation(np.array([10, 25, 50, 100]), "f2p", 150.0)
    assert np.allclose(got, [0.68, 0.40, 0.18, 0.047], atol=0.006)
    assert optics.attenuation(np.array([0.0]), "f2p", 150.0)[0] == 1.0


@pytest.mark.parametrize("law", optics.LAWS)
def test_every_law_is_a_clipped_decreasing_factor(law):
    depth = np.arange(0, 300, 7, dtype=np.float32)
    f = optics.attenuation(depth, law, 120.0, z_size=80)
    assert f.shape == depth.shape and np.all((f >= 0) & (f <= 1))
    assert np.all(np.diff(f) <= 1e-7)
    if law == "none":
        assert np.all(f == 1)
    if law == "fOld":  # never below 0.2
        assert f.min() >= 0.2 - 1e-6


def test_unknown_law_is_refused():
    with pytest.raises(ValueError, match="unknown attenuation law"):
        optics.attenuation(np.zeros(3), "f9")


def _attenuation_by_loop(emitter, mask, b, per_unit):
    """The original's per-column loop (its 'columns with ≤ 1 mask voxel' skip aside)."""
    out = emitter.astype(np.float64).copy()
    for y in range(mask.shape[1]):
        for x in range(mask.shape[2]):
            for k, z in enumerate(np.flatnonzero(mask[:, y, x])):
                out[z, y, x] *= min(max((k / per_unit / b + 1) ** -6, 0), 1)
    return out


def test_vectorised_attenuation_equals_the_column_loop():
    rng = np.random.default_rng(0)
    mask = rng.random((23, 9, 11)) < 0.6  # holes: depth counts mask voxels only
    emitter = (rng.random(mask.shape) * mask).astype(np.float32)
    expected = _attenuation_by_loop(emitter, mask, 30.0, 1.7)
    got = emitter.copy()
    optics.apply_attenuation(got, mask, law="f2p", b=30.0, slices_per_unit=1.7, chunk=5)
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-7)
    outside = np.where(mask, 0, 3).astype(np.float32)  # voxels outside the mask are left alone
    optics.apply_attenuation(outside, mask, b=30.0)
    assert np.all(outside[~mask] == 3)


def test_attenuation_is_vectorised_not_a_voxel_loop():
    # 4 M voxels; a Python voxel loop (the original: ~0.6 µs per voxel) needs seconds
    mask = np.ones((64, 256, 256), bool)
    emitter = np.ones(mask.shape, np.float32)
    start = time.process_time()
    optics.apply_attenuation(emitter, mask, b=150.0)
    assert time.process_time() - start < 1.5
    assert np.allclose(emitter[:, 0, 0], optics.attenuation(np.arange(64), "f2p", 150.0))


def test_blur_is_a_true_convolution_not_a_correlation():
    rng = np.random.default_rng(1)
    kernel = rng.random((3, 5, 3)).astype(np.float32)
    kernel[0, 0, 0] = 5  # strongly asymmetric
    kernel /= kernel.sum()
    delta = np.zeros((9, 13, 11), np.float32)
    delta[4, 6, 5] = 1
    out = optics.blur(delta, [kernel])
    # the response of a point is the kernel itself, not mirrored
    assert np.allclose(out[3:6, 4:9, 4:7], kernel, atol=1e-6)
    volume = rng.random((12, 20, 17)).astype(np.float32)
    reference = ndimage.convolve(volume.astype(np.float64), kernel, mode="constant")
    assert np.allclose(optics.blur(volume, [kernel]), reference, atol=1e-5)


def test_blur_keeps_the_total_signal():
    rng = np.random.default_rng(2)
    volume = np.zeros((30, 48, 48), np.float32)
    volume[8:22, 12:36, 12:36] = rng.random((14, 24, 24))
    kernel = psf.gaussian_psf((0.9, 0.12, 0.12), (1.2, 0.25, 0.25))
    assert abs(kernel.sum() - 1) < 1e-5
    assert np.isclose(optics.blur(volume, [kernel]).sum(), volume.sum(), rtol=1e-4)
    # several depth-variant PSFs: each voxel's weights sum to 1, so the signal is kept too
    wide = psf.gaussian_psf((0.9, 0.12, 0.12), (2.0, 0.5, 0.5), half=np.array(kernel.shape) // 2)
    both = optics.blur(volume, [kernel, wide])
    assert np.isclose(both.sum(), volume.sum(), rtol=1e-4)


def test_psf_weights_follow_the_slab_layout():
    w = optics.psf_weights(10, 2)  # 3 slabs of 3 slices; the last takes the remainder (4)
    assert np.allclose(w.sum(axis=0), 1)
    assert np.allclose(w[0, :3], 1) and np.allclose(w[1, 6:], 1)
    assert np.allclose(w[1, 3:6], [0, 1 / 3, 2 / 3])
    with pytest.raises(ValueError, match="need at least 5 slices"):
        optics.psf_weights(4, 3)


def test_depth_variant_blur_uses_the_psf_of_the_emitter_depth():
    sharp = np.zeros((5, 5, 5), np.float32)
    sharp[2, 2, 2] = 1
    wide = np.full((5, 5, 5), 1 / 125, np.float32)
    volume = np.zeros((30, 15, 15), np.float32)
    volume[3, 7, 7] = volume[27, 7, 7] = 1
    out = optics.blur(volume, [sharp, wide])
    assert np.isclose(out[3, 7, 7], 1)  # front point: the sharp PSF
    assert np.isclose(out[27, 7, 7], 1 / 125) and np.isclose(out[25:30, 5:10, 5:10].sum(), 1)


def test_blur_rows_in_pieces_equal_the_whole():
    rng = np.random.default_rng(3)
    volume = rng.random((20, 16, 16)).astype(np.float32)
    kernel = psf.gaussian_psf((1, 1, 1), (1.5, 1, 1))
    whole = optics.Blur(volume, [kernel]).rows(0, 20)
    pieces = optics.Blur(volume, [kernel])
    joined = np.concatenate([pieces.rows(a, min(a + 3, 20)) for a in range(0, 20, 3)])
    assert np.allclose(whole, joined, atol=1e-6)


def test_gaussian_psf_widths_follow_the_optics():
    axial, lateral = psf.gaussian_sigmas(0.8, 0.52, 1.33)
    assert np.isclose(lateral, 0.21 * 0.52 / 0.8) and np.isclose(axial, 0.66 * 0.52 * 1.33 / 0.64)
    confocal = psf.gaussian_sigmas(0.8, 0.52, 1.33, "confocal", 0.488)
    assert confocal[0] < axial and confocal[1] < lateral
    kernel = psf.psf_from_optics((0.3, 0.05, 0.05), model="gaussian", half_size=(3.0, 1.0))
    assert kernel.shape == (21, 41, 41) and np.isclose(kernel.sum(), 1, atol=1e-5)
    # its measured lateral spread matches σ (in 0.05 µm voxels)
    profile = kernel.sum(axis=(0, 1))
    x = (np.arange(41) - 20) * 0.05
    assert np.isclose(np.sqrt((profile * x**2).sum()), lateral, rtol=0.05)


def test_gibson_lanni_psf_is_normalised_centred_and_degrades_with_depth():
    pytest.importorskip("microscPSF", reason="microscPSF-py (extra 'spheroid') not installed")
    voxel = (0.5, 0.125, 0.125)
    kw = dict(
        na=1.0, wavelength=0.52, immersion_index=1.33, sample_index=1.45, half_size=(1.5, 0.75)
    )
    shallow = psf.psf_from_optics(voxel, depth=0.0, **kw)
    deep = psf.psf_from_optics(voxel, depth=60.0, **kw)
    for kernel in (shallow, deep):
        assert kernel.shape == (7, 13, 13) and np.isclose(kernel.sum(), 1, atol=1e-5)
        peak = np.unravel_index(np.argmax(kernel), kernel.shape)
        assert peak[1:] == (6, 6) and abs(peak[0] - 3) <= 1
    assert deep.max() < 0.8 * shallow.max()  # spherical aberration spreads the deep PSF


def test_prepare_psf_centres_resamples_and_normalises():
    measured = np.zeros((9, 12, 12))
    measured[5, 7, 6] = 10  # off-centre point, even xy sizes
    measured[4, 7, 6] = measured[6, 7, 6] = 5
    ready = psf.prepare_psf(measured - 0.5, (0.2, 0.05, 0.05), (0.2, 0.05, 0.05))
    assert np.isclose(ready.sum(), 1) and all(n % 2 == 1 for n in ready.shape)
    assert np.unravel_index(np.argmax(ready), ready.shape) == tuple(n // 2 for n in ready.shape)
    fine = psf.gaussian_psf((0.1, 0.05, 0.05), (0.6, 0.2, 0.2))
    coarse = psf.prepare_psf(fine, (0.1, 0.05, 0.05), (0.3, 0.1, 0.1))
    assert np.isclose(coarse.sum(), 1, atol=1e-5)
    centre = [n // 2 for n in coarse.shape]
    assert np.unravel_index(np.argmax(coarse), coarse.shape) == tuple(centre)


def test_area_resampling_keeps_the_mean_and_does_not_alias():
    rng = np.random.default_rng(4)
    volume = rng.random((10, 64, 64)).astype(np.float32)
    out = resample.resample(volume, (1, 0.25, 0.25), (1, 1, 1), ("linear", "area", "area"))
    assert out.shape == (10, 16, 16)
    assert np.isclose(out.mean(), volume.mean(), rtol=1e-5)
    stripes = np.tile(np.array([1.0, 0, 0, 0], np.float32), 16)[None, None, :].repeat(4, 1)
    area = resample.resample_axis(stripes, 2, 16, 4.0, "area")
    point = resample.resample_axis(stripes, 2, 16, 4.0, "linear")
    assert np.allclose(area, 0.25)  # the pixel integrates the stripes
    assert np.allclose(point, 0.0)  # a point sample between them aliases them away
    labels = np.arange(64, dtype=np.uint16).reshape(1, 1, 64)
    picked = resample.resample_axis(labels, 2, 16, 4.0, "nearest")
    assert picked.dtype == np.uint16 and list(picked[0, 0, :3]) == [2, 6, 10]


def test_grown_labels_follow_the_blurred_size():
    labels = np.zeros((9, 30, 30), np.uint16)
    labels[3:6, 5:13, 5:13] = 1
    labels[3:6, 14:22, 8:16] = 2
    kernel = psf.gaussian_psf((1, 1, 1), (1.0, 1.5, 1.5))
    grown = optics.grow_labels(labels, [kernel], threshold=0.1)
    shrunk = optics.grow_labels(labels, [kernel], threshold=0.6)
    for i in (1, 2):
        assert (grown == i).sum() > (labels == i).sum() > (shrunk == i).sum() > 0
    assert set(np.unique(grown)) == {0, 1, 2}
    # the voxel between them goes to the nucleus that responds more
    assert grown[4, 13, 9] in (1, 2) and grown[4, 13, 6] == 1 and grown[4, 13, 15] == 2


def test_psfs_of_different_sizes_are_padded_about_their_centres():
    small = psf.gaussian_psf((1, 1, 1), (0.8, 0.8, 0.8), half=(1, 2, 2))
    large = psf.gaussian_psf((1, 1, 1), (0.8, 0.8, 0.8), half=(3, 2, 4))
    padded = optics.common_shape([small, large])
    assert [p.shape for p in padded] == [(7, 5, 9), (7, 5, 9)]
    assert np.array_equal(padded[0][2:5, :, 2:7], small)
    volume = np.zeros((12, 11, 11), np.float32)
    volume[6, 5, 5] = 1
    assert np.isclose(optics.blur(volume, [small, large]).sum(), 1, atol=1e-5)
    with pytest.raises(ValueError, match="odd-sized"):
        optics.common_shape([np.ones((2, 3, 3))])


def test_depth_variant_psfs_from_optics_sit_in_their_slabs():
    depths = psf.slab_depths(50, 3, 0.9)  # slabs of 10 slices: PSFs alone in 0-9, 20-29, 40-49
    assert np.allclose(depths, [4.5, 22.5, 40.5])
    kernels = psf.psfs_from_optics(50, 3, (0.9, 0.1, 0.1), model="gaussian")
    assert len(kernels) == 3 and all(np.isclose(k.sum(), 1, atol=1e-5) for k in kernels)


def test_grown_labels_use_the_psf_of_their_depth():
    labels = np.zeros((20, 16, 16), np.uint16)
    labels[2:5, 5:11, 5:11] = 1  # front
    labels[15:18, 5:11, 5:11] = 2  # back
    sharp = psf.gaussian_psf((1, 1, 1), (0.5, 0.5, 0.5), half=(3, 3, 3))
    wide = psf.gaussian_psf((1, 1, 1), (1.0, 2.0, 2.0), half=(3, 3, 3))
    weights = np.zeros((2, 20), np.float32)
    weights[0, :10] = weights[1, 10:] = 1
    grown = optics.grow_labels(labels, [sharp, wide], threshold=0.1, weights=weights)
    assert (grown == 2).sum() > (grown == 1).sum() >= (labels == 1).sum()
    swapped = optics.grow_labels(labels, [sharp, wide], threshold=0.1, weights=weights[::-1])
    assert (swapped == 1).sum() == (grown == 2).sum()
