"""celltool spots: spots inside cells, the table against the label maps, rendering and camera,
seeds, CellGen's layout; through the real command and the numpy functions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from test_train import incli

from celltool.imageio import read_image


def spots(sim: Path, out: Path, *extra: str) -> Path:
    res = incli("spots", sim, "-o", out, *extra)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{out}\n"
    return out


def table(out: Path) -> list[dict]:
    with (out / "spots.csv").open() as f:
        return list(csv.DictReader(f))


def pixel(row: dict) -> tuple[int, int]:
    return int(np.floor(float(row["y"]) + 0.5)), int(np.floor(float(row["x"]) + 0.5))


@pytest.mark.parametrize(
    "extra",
    [
        (),
        ("--compartment", "nucleus", "--per-cell", "3"),
        ("--compartment", "cell", "--density", "20"),
        ("--distribution", "clustered", "--clusters", "2", "--cluster-sigma", "2", "--per-cell",
         "12"),
    ],
)  # fmt: skip
def test_every_spot_lies_in_its_cell_and_compartment(sim, tmp_path, extra):
    out = spots(sim, tmp_path / "spots", *extra)
    rows = table(out)
    assert len(rows) > 20
    compartment = dict(zip(extra[::2], extra[1::2], strict=True)).get("--compartment", "cytoplasm")
    for row in rows:
        cells = read_image(sim / "cells" / row["image"])
        nuclei = read_image(sim / "nuclei" / row["image"])
        r, c = pixel(row)
        assert int(row["cell_id"]) > 0 and cells[r, c] == int(row["cell_id"])
        if compartment == "cytoplasm":
            assert nuclei[r, c] == 0
        elif compartment == "nucleus":
            assert nuclei[r, c] > 0


def test_table_matches_label_maps_masks_and_manifest(sim, tmp_path):
    out = spots(sim, tmp_path / "spots", "--per-cell", "6", "--radius", "2.5")
    rows = table(out)
    manifest = json.loads((out / "celltool.json").read_text())
    assert manifest["kind"] == "spots" and manifest["facts"]["n_spots"] == len(rows)
    for i, path in enumerate(sorted((out / "spots").glob("*.png"))):
        labels = read_image(path)
        mine = [r for r in rows if r["image"] == path.name]
        assert labels.dtype == np.uint16
        assert set(np.unique(labels)) - {0} == {int(r["spot_id"]) for r in mine}
        assert manifest["facts"]["counts"][i] == len(mine)
        yy, xx = np.mgrid[: labels.shape[0], : labels.shape[1]]
        for row in mine:
            k, y, x = int(row["spot_id"]), float(row["y"]), float(row["x"])
            assert labels[pixel(row)] == k
            disc = (yy - y) ** 2 + (xx - x) ** 2 <= 2.5**2
            disc[pixel(row)] = True  # a spot's own pixel is always its own
            assert np.all(disc[labels == k])  # labelled pixels lie in the spot's disc
        mask = read_image(out / "masks" / path.name)
        assert np.array_equal(mask, (labels > 0).astype(np.uint8) * 255)
        image = read_image(out / "images" / path.name)
        assert image.dtype == np.uint8 and image.shape == labels.shape


def test_same_seed_same_output_other_seed_differs(sim, tmp_path):
    a = spots(sim, tmp_path / "a", "--seed", "3")
    b = spots(sim, tmp_path / "b", "--seed", "3", "--workers", "2", "--executor", "process")
    c = spots(sim, tmp_path / "c", "--seed", "4")
    for sub in ("images", "spots", "masks"):
        for path in (a / sub).glob("*.png"):
            assert path.read_bytes() == (b / sub / path.name).read_bytes()
    assert (a / "spots.csv").read_text() == (b / "spots.csv").read_text()
    assert (a / "spots.csv").read_text() != (c / "spots.csv").read_text()


def test_rendering_conserves_photons_and_centres():
    from celltool_spots.render import camera, render_spots

    y, x = np.array([20.3, 40.7]), np.array([15.45, 44.0])
    peak = np.array([100.0, 50.0])
    image = render_spots((64, 64), y, x, peak, 1.5)
    assert image.sum() == pytest.approx((peak * 2 * np.pi * 1.5**2).sum(), rel=1e-5)
    yy, xx = np.mgrid[:64, :64]
    first = image * (yy < 30)
    assert (first * yy).sum() / first.sum() == pytest.approx(20.3, abs=1e-3)
    assert (first * xx).sum() / first.sum() == pytest.approx(15.45, abs=1e-3)
    rng = np.random.default_rng(0)
    flat = camera(np.zeros((200, 200)), rng, background=50, read_noise=0, gain=1, offset=0,
                  bit_depth=8)  # fmt: skip
    assert flat.mean() == pytest.approx(50, abs=0.5) and flat.var() == pytest.approx(50, rel=0.1)
    for depth, dtype in ((8, np.uint8), (12, np.uint16), (16, np.uint16)):
        bright = camera(np.full((4, 4), 1e9), rng, background=0, read_noise=5, gain=1,
                        offset=0, bit_depth=depth)  # fmt: skip
        assert bright.dtype == dtype and np.all(bright == 2**depth - 1)  # saturates, no wrap


def test_spot_labels_keep_every_spot():
    from celltool_spots.render import spot_labels

    y = np.array([10.0, 10.0, 10.4, 30.0])
    x = np.array([10.0, 11.2, 12.3, 30.0])  # three touching spots in adjacent pixels
    labels = spot_labels((40, 40), y, x, 3.0)
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4}
    assert labels[10, 10] == 1 and labels[10, 11] == 2 and labels[10, 12] == 3
    assert (labels == 4).sum() == 29  # a lone disc of radius 3: 29 pixel centres


def test_cellgen_layout_scaled_fresh_draws_and_nothing_wraps():
    from celltool_spots.placement import CELLGEN_COUNTS, cellgen_layout

    region = np.zeros((256, 256), np.int64)
    region[:128] = 7
    a = cellgen_layout(region, np.random.default_rng([0, 0]))
    b = cellgen_layout(region, np.random.default_rng([0, 1]))
    assert len(a) + a.dropped == sum(CELLGEN_COUNTS) == 210
    assert not np.array_equal(a.x[:20], b.x[:20])  # every image draws anew
    # the original kept only spots whose colour 200 + 55(1 - d/50) did not wrap; all are kept
    assert set(np.unique(a.cell)) <= {0, 7}
    r, c = np.floor(a.y + 0.5).astype(int), np.floor(a.x + 0.5).astype(int)
    assert np.array_equal(a.cell, region[r, c])


def test_spots_errors_are_one_line(sim, tmp_path):
    res = incli("spots", sim / "images", "-o", tmp_path / "x")
    assert res.returncode == 1 and "expects segmentation or simulation" in res.stderr
    res = incli("spots", sim, "-o", tmp_path / "y", "--radius", "50")
    assert res.returncode == 2 and "--radius 50" in res.stderr
    res = incli("spots", sim, "-o", tmp_path / "z", "--per-cell", "900", "--max-spots", "100")
    assert res.returncode == 1 and "--max-spots 100" in res.stderr
    assert not (tmp_path / "z").exists()


def test_pipe_simulate_spots_split(tmp_path):
    """A real shell pipe: the spots step prints only its folder, split reads spots folders."""
    from conftest import sh

    script = ("celltool simulate -n 2 --size 64 --n-cells 10 -o sim "
              "| celltool spots --layout cellgen "
              "| celltool split --crop 32 --crops 1 --ratios 0.5,0,0.5")  # fmt: skip
    res = sh(script, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(Path("sim-spots-split"))
    manifest = json.loads((tmp_path / "sim-spots-split" / "celltool.json").read_text())
    assert manifest["facts"]["classes"][1]["name"] == "spot"
