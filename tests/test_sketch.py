"""``celltool sketch``: the seed's class sets, gray tables, wound rule, boundaries, layer bounds."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import cli
from scipy import ndimage

from celltool.imageio import list_images, read_image, write_image


def seed_gray(n):
    """The seed's LABELS = uint8(linspace(0, 255, n)), computed with Python floats."""
    return [int(255 * k / (n - 1)) for k in range(n)]


def disc(r):
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return (x * x + y * y <= r * r).astype(np.uint8)


def seed_wound(cells, radii):
    """segmentation.py step 4 with OpenCV and disc kernels, as the seed does it."""
    pad, a, b, c = radii
    h0 = np.pad((cells == 0).astype(np.uint8) * 255, pad)
    d = cv2.dilate(cv2.erode(h0, disc(a)), disc(b))
    d2 = cv2.erode(d, disc(c))
    crop = (slice(pad, pad + cells.shape[0]), slice(pad, pad + cells.shape[1]))
    return d[crop] > 1, d2[crop] > 1


def seed_boundary(labels):
    """Per-cell mask & ~erosion (3x3 cross, outside = 0), for every id including the highest."""
    out = np.zeros(labels.shape, bool)
    for i in range(1, int(labels.max()) + 1):
        m = labels == i
        out |= m & ~ndimage.binary_erosion(m, border_value=0)
    return out


def seed_reference(cells, nuclei, image8, levels, bounds, radii):
    """The seed's Reference1/2/3 paint order, written out per table (SEEDS.md §1.2), with
    celltool's documented differences: every id gets a boundary, level-4 nuclei include their
    boundary, boundaries inside M3 are dropped."""
    m2, m3 = seed_wound(cells, radii)
    healing = m2 & (cells == 0) & (nuclei == 0)
    cb = seed_boundary(cells) & ~m3
    nb = seed_boundary(nuclei)
    out = np.zeros(cells.shape, np.uint8)
    out[~healing] = 1
    n_layers = {4: 1, 7: 3, 9: 5}[levels]
    if n_layers == 1:
        out[(cells != 0) & ~cb] = 2
    else:
        for i in range(1, int(cells.max()) + 1):
            own = (cells == i) & (nuclei == 0)
            if not own.any():
                continue
            m = image8[own].mean()
            layer = sum(m >= b for b in bounds)
            out[(cells == i) & ~cb] = 2 + layer
    out[cb & ~healing] = 2 + n_layers
    if levels == 4:
        out[nuclei != 0] = 3 + n_layers
    else:
        out[(nuclei != 0) & ~nb] = 3 + n_layers
        out[nb] = 4 + n_layers
    return out


def autocontrast(image):
    lo, hi = int(image.min()), int(image.max())
    return np.floor((image.astype(float) - lo) * 255.0 / (hi - lo)).astype(np.uint8)


def run_sketch(src, out, *args):
    res = cli("sketch", str(src), "-o", str(out), "--executor", "serial", *args)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{out}\n"
    return json.loads((out / "celltool.json").read_text())


def test_gray_tables_are_the_seeds():
    from celltool_sketch.reference import class_table, gray_values

    assert gray_values(5).tolist() == [0, 63, 127, 191, 255]
    assert gray_values(8).tolist() == [0, 36, 72, 109, 145, 182, 218, 255]
    assert gray_values(10).tolist() == [0, 28, 56, 85, 113, 141, 170, 198, 226, 255]
    for n in (2, 5, 8, 10):
        assert gray_values(n).tolist() == seed_gray(n)
    names = [c["name"] for c in class_table(4)]
    assert names == ["wound", "tissue", "cytoplasm", "cytoplasm boundary", "nucleus"]
    assert len(class_table(7)) == 8 and class_table(7)[7]["name"] == "nuclear boundary"
    assert len(class_table(9)) == 10 and [c["name"] for c in class_table(9)][2:7] == [
        f"cytoplasm {k}" for k in range(1, 6)
    ]
    assert [c["name"] for c in class_table(1)] == ["background", "cell"]


def test_seed_radii_at_seed_size_and_scaled():
    from celltool_sketch.reference import scaled_radii

    assert scaled_radii((1536, 2048)) == (60, 60, 140, 50)
    assert scaled_radii((768, 1024)) == (30, 30, 70, 25)
    assert min(scaled_radii((16, 16))) >= 1


@pytest.mark.parametrize("levels", [4, 7, 9])
def test_sketch_matches_ground_truth_reference(sim, tmp_path, levels):
    """On simulated data (exact cells and nuclei) every pixel has the seed's class."""
    meta = run_sketch(sim, tmp_path / "sk", "--levels", str(levels))
    facts = meta["facts"]
    n = {4: 5, 7: 8, 9: 10}[levels]
    assert [c["gray"] for c in facts["classes"]] == seed_gray(n)
    bounds = facts["layer_bounds"]
    names = [p.name for p in list_images(sim / "images")]
    seen = set()
    for name in names:
        cells = read_image(sim / "cells" / name)
        nuclei = read_image(sim / "nuclei" / name)
        image8 = autocontrast(read_image(sim / "images" / name))
        radii = tuple(facts["radii"][0])
        expected = seed_reference(cells, nuclei, image8, levels, bounds, radii)
        index = read_image(tmp_path / "sk" / "index" / name)
        gray = read_image(tmp_path / "sk" / "gray" / name)
        assert index.dtype == np.uint8 and gray.dtype == np.uint8
        np.testing.assert_array_equal(index, expected)
        np.testing.assert_array_equal(gray, np.array(seed_gray(n), np.uint8)[index])
        # ground truth semantics: nuclei interiors are nuclei, cell interiors are cytoplasm
        nucleus_class = n - 1 if levels == 4 else n - 2
        interior = ndimage.binary_erosion(nuclei != 0, iterations=2)
        assert (index[interior] == nucleus_class).all()
        cyto_inner = (cells != 0) & (nuclei == 0) & ~seed_boundary(cells)
        layers = index[cyto_inner]
        assert ((layers >= 2) & (layers < 2 + {4: 1, 7: 3, 9: 5}[levels])).all()
        seen |= set(np.unique(index).tolist())
    assert seen >= {1, 2, n - 1}  # tissue, cytoplasm, the last class occur


def test_layer_bounds_from_all_images(sim, tmp_path):
    """Bounds are quantiles over every cell of every image, not the first image's terciles."""
    meta = run_sketch(sim, tmp_path / "sk", "--levels", "7")
    means, first = [], None
    for name in [p.name for p in list_images(sim / "images")]:
        cells = read_image(sim / "cells" / name)
        nuclei = read_image(sim / "nuclei" / name)
        image8 = autocontrast(read_image(sim / "images" / name))
        own = [(cells == i) & (nuclei == 0) for i in np.unique(cells)[1:]]
        here = [image8[m].mean() for m in own if m.any()]
        first = here if first is None else first
        means += here
    expected = np.quantile(means, [1 / 3, 2 / 3])
    np.testing.assert_allclose(meta["facts"]["layer_bounds"], expected, rtol=1e-9)
    assert not np.allclose(np.quantile(first, [1 / 3, 2 / 3]), expected)
    assert "all 6 images" in meta["facts"]["layer_bounds_from"]
    # levels 9: outer limits 55/95, inner terciles of the means in [55, 95)
    meta9 = run_sketch(sim, tmp_path / "sk9", "--levels", "9")
    between = [m for m in means if 55 <= m < 95]
    lo, hi = np.quantile(between, [1 / 3, 2 / 3])
    np.testing.assert_allclose(meta9["facts"]["layer_bounds"], [55, lo, hi, 95], rtol=1e-9)
    # --limits replaces the quantiles and skips the first pass
    meta_l = run_sketch(sim, tmp_path / "skl", "--levels", "7", "--limits", "70,90")
    assert meta_l["facts"]["layer_bounds"] == [70.0, 90.0]


def test_wound_rule_on_constructed_image():
    """A cell-free vertical band is the wound; it grows by open-grow and boundaries within
    the shrunk zone are dropped; a small gap between cells is tissue, not wound."""
    from celltool_sketch.reference import render, wound_masks

    h, w = 120, 300
    cells = np.zeros((h, w), np.uint16)
    ids = (np.arange(h)[:, None] // 20) * 20 + (np.arange(w)[None, :] // 20) + 1
    cells[:] = ids
    cells[:, 100:160] = 0  # the wound band: columns 100..159
    cells[50:54, 230:234] = 0  # a 4x4 gap among cells
    radii = (10, 10, 20, 8)
    m2, m3 = wound_masks(cells, radii)
    np.testing.assert_array_equal(m2, seed_wound(cells, radii)[0])
    np.testing.assert_array_equal(m3, seed_wound(cells, radii)[1])
    cols = np.flatnonzero(m2[60])
    assert (cols.min(), cols.max()) == (90, 169)  # band grown by grow - open = 10 px
    cols3 = np.flatnonzero(m3[60])
    assert (cols3.min(), cols3.max()) == (98, 161)  # then shrunk by 8 px
    index = render(cells, None, levels=4, radii=radii)
    assert (index[:, 100:160] == 0).all()  # wound
    assert (index[50:54, 230:234] == 1).all()  # the small gap is tissue
    assert (index[(cells > 0) & m3] == 2).all()  # no cell boundary inside M3
    # a boundary pixel near the wound (inside M3) is dropped, one far away is kept
    assert index[10, 99] == 2 and index[10, 79] == 3
    assert (render(cells, None, levels=4, radii=radii, wound=False)[:, 100:160] == 1).all()


def test_wound_matches_opencv_discs_on_random_masks():
    from celltool_sketch.reference import wound_masks

    rng = np.random.default_rng(3)
    for _ in range(4):
        h, w = rng.integers(50, 140, 2)
        cells = (rng.random((h, w)) < 0.003).astype(np.uint16)
        cells = cv2.dilate(cells, disc(int(rng.integers(2, 8))))
        radii = tuple(int(v) for v in rng.integers(1, 25, 4))
        got, want = wound_masks(cells, radii), seed_wound(cells, radii)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_every_cell_gets_its_boundary_including_the_highest_id():
    from celltool_sketch.reference import inner_boundaries, render

    labels = np.zeros((40, 60), np.uint16)
    labels[2:12, 2:12] = 1
    labels[2:12, 12:25] = 2  # touches cell 1
    labels[20:35, 30:59] = 7  # the highest id, skipped by the seed
    labels[0:5, 50:60] = 3  # touches the image edge
    np.testing.assert_array_equal(inner_boundaries(labels), seed_boundary(labels))
    index = render(labels, None, levels=4, wound=False)
    for i in (1, 2, 3, 7):
        assert (index[labels == i] == 3).any(), i
    assert index[25, 40] == 2 and index[20, 40] == 3 and index[0, 55] == 3
    thick = inner_boundaries(labels, thickness=2)
    assert thick[21, 40] and not thick[22, 40]
    dil = render(labels, None, levels=4, wound=False, dilate=True)
    assert dil[21, 40] == 3 and dil[22, 40] == 2


def test_levels_1_from_images_and_binary_masks(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        write_image(images / f"{k:03d}.png", rng.integers(0, 255, (40, 50), dtype=np.uint8))
        mask = np.zeros((40, 50), np.uint8)
        mask[5:20, 5:30] = 255
        mask[20, 5:30] = 127  # anti-aliased edge: not a cell
        mask[4, 5:30] = 128  # anti-aliased edge: a cell
        write_image(masks / f"{k:03d}.png", mask)
    meta = run_sketch(images, tmp_path / "out", "--masks", str(masks), "--levels", "1")
    assert meta["facts"]["classes"] == [
        {"index": 0, "name": "background", "gray": 0},
        {"index": 1, "name": "cell", "gray": 255},
    ]
    index = read_image(tmp_path / "out" / "index" / "001.png")
    np.testing.assert_array_equal(index, (read_image(masks / "001.png") > 127).astype(np.uint8))
    assert Path(meta["facts"]["parts"]["images"]) == images.resolve()


def _bad(tmp_path, *args):
    out = tmp_path / "bad-out"
    res = cli("sketch", *args, "-o", str(out))
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("celltool: error:"), res.stderr
    assert not out.exists()
    return res


def test_bad_inputs_are_one_line_errors(sim, tmp_path):
    res = _bad(tmp_path, str(sim), "--levels", "5")
    assert res.returncode == 2 and "1, 4, 7, 9" in res.stderr
    res = _bad(tmp_path, str(sim), "--levels", "7", "--limits", "1,2,3")
    assert res.returncode == 2 and "--limits" in res.stderr
    res = _bad(tmp_path, str(sim / "images"), "--masks", str(sim / "cells"), "--levels", "7")
    assert res.returncode == 2 and "--levels 1" in res.stderr
    images, masks = tmp_path / "im", tmp_path / "mk"
    images.mkdir(), masks.mkdir()
    write_image(images / "a.png", np.zeros((20, 20), np.uint8))
    write_image(images / "b.png", np.zeros((20, 20), np.uint8))
    write_image(masks / "a.png", np.zeros((20, 20), np.uint8))
    write_image(masks / "c.png", np.zeros((20, 20), np.uint8))
    res = _bad(tmp_path, str(images), "--masks", str(masks), "--levels", "1")
    assert "has no file for image 'b.png'" in res.stderr and str(masks) in res.stderr
    write_image(masks / "b.png", np.zeros((21, 20), np.uint8))
    res = _bad(tmp_path, str(images), "--masks", str(masks), "--levels", "1")
    assert "b.png: size (21, 20) differs" in res.stderr
    write_image(masks / "b.png", np.zeros((20, 20, 3), np.uint8) + np.arange(3, dtype=np.uint8))
    res = _bad(tmp_path, str(images), "--masks", str(masks), "--levels", "1")
    assert "b.png: is not a mask" in res.stderr
    # a simulation whose cells are not label maps (float TIFF)
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(sim, broken)
    first = list_images(broken / "cells")[0]
    first.unlink()
    write_image(first.with_suffix(".tif"), np.zeros((128, 128), np.float32))
    res = _bad(tmp_path, str(broken), "--levels", "4")
    assert "is not a label map" in res.stderr and first.stem in res.stderr
    res = _bad(tmp_path, str(images), "--levels", "4")
    assert "expects segmentation or simulation" in res.stderr


@pytest.mark.realdata
def test_timelapse_levels_1(timelapse, tmp_path):
    """The real time-lapse: binary masks → levels-1 sketches (first 20 frames)."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    for path in list_images(timelapse / "images")[:20]:
        (images / path.name).symlink_to(path)
        (masks / path.name).symlink_to(timelapse / "masks" / path.name)
    meta = run_sketch(images, tmp_path / "sk", "--masks", str(masks), "--levels", "1")
    assert meta["facts"]["n_images"] == 20
    index = read_image(tmp_path / "sk" / "index" / "010.png")
    np.testing.assert_array_equal(index, read_image(masks / "010.png") > 127)
    assert 0.01 < index.mean() < 0.5


def test_segmentation_folder_input(sim, tmp_path):
    """A 'segmentation' folder (celltool segment's contract: parts cells/, nuclei/ and images
    = the absolute path of the source images) sketches like the simulation it mirrors."""
    import shutil

    from celltool.manifest import make_manifest, write_manifest

    seg = tmp_path / "imgs-segment"
    for target in ("cells", "nuclei"):
        shutil.copytree(sim / target, seg / target)
    parts = {"cells": "cells", "nuclei": "nuclei", "images": str((sim / "images").resolve())}
    write_manifest(seg, make_manifest("segmentation", step="segment", facts={"parts": parts}))
    res = cli("sketch", str(seg), "--levels", "7", "--executor", "serial")
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{tmp_path / 'imgs-segment-sketch'}\n"
    run_sketch(sim, tmp_path / "from-sim", "--levels", "7")
    for path in list_images(tmp_path / "from-sim" / "index"):
        got = read_image(tmp_path / "imgs-segment-sketch" / "index" / path.name)
        np.testing.assert_array_equal(got, read_image(path))
