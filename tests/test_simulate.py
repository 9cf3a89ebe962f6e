"""The simulator's ground truth and the `simulate` folder it writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from celltool_simulate.sim2d import simulate_cells

from celltool.imageio import list_images, read_image
from celltool.manifest import read_manifest

SMALL = {"n_cells": 14, "cell_radius": (8.0, 14.0)}


def sim(seed: int = 0, shape=(128, 128), **kw):
    return simulate_cells(shape, np.random.default_rng(seed), **{**SMALL, **kw})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labels_match_the_objects_drawn(seed):
    out = sim(seed)
    image, cells, nuclei = out["images"], out["cells"], out["nuclei"]
    assert cells.dtype == nuclei.dtype == np.uint16 and cells.shape == image.shape
    n = int(cells.max())
    assert n >= 5
    # ids are sequential 1..N, and every cell has its nucleus with the same id
    assert set(np.unique(cells)) == set(range(n + 1))
    assert set(np.unique(nuclei)) == set(range(n + 1))
    # nucleus i lies inside cell i
    inside = nuclei > 0
    np.testing.assert_array_equal(cells[inside], nuclei[inside])
    # each nucleus is smaller than its cell
    assert all((nuclei == i).sum() < (cells == i).sum() for i in range(1, n + 1))
    # every labelled object is brighter than the background on average
    background = image[cells == 0].mean()
    for i in range(1, n + 1):
        assert image[cells == i].mean() > background, f"cell {i}"
    # and nuclei are brighter than their cytoplasm (nucleus_gain 1.5) on average
    cyto = (cells > 0) & (nuclei == 0)
    assert image[inside].mean() > image[cyto].mean()


@pytest.mark.parametrize("seed", range(8))
def test_every_instance_is_one_connected_region(seed):
    from scipy import ndimage

    out = sim(seed, shape=(160, 160), n_cells=30, max_overlap=0.4)
    for part in ("cells", "nuclei"):
        labels = out[part]
        for i in range(1, int(labels.max()) + 1):
            assert ndimage.label(labels == i)[1] == 1, f"{part} {i} is in pieces"


@pytest.mark.parametrize(
    ("bits", "dtype", "lo", "hi"),
    [(8, np.uint8, 0, 255), (12, np.uint16, 256, 4095), (16, np.uint16, 4096, 65535)],
)
def test_bit_depth_ranges(bits, dtype, lo, hi):
    image = sim(0, bit_depth=bits)["images"]
    assert image.dtype == dtype
    assert lo <= image.max() <= hi  # uses the range of its bit depth and stays inside it


def test_seeded_determinism_and_different_seeds_differ():
    a, b, c = sim(5), sim(5), sim(6)
    for part in ("images", "cells", "nuclei"):
        np.testing.assert_array_equal(a[part], b[part])
    assert not np.array_equal(a["images"], c["images"])
    assert not np.array_equal(a["cells"], c["cells"])


def test_noise_and_blur_parameters_act():
    clean = sim(0, photons=1e5, read_noise=0.0, texture=0.0)["images"].astype(float)
    noisy = sim(0, photons=5.0, read_noise=8.0, texture=0.0)["images"].astype(float)
    cells = sim(0)["cells"]
    flat = cells == 0
    assert noisy[flat].std() > 2 * clean[flat].std()


def test_simulate_folder_layout_and_manifests(sim):
    top = read_manifest(sim)
    assert top["kind"] == "simulation" and top["step"] == "simulate"
    assert top["seed"] == 1
    assert top["facts"]["parts"] == {"images": "images", "cells": "cells", "nuclei": "nuclei"}
    assert top["plugin"]["name"] == "cells2d" and top["plugin"]["package"] == "celltool"
    assert top["params"]["n_cells"] == 12 and top["params"]["cell_radius"] == [8.0, 14.0]
    for part, kind in (("images", "images"), ("cells", "labels"), ("nuclei", "labels")):
        files = list_images(sim / part)
        assert [p.name for p in files] == [f"sim_{i:04d}.png" for i in range(6)]
        assert read_manifest(sim / part)["kind"] == kind
    assert read_manifest(sim / "images")["facts"]["bit_depth"] == 8
    assert read_manifest(sim / "cells")["facts"]["target"] == "cells"
    for i in range(6):
        cells = read_image(sim / "cells" / f"sim_{i:04d}.png")
        nuclei = read_image(sim / "nuclei" / f"sim_{i:04d}.png")
        assert cells.dtype == np.uint16 and cells.max() >= 1
        np.testing.assert_array_equal(cells[nuclei > 0], nuclei[nuclei > 0])
    json.dumps(top)  # plain JSON


def test_simulate_16bit_folder(tmp_path):
    from celltool.executor import ExecutorSpec
    from celltool.steps.simulation import simulate as simulate_folder

    out = simulate_folder(
        tmp_path / "s16",
        n=2,
        size=(64, 48),
        params={"bit_depth": 16, "n_cells": 4},
        spec=ExecutorSpec("serial"),
    )
    image = read_image(out / "images" / "sim_0001.png")
    assert image.dtype == np.uint16 and image.shape == (64, 48) and image.max() > 4095
    assert read_manifest(out / "images")["facts"]["bit_depth"] == 16
    assert read_manifest(out)["params"]["size"] == [64, 48]


def test_a_failing_demo_stage_leaves_nothing(tmp_path, monkeypatch):
    from celltool.steps import demo

    def broken(*args, **kwargs):
        raise RuntimeError("stage broke")

    monkeypatch.setitem(demo.STAGES, "simulate", broken)
    with pytest.raises(RuntimeError, match="stage broke"):
        demo.demo(tmp_path / "demo2", quick=True)
    assert not (tmp_path / "demo2").exists()
