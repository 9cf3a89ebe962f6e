"""The whole spheroid simulation of one volume (tiny grids, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
from celltool_spheroid.camera import Camera
from celltool_spheroid.masks import ellipsoid_mask
from celltool_spheroid.pipeline import (
    OUTPUT_VOXEL,
    SIM_VOXEL,
    default_z_append,
    simulate_volume,
    simulation_grid,
)
from celltool_spheroid.prototypes import extract_prototypes
from celltool_spheroid.psf import gaussian_psf
from spheroid_data import STARDIST_VOXEL, blob_prototypes, stardist_3d

from celltool.errors import CelltoolError, UsageError

SIM = (0.9, 0.25, 0.25)
OUT = (1.5, 0.5, 0.5)
PROTO = (0.9, 0.4, 0.4)
STAGES = {"prototypes", "placement", "attenuation", "convolution", "resampling", "labels", "camera"}


def _run(seed=(0, 0), mask=None, psfs=None, **options):
    mask = ellipsoid_mask((5, 14, 14)) if mask is None else mask
    psfs = psfs or [gaussian_psf(SIM, (1.0, 0.3, 0.3))]
    return simulate_volume(
        np.random.default_rng(list(seed)),
        blob_prototypes(4),
        mask,
        psfs,
        prototype_voxel=PROTO,
        sim_voxel=SIM,
        output_voxel=OUT,
        break_criterion=200,
        **options,
    )


def test_output_shapes_types_and_facts():
    mask = ellipsoid_mask((5, 14, 14))
    result = _run(mask=mask)
    image, labels, facts = result["image"], result["labels"], result["facts"]
    assert image.shape == labels.shape == result["expected"].shape == mask.shape
    assert image.dtype == np.uint16 and labels.dtype == np.uint16
    n = facts["nuclei"]
    assert n >= 5 and set(np.unique(labels)) == set(range(n + 1))  # ids 1..N, no gaps
    assert not np.any(labels[~mask])  # every nucleus inside the mask
    assert set(facts["seconds"]) == set(facts["cpu_seconds"]) == STAGES
    assert len(result["placements"]) == facts["placed"]
    assert {"id", "prototype", "angle", "mirror", "centre", "voxels"} <= set(
        result["placements"][0]
    )
    assert facts["z_append"] == default_z_append(PROTO, SIM) == 30
    assert facts["sim_shape"] == list(simulation_grid(mask.shape, OUT, SIM, 30))
    assert facts["placed"] >= n and facts["attempts"] > facts["placed"]
    # nuclei are brighter than the background, in photons and in ADU
    assert result["expected"][labels > 0].mean() > 3 * result["expected"][labels == 0].mean()
    assert image[labels > 0].mean() > image[labels == 0].mean() + 20


def test_same_seed_same_volume_other_index_other_volume():
    a, b, c = _run((3, 0)), _run((3, 0)), _run((3, 1))
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["labels"], b["labels"])
    assert not np.array_equal(a["labels"], c["labels"])
    assert not np.array_equal(a["image"], c["image"])


def test_the_camera_sees_the_expected_photons():
    camera = Camera(qe=0.5, read_noise=2, adc_gain=1.0, offset=50, bit_depth=16, dark_current=0)
    result = _run(camera=camera, photons=400.0, background=30.0)
    expected, image = result["expected"], result["image"].astype(float)
    assert expected.min() >= 30  # the background everywhere
    assert np.isclose(image.mean(), 50 + 0.5 * expected.mean(), rtol=0.02)
    eight = _run(camera=Camera(bit_depth=8, adc_gain=20))["image"]
    assert eight.dtype == np.uint8


def test_attenuation_darkens_deep_nuclei():
    # the same seed places the same nuclei; only the attenuation differs
    flat = _run(attenuation="none", background=0.0)["expected"].sum(axis=(1, 2))
    dim = _run(attenuation="f2p", attenuation_b=30.0, background=0.0)["expected"].sum(axis=(1, 2))
    lit = flat > 0.05 * flat.max()
    ratio = dim[lit] / flat[lit]
    assert ratio[0] > 0.85 and ratio[-1] < 0.45  # f2p(d = 6..10 slices, B = 30): 0.17..0.35
    assert np.all(np.diff(ratio) < 0.02)  # darker with depth


def test_depth_variant_psfs_label_growth_and_subcultures_run():
    sharp = gaussian_psf(SIM, (0.9, 0.2, 0.2), half=(3, 5, 5))
    wide = gaussian_psf(SIM, (1.8, 0.5, 0.5), half=(3, 5, 5))
    plain = _run(psfs=[sharp, wide])
    grown = _run(psfs=[sharp, wide], label_threshold=0.05)
    assert (grown["labels"] > 0).sum() > (plain["labels"] > 0).sum()
    assert np.array_equal(plain["image"], grown["image"])
    sub = _run(
        subcultures=1,
        subculture_prototypes=blob_prototypes(2, seed=1),
        subculture_radii=(2.5, 3.0),
    )
    assert sub["facts"]["placed_in_subcultures"] > 0


def test_bad_inputs_are_refused():
    # data problems are CelltoolErrors (exit 1), bad options UsageErrors (exit 2)
    with pytest.raises(CelltoolError, match="non-empty 3D") as bad_data:
        _run(mask=np.zeros((4, 8, 8), bool))
    assert not isinstance(bad_data.value, UsageError)
    with pytest.raises(UsageError, match="photons"):
        _run(photons=-1.0)
    with pytest.raises(UsageError, match="camera parameter"):
        Camera(bit_depth=10)
    with pytest.raises(ValueError, match="simulation grid"):  # refused before allocating
        simulate_volume(
            np.random.default_rng(0),
            blob_prototypes(1),
            np.ones((4, 40, 40), bool),
            [gaussian_psf(SIM, (1.0, 0.3, 0.3))],
            prototype_voxel=PROTO,
            sim_voxel=(0.01, 0.01, 0.01),  # 600 × 2000 × 2000 voxels
            output_voxel=OUT,
        )


def test_stardist_prototypes_give_a_plausible_spheroid():
    image, labels = stardist_3d()
    protos = extract_prototypes(image, labels)
    mask = ellipsoid_mask((4, 16, 16))  # 9×33×33 at the output voxel size
    psf = gaussian_psf(SIM_VOXEL, [2 * v for v in SIM_VOXEL], half=(7, 7, 7))
    result = simulate_volume(
        np.random.default_rng([0, 0]), protos, mask, [psf], prototype_voxel=STARDIST_VOXEL
    )
    out, lab = result["image"], result["labels"]
    assert result["facts"]["sim_shape"] == [15 + 30, 132, 132]
    density = (lab > 0).sum() / mask.sum()
    assert 0.1 < density < 0.6  # nuclei fill part of the spheroid, as in real spheroids
    background = np.median(out[~mask])
    assert 95 <= background <= 110  # offset 100 + a little background light
    assert out[lab > 0].mean() > background + 30
    assert out.max() < 4095  # no saturation at the default photon budget
    assert OUTPUT_VOXEL == (1.5001311, 0.488759, 0.488759)
