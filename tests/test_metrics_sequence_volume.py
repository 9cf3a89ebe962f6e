"""Sequence (optical flow, differences, objects) and 3D distribution metrics."""

from __future__ import annotations

import numpy as np
import pytest
from celltool_metrics import image, sequence, volume
from scipy import ndimage
from scipy.stats import wasserstein_distance


def texture(shape=(96, 96), seed=0):
    rng = np.random.default_rng(seed)
    x = ndimage.gaussian_filter(rng.random(shape), 2.5)
    x = (x - x.min()) / (x.max() - x.min())
    return (x * 255).astype(np.uint8)


def moving(step, n=4):
    base = texture()
    return [np.roll(base, step * t, axis=1) for t in range(n)]


def test_flow_cosine_and_magnitude_of_known_motion():
    right, left = moving(2), moving(-2)
    same = sequence.motion(right, right, data_range=255)
    assert same["flow_cosine"] > 0.9
    assert same["flow_magnitude_real"] == pytest.approx(2.0, abs=0.3)
    opposite = sequence.motion(right, left, data_range=255)
    assert opposite["flow_cosine"] < -0.9
    still = sequence.motion(right, moving(0), data_range=255)
    assert still["flow_magnitude_generated"] < 0.05
    assert len(same["curves"]["flow_cosine"]) == 3


def test_frame_difference_by_hand():
    frames = moving(2)
    out = sequence.frame_difference(frames, frames[::-1], data_range=255)
    f = [x / 255.0 for x in frames]
    expected = np.mean([np.linalg.norm(b - a) for a, b in zip(f[:-1], f[1:], strict=True)])
    assert out["frame_difference_real"] == pytest.approx(expected)
    assert out["frame_difference_generated"] == pytest.approx(expected)  # reversed: same norms


def test_object_counts_and_coverage():
    def frame(k):
        img = np.full((64, 64), 20, np.uint8)
        yy, xx = np.ogrid[:64, :64]
        for i in range(k):
            img[(yy - 12 - 20 * (i % 3)) ** 2 + (xx - 12 - 20 * (i // 3)) ** 2 <= 36] = 200
        return img

    real = [frame(k) for k in (1, 2, 3)]
    gen = [frame(k) for k in (1, 1, 4)]
    out = sequence.objects(real, gen, data_range=255)
    assert out["curves"]["object_count_real"] == [1, 2, 3]
    assert out["curves"]["object_count_generated"] == [1, 1, 4]
    assert out["object_count_error"] == pytest.approx(2 / 3)
    area = np.count_nonzero(frame(1) == 200) / 64**2
    assert out["curves"]["coverage_real"] == pytest.approx([area, 2 * area, 3 * area])


def test_per_step_metrics_match_the_image_metrics():
    real, gen = moving(1), moving(2)
    out = sequence.per_step(real, gen, data_range=255)
    expected = [image.psnr(r, g, data_range=255) for r, g in zip(real, gen, strict=True)]
    assert out["curves"]["step_psnr"] == pytest.approx(expected)
    assert out["step_psnr"] == pytest.approx(np.mean(expected))


def test_sequence_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="3 real frames but 2"):
        sequence.motion(moving(1, 3), moving(1, 2), data_range=255)


@pytest.fixture(scope="module")
def spheroid():
    """A 3D stack (24, 64, 64): bright blobs in a dim ball in a dark surround, and its mask."""
    rng = np.random.default_rng(0)
    zz, yy, xx = np.ogrid[:24, :64, :64]
    ball = (zz - 12) ** 2 / 144 + ((yy - 32) ** 2 + (xx - 32) ** 2) / 700 <= 1
    mask = np.zeros(ball.shape, bool)
    for z in (7, 17):
        for y in (16, 32, 48):
            for x in (16, 32, 48):
                mask |= (zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= 25
    img = 10 + 40 * ball + 150 * mask + rng.normal(0, 5, ball.shape)
    return np.clip(img, 0, 255).astype(np.uint8), mask


def test_regions_are_disjoint_and_as_defined(spheroid):
    _, mask = spheroid
    r = volume.regions(mask)
    assert np.array_equal(r["fg"], mask)
    assert not (r["bg_inside"] & mask).any()
    assert not (r["bg_outside"] & (r["bg_inside"] | mask)).any()
    assert r["bg_inside"].any() and r["bg_outside"].any()


def test_wasserstein_score_identity_and_formula(spheroid):
    img, mask = spheroid
    same = volume.wasserstein_depth(img, img, real_mask=mask, gen_mask=mask, data_range=255)
    finite = [v for v in same["curves"]["fg"] if np.isfinite(v)]
    assert finite and all(v == pytest.approx(1.0) for v in finite)
    dim = (img * 0.7).astype(np.uint8)
    out = volume.wasserstein_depth(img, dim, real_mask=mask, gen_mask=mask, data_range=255)
    z = 12
    a = img[z][mask[z]] / 255.0
    b = dim[z][mask[z]] / 255.0
    expected = 1 - wasserstein_distance(a, b) / wasserstein_distance(a, np.zeros(1))
    assert out["curves"]["fg"][z] == pytest.approx(expected)
    dimmer = (img * 0.4).astype(np.uint8)
    worse = volume.wasserstein_depth(img, dimmer, real_mask=mask, gen_mask=mask, data_range=255)
    assert worse["wasserstein_depth"] < out["wasserstein_depth"] < 1
    assert np.isnan(out["curves"]["fg"][0])  # no foreground in the top slice
    assert set(k for k in out if k.startswith("fg_")) == {"fg_upper", "fg_middle", "fg_lower"}


def test_center_crop_uses_each_axis_remainder_and_keeps_exact_multiples():
    v = np.zeros((3, 200, 250))
    assert volume.center_crop(v, 100).shape == (3, 200, 200)  # the seed returned an empty x
    v = np.arange(3 * 230 * 310).reshape(3, 230, 310)
    out = volume.center_crop(v, 100)
    assert out.shape == (3, 200, 300)
    assert out[0, 0, 0] == v[0, 15, 5]


def test_edge_profile_and_depth_error(spheroid):
    img, _ = spheroid
    kw = dict(data_range=255, edge_tile=32, edge_min_length=4, edge_min_peak=0.0)
    same = volume.edge_depth(img, img, **kw)
    assert same["edge_depth"] == 0.0
    blurred = ndimage.gaussian_filter(img.astype(float), (0, 2, 2)).astype(np.uint8)
    worse = volume.edge_depth(img, blurred, **kw)
    assert worse["edge_depth"] > 0
    profile = volume.edge_profile(img, data_range=255, tile=32, min_length=4, min_peak=0.0)
    assert profile[0] == pytest.approx(np.nanmax(profile))  # profiles start at their peak


@pytest.mark.realdata
def test_motion_on_the_real_timelapse(timelapse):
    from celltool.imageio import read_image

    frames = [read_image(timelapse / "images" / f"{i:03d}.png") for i in range(5)]
    same = sequence.motion(frames, frames, data_range=255)
    assert same["flow_cosine_weighted"] == pytest.approx(1.0, abs=1e-6)
    assert same["flow_magnitude_real"] == same["flow_magnitude_generated"] > 0.01
    still = sequence.motion(frames, [frames[0]] * 5, data_range=255)
    assert still["flow_magnitude_generated"] < 0.01 < still["flow_magnitude_real"]
    assert abs(still["flow_cosine_weighted"]) < same["flow_cosine_weighted"]


def test_weighted_cosine_is_one_for_identical_motion():
    right = moving(2)
    out = sequence.motion(right, right, data_range=255)
    assert out["flow_cosine_weighted"] == pytest.approx(1.0, abs=1e-9)
    assert sequence.motion(right, moving(-2), data_range=255)["flow_cosine_weighted"] < -0.9
