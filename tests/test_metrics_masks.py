"""Mask-set metrics (shape statistics, merge/split, KID/FID) and the ellipse baseline."""

from __future__ import annotations

import numpy as np
import pytest
from celltool_metrics import masks


def disc_map(shape, centres, radius) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, np.uint16)
    for i, (cy, cx) in enumerate(centres, 1):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 < radius**2] = i
    return labels


def grid_discs(radius=5, spacing=20, shape=(64, 64)):
    centres = [
        (y, x) for y in range(12, shape[0] - 8, spacing) for x in range(12, shape[1] - 8, spacing)
    ]
    return disc_map(shape, centres, radius)


def test_shape_statistics_of_discs_and_identical_sets():
    a = grid_discs()
    stats = masks.collect([a])
    assert stats["count"].tolist() == [9]
    assert stats["coverage"][0] == pytest.approx((a > 0).mean())
    assert np.all(stats["eccentricity"] < 0.2) and np.all(stats["solidity"] > 0.9)
    assert np.all(np.abs(stats["perimeter2_area"] - 4 * np.pi) < 3)  # a disc: 4π
    assert np.allclose(stats["nn_distance"], 20)
    same = masks.shape_statistics([a, a], [a, a])
    assert all(same[f"{k}_w"] == 0 for k in ("area", "solidity", "nn_distance", "count"))
    assert same["count_rel_error"] == 0


def test_shape_statistics_see_elongation_size_and_count():
    real = [grid_discs(radius=5)]
    bigger = masks.shape_statistics(real, [grid_discs(radius=7)])
    assert bigger["area_w"] > 1 and bigger["area_gen"] > bigger["area_real"]
    ellipses = np.zeros((64, 64), np.uint16)
    for i, y in enumerate((10, 30, 50), 1):
        ellipses[y - 2 : y + 3, 8:40] = i
    elong = masks.shape_statistics(real, [ellipses])
    assert elong["eccentricity_gen"] > 0.9 > elong["eccentricity_real"]
    assert elong["count_rel_error"] == pytest.approx(abs(3 - 9) / 9)
    # signed, with its bootstrap interval (one image a side: no spread)
    assert elong["count_rel_diff"] == pytest.approx(3 / 9 - 1)
    assert elong["count_rel_low"] == pytest.approx(3 / 9 - 1) == elong["count_rel_high"]
    varied = masks.shape_statistics([grid_discs(), grid_discs(spacing=30)], [grid_discs()] * 2)
    assert varied["count_rel_low"] < varied["count_rel_diff"] < varied["count_rel_high"]
    # binary uint8 input: components are the instances
    binary = ((grid_discs() > 0) * 255).astype(np.uint8)
    assert masks.shape_statistics(real, [binary])["area_w"] == 0


def test_normalised_wasserstein_is_in_units_of_the_real_spread():
    rng = np.random.default_rng(0)
    real = rng.normal(10, 2, 4000)
    assert masks.normalized_wasserstein(real, real + 2) == pytest.approx(1.0, rel=0.05)
    assert np.isnan(masks.normalized_wasserstein(real, np.zeros(0)))


def test_relative_difference_interval_covers_the_truth_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    real_small, gen_small = rng.poisson(4.0, 50), rng.poisson(3.2, 50)  # true ratio -20 %
    rel, low, high = masks.relative_difference(real_small, gen_small, np.random.default_rng(1))
    assert rel == pytest.approx(gen_small.mean() / real_small.mean() - 1)
    assert low < rel < high and low < -0.2 < high
    assert (rel, low, high) == masks.relative_difference(
        real_small, gen_small, np.random.default_rng(1)
    )
    real_big, gen_big = rng.poisson(4.0, 5000), rng.poisson(3.2, 5000)
    _, low_big, high_big = masks.relative_difference(real_big, gen_big, np.random.default_rng(1))
    assert low_big < -0.2 < high_big and high_big - low_big < (high - low) / 5
    assert all(np.isnan(masks.relative_difference([], [1.0], rng)))
    with pytest.raises(ValueError):
        masks.relative_difference([1.0], [1.0], rng, n_boot=0)


def test_merge_split_and_touching_split():
    real = [grid_discs(radius=5)]
    merged = grid_discs(radius=5)
    merged[merged == 2] = 1
    merged[10:14, 12:32] = 1  # bridge two cells into one object
    out = masks.merge_split(real, [merged])
    assert out["large_real"] == 0 and out["large_gen"] > 0
    two = disc_map((32, 32), [(16, 10), (16, 19)], 5)  # overlapping discs: touching cells
    comps = (two > 0).astype(np.uint8) * 255
    assert masks.touching_split([comps], [two])["split_fraction"] == 1.0
    assert masks.touching_split([comps], [(two > 0).astype(np.uint16)])["split_fraction"] == 0


@pytest.mark.slow
def test_kid_fid_with_a_weights_file_the_test_builds(tmp_path):
    """Random Inception weights (He-initialised so that features neither vanish nor explode
    through 90 layers), saved and loaded as a user's file would be."""
    torch = pytest.importorskip("torch")
    from celltool_metrics import inception
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = tmp_path / "inception.pt"
    torch.save(net.state_dict(), path)
    rng = np.random.default_rng(0)
    real = [grid_discs(radius=int(r)) for r in rng.integers(3, 6, 6)]
    other = [((rng.random((64, 64)) > 0.5) * 255).astype(np.uint8) for _ in range(6)]
    diff = inception.kid_fid(real, other, inception_weights=str(path), inception_size=75,
                             kid_subsets=5)  # fmt: skip
    net = inception.load_inception(path)
    fa = inception.features(net, real, size=75).astype(np.float64)
    fb = inception.features(net, other, size=75).astype(np.float64)
    assert fa.shape == (6, 2048) and fa.std() > 1e-3
    assert abs(inception.fid(fa, fa)) < 1e-6 * inception.fid(fa, fb)
    assert diff["fid"] == pytest.approx(inception.fid(fa, fb), rel=1e-6)
    assert diff["kid"] > inception.kid(fa, fa[::-1].copy(), subsets=5)[0]
    assert diff["n_real"] == diff["n_gen"] == 6
    # the registered form (per-image features in evaluate's workers, then compare)
    m = inception.kid_fid_metric
    fr = [m.features(x, inception_weights=str(path), inception_size=75) for x in real]
    fg = [m.features(x, inception_weights=str(path), inception_size=75) for x in other]
    assert m.compare(fr, fg, kid_subsets=5)["fid"] == pytest.approx(diff["fid"], rel=1e-4)
    bad = tmp_path / "bad.pt"
    torch.save({"x": torch.zeros(1)}, bad)
    from celltool.errors import CelltoolError

    with pytest.raises(CelltoolError, match="not an Inception-v3"):
        inception.load_inception(bad)


def test_ellipse_baseline_fits_and_samples_seeded_non_overlapping():
    from celltool_stylegan.baseline import fit_ellipses, sample_ellipses

    real = [grid_discs(radius=r) for r in (4, 5, 6)]
    model = fit_ellipses(real)
    assert model.counts.tolist() == [9, 9, 9] and len(model.areas) == 27
    assert np.all(model.ratios > 0.8)  # discs
    a = sample_ellipses(model, np.random.default_rng(1))
    b = sample_ellipses(model, np.random.default_rng(1))
    assert np.array_equal(a, b) and a.shape == (64, 64)
    assert 5 <= a.max() <= 9  # the real count (some placements may fail at this density)
    stats = masks.shape_statistics(real, [sample_ellipses(model, np.random.default_rng(s))
                                          for s in range(4)])  # fmt: skip
    assert stats["area_w"] < 0.6 and stats["solidity_gen"] > 0.9


@pytest.mark.parametrize("n,d", [(30, 50), (80, 20)])
def test_fid_eigenvalue_form_equals_the_matrix_square_root(n, d):
    from celltool_metrics.inception import fid, kid
    from scipy import linalg

    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3 + 1
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(s1 @ s2))
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * root)
    assert fid(a, b) == pytest.approx(ref, rel=1e-6)
    assert abs(fid(a, a)) < 1e-8 * ref
    assert kid(a, b, subsets=3)[0] > abs(kid(a, a[::-1].copy(), subsets=3)[0])


def test_evaluate_command_compares_unpaired_mask_sets(tmp_path):
    """`celltool evaluate REAL GEN -m mask_shapes,mask_merge_split`: set-level, no pairing
    (different names and counts), the numbers of the functions."""
    from conftest import cli

    from celltool.imageio import write_image

    real = [grid_discs(radius=5), grid_discs(radius=6)]
    gen = [grid_discs(radius=7)] * 3
    for name, maps in (("real", real), ("gen", gen)):
        (tmp_path / name).mkdir()
        for i, m in enumerate(maps):
            write_image(tmp_path / name / f"{name}{i}.png", m)
    out = tmp_path / "ev"
    res = cli("evaluate", tmp_path / "real", tmp_path / "gen", "-m",
              "mask_shapes,mask_merge_split", "-o", out)  # fmt: skip
    assert res.returncode == 0, res.stderr
    got = __import__("json").loads((out / "summary.json").read_text())["distribution"]
    want = masks.shape_statistics(real, gen)
    for key in ("area_w", "solidity_w", "nn_distance_w", "count_rel_error"):
        assert got[f"mask_shapes.{key}"] == pytest.approx(want[key])
    assert got["mask_merge_split.large_gen"] == masks.merge_split(real, gen)["large_gen"]
