"""Image-pair metrics against scikit-image/scipy/numpy and the reference values of FIELD.md §D.2."""

from __future__ import annotations

import numpy as np
import pytest
from celltool_metrics import image as M
from scipy import ndimage


@pytest.fixture(scope="module")
def camera_pair():
    """skimage camera (shipped with scikit-image) vs clip(camera + N(0, 10²)) with rng(0)."""
    from skimage import data

    cam = data.camera()
    noisy = np.clip(cam + np.random.default_rng(0).normal(0, 10, cam.shape), 0, 255)
    return cam, noisy.astype(np.uint8)


def test_reference_values_camera_noise(camera_pair):
    cam, noisy = camera_pair
    # FIELD.md §D.2 (computed with numpy 2.4.6, scikit-image 0.26.0)
    assert M.psnr(cam, noisy, data_range=255) == pytest.approx(28.2265, abs=1e-4)
    assert M.ssim(cam, noisy, data_range=255) == pytest.approx(0.6070, abs=1e-4)
    assert M.ssim(cam, noisy, data_range=255, ssim_window="uniform7") == pytest.approx(
        0.6104, abs=1e-4
    )
    assert M.mse(cam, noisy) == pytest.approx(97.821, abs=1e-3)
    assert M.mae(cam, noisy) == pytest.approx(7.878, abs=1e-3)
    assert M.pearson(cam, noisy) == pytest.approx(0.99108, abs=1e-5)


def test_ssim_and_psnr_equal_skimage_on_other_inputs():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(3)
    a = ndimage.gaussian_filter(rng.random((96, 120)), 3) * 4000
    b = np.clip(a + rng.normal(0, 150, a.shape), 0, 4095)
    a, b = a.astype(np.uint16), b.astype(np.uint16)
    wang = structural_similarity(
        a, b, data_range=4095, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    seed = structural_similarity(a, b, win_size=7, data_range=4095)
    assert M.ssim(a, b, data_range=4095) == pytest.approx(wang, abs=2e-5)
    assert M.ssim(a, b, data_range=4095, ssim_window="uniform7") == pytest.approx(seed, abs=2e-5)
    assert M.psnr(a, b, data_range=4095) == pytest.approx(
        peak_signal_noise_ratio(a, b, data_range=4095), abs=1e-9
    )


def test_sixteen_bit_data_range_trap(camera_pair):
    """12-bit data in uint16: the dtype maximum would score ~24 dB (and SSIM) far too high."""
    cam, _ = camera_pair
    rng = np.random.default_rng(0)
    a = cam.astype(np.uint16) * 16
    b = np.clip(a + rng.normal(0, 160, a.shape), 0, 4095).astype(np.uint16)
    right = M.psnr(a, b, data_range=4095)
    wrong = M.psnr(a, b, data_range=65535)
    assert right == pytest.approx(28.26, abs=0.05)  # FIELD.md §D.2: 28.26 dB
    assert wrong - right == pytest.approx(20 * np.log10(65535 / 4095), abs=1e-9)
    assert M.ssim(a, b, data_range=4095) == pytest.approx(0.611, abs=0.01)
    assert M.ssim(a, b, data_range=65535) > 0.99


def test_histogram_metrics_by_hand():
    real = np.array([[0, 0, 1, 1]], dtype=np.uint8)
    gen = np.array([[0, 1, 1, 1]], dtype=np.uint8)
    p = np.full(256, 1e-10)
    p[:2] = [0.5, 0.5]
    q = np.full(256, 1e-10)
    q[:2] = [0.25, 0.75]
    assert M.cross_entropy(real, gen, data_range=255) == pytest.approx(-np.sum(p * np.log(q)))
    bc = np.sqrt(0.5 * 0.25) + np.sqrt(0.5 * 0.75)
    assert M.bhattacharyya(real, gen, data_range=255) == pytest.approx(bc)
    assert M.bhattacharyya_distance(real, gen, data_range=255) == pytest.approx(-np.log(bc))
    # identity: coefficient 1, distance 0; disjoint: coefficient 0, distance inf
    assert M.bhattacharyya(real, real, data_range=255) == pytest.approx(1.0)
    assert M.bhattacharyya_distance(real, real, data_range=255) == pytest.approx(0.0, abs=1e-12)
    far = np.full_like(real, 200)
    assert M.bhattacharyya(real, far, data_range=255) == 0.0
    assert M.bhattacharyya_distance(real, far, data_range=255) == np.inf


def test_histogram_binning_matches_numpy_for_8_and_16_bit():
    rng = np.random.default_rng(1)
    x8 = rng.integers(0, 256, (50, 50)).astype(np.uint8)
    ref8 = np.histogram(x8, bins=256, range=(0, 256))[0] / x8.size
    np.testing.assert_allclose(M.histogram(x8, 255), ref8)
    x12 = rng.integers(0, 4096, (50, 50)).astype(np.uint16)
    ref12 = np.histogram(x12, bins=256, range=(0, 4096))[0] / x12.size
    np.testing.assert_allclose(M.histogram(x12, 4095), ref12)


def test_gradient_error_in_float_equals_scipy_convolve():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    b = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    fa, fb = a.astype(float), b.astype(float)
    expected = np.mean(
        np.abs(ndimage.convolve(fa, kx) - ndimage.convolve(fb, kx))
        + np.abs(ndimage.convolve(fa, kx.T) - ndimage.convolve(fb, kx.T))
    )
    assert M.gradient_error(a, b) == pytest.approx(expected, rel=1e-6)
    # the seed's uint8 version wraps; ours may exceed 255 per pixel
    gx = ndimage.convolve(fa, kx) - ndimage.convolve(fb, kx)
    assert np.abs(gx).max() > 255


def test_iou_of_thresholded_images_by_hand():
    real = np.array([[0, 10, 200, 255]], dtype=np.uint8)
    gen = np.array([[0, 255, 255, 0]], dtype=np.uint8)
    # real > 128 after min-max: [F, F, T, T]; gen: [F, T, T, F] → 1 / 3
    assert M.iou(real, gen) == pytest.approx(1 / 3)
    assert M.iou(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0


@pytest.mark.parametrize(
    "name, higher",
    [
        ("psnr", True),
        ("ssim", True),
        ("pearson", True),
        ("bhattacharyya", True),
        ("mse", False),
        ("mae", False),
        ("gradient_error", False),
        ("cross_entropy", False),
    ],
)
def test_identity_is_perfect_and_scores_are_monotone_in_noise(camera_pair, name, higher):
    cam, _ = camera_pair
    f = getattr(M, name)
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 1, cam.shape)
    scores = [
        f(cam, np.clip(cam + s * noise, 0, 255).astype(np.uint8), data_range=255)
        for s in (0, 4, 12, 30)
    ]
    perfect = {"psnr": np.inf, "ssim": 1.0, "pearson": 1.0, "bhattacharyya": 1.0}
    if name in perfect:
        assert scores[0] == pytest.approx(perfect[name])
    elif name == "cross_entropy":
        # identity gives the entropy of the histogram, the minimum over q
        p = M.histogram(cam, 255)
        assert scores[0] == pytest.approx(
            -np.sum(np.maximum(p, 1e-10) * np.log(np.maximum(p, 1e-10)))
        )
    else:
        assert scores[0] == 0
    diffs = np.diff(scores)
    assert np.all(diffs < 0) if higher else np.all(diffs > 0), scores


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        M.mse(np.zeros((4, 4)), np.zeros((4, 5)))


def test_ssim_of_a_stack_is_the_mean_over_slices():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (3, 32, 32)).astype(np.uint8)
    b = rng.integers(0, 256, (3, 32, 32)).astype(np.uint8)
    expected = np.mean([M.ssim(x, y, data_range=255) for x, y in zip(a, b, strict=False)])
    assert M.ssim(a, b, data_range=255) == pytest.approx(expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.uint32])
def test_mse_mae_and_threshold_equal_the_float_formulas_for_every_dtype(dtype):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 250, (3, 20, 30)).astype(dtype)
    b = rng.integers(0, 250, (3, 20, 30)).astype(dtype)
    d = a.astype(float) - b.astype(float)
    assert M.mse(a, b) == pytest.approx(np.mean(d**2), rel=1e-12)
    assert M.mae(a, b) == pytest.approx(np.mean(np.abs(d)), rel=1e-12)
    x = a.astype(float)
    expected = (x - x.min()) * (255.0 / (x.max() - x.min())) > 128
    assert np.array_equal(M.threshold_mask(a), expected)


def test_ssim_is_close_to_skimage_on_bright_flat_16_bit_data_and_thread_independent():
    import cv2
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(9)
    a = (60000 + rng.normal(0, 3, (80, 90))).astype(np.uint16)  # bright, nearly flat
    b = (60000 + rng.normal(0, 3, (80, 90))).astype(np.uint16)
    ref = structural_similarity(
        a, b, data_range=65535, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert M.ssim(a, b, data_range=65535) == pytest.approx(ref, abs=1e-6)
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        one = M.ssim(a, b, data_range=65535)
        cv2.setNumThreads(4)
        four = M.ssim(a, b, data_range=65535)
    finally:
        cv2.setNumThreads(threads)
    assert one == four
