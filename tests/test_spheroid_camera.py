"""The physical camera of the spheroid simulator: photon transfer, EM gain, ADC, averaging."""

from __future__ import annotations

import numpy as np
import pytest
from celltool_spheroid.camera import Camera, acquire


def _flat(camera: Camera, photons: float, seed: int = 0, size=(4, 128, 128)) -> np.ndarray:
    return acquire(np.full(size, photons), camera, np.random.default_rng(seed)).astype(float)


def test_photon_transfer_curve_of_flat_fields():
    # variance (ADU²) = gain·(mean − offset) + (read noise·gain)² (+ 1/12 quantisation), with
    # gain = 1/electrons_per_adu ADU per electron
    camera = Camera(
        qe=0.7, read_noise=3.0, dark_current=0.0, adc_gain=0.5, offset=200, bit_depth=16
    )
    gain = 1 / camera.electrons_per_adu
    means, variances = [], []
    for photons in (0, 20, 100, 400, 1500):
        frame = _flat(camera, photons)
        means.append(frame.mean())
        variances.append(frame.var())
        expected_mean = 200 + photons * 0.7 * gain
        assert np.isclose(frame.mean(), expected_mean, rtol=0.01, atol=0.2)
    signal = np.array(means) - 200
    slope, intercept = np.polyfit(signal, variances, 1)
    assert np.isclose(slope, gain, rtol=0.05)
    assert np.isclose(intercept, (3.0 * gain) ** 2 + 1 / 12, rtol=0.1)


def test_em_gain_has_an_excess_noise_factor_of_two():
    camera = Camera(qe=1.0, read_noise=0.0, dark_current=0.0, em_gain=50, adc_gain=10, offset=0,
                    bit_depth=16, full_well=1e6)  # fmt: skip
    frame = _flat(camera, 20.0) * camera.electrons_per_adu  # electrons after the register
    assert np.isclose(frame.mean(), 20 * 50, rtol=0.02)
    assert np.isclose(frame.var() / (50**2 * 20), 2.0, rtol=0.08)  # Var = 2·M²·n


def test_bit_depth_full_well_and_offset():
    dark = _flat(Camera(read_noise=0, dark_current=0), 0.0)
    assert np.all(dark == 100)  # the offset
    for bits, dtype in ((8, np.uint8), (12, np.uint16), (16, np.uint16)):
        camera = Camera(bit_depth=bits, offset=10)
        image = acquire(np.full((8, 8), 1e6), camera, np.random.default_rng(0))
        assert image.dtype == dtype
        assert image.max() == 2**bits - 1  # a full well saturates the ADC range
    half = acquire(np.full((64, 64), 9000 / 0.8), Camera(offset=0), np.random.default_rng(1))
    assert np.isclose(half.mean(), 4095 / 2, rtol=0.01)  # half the full well, half the range


def test_averaging_reduces_the_noise():
    single = _flat(Camera(averages=1), 200.0)
    four = _flat(Camera(averages=4), 200.0)
    assert np.isclose(single.mean(), four.mean(), rtol=0.01)
    assert np.isclose(four.var() / single.var(), 0.25, atol=0.06)


def test_dark_current_adds_electrons():
    camera = Camera(read_noise=0, dark_current=100, exposure=2, adc_gain=1, offset=0, bit_depth=16)
    assert np.isclose(_flat(camera, 0).mean(), 200, rtol=0.02)


def test_same_rng_same_frame_and_bad_parameters_are_refused():
    a = acquire(np.full((16, 16), 50.0), Camera(), np.random.default_rng(7))
    b = acquire(np.full((16, 16), 50.0), Camera(), np.random.default_rng(7))
    assert np.array_equal(a, b)
    for bad in (dict(qe=1.5), dict(bit_depth=10), dict(averages=0), dict(em_gain=0.5)):
        with pytest.raises(ValueError, match="camera parameter out of range"):
            Camera(**bad)
