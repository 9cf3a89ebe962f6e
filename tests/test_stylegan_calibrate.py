"""``celltool generate RUN --split-reference MASKS``: the watershed's marker depth and
smoothing chosen per run against real masks (``celltool_stylegan.calibrate``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_stylegan import _generate, _train, make_masks

from celltool.imageio import read_image

pytest.importorskip("torch")


def dumbbell(shift: int) -> np.ndarray:
    """Two discs joined by a 3-px bridge (one cell) and two touching discs (two cells)."""
    from skimage.draw import disk

    labels = np.zeros((64, 64), np.uint16)
    for col in (20 + shift, 34 + shift):
        labels[disk((32, col), 6, shape=labels.shape)] = 1
    labels[31:34, 20 + shift : 35 + shift] = 1
    labels[disk((12, 50), 5, shape=labels.shape)] = 2
    labels[disk((21, 50), 5, shape=labels.shape)] = 3
    return labels


def test_score_grid_keeps_the_pair_that_does_not_cut_a_waisted_cell():
    """Channels made from known cells: deep markers cut the dumbbell in two at its waist,
    shallow ones rebuild every map exactly, and the lowest score wins."""
    from celltool_stylegan.calibrate import GRID, best, score_grid
    from celltool_stylegan.instances import distance_channel

    reference = [dumbbell(s) for s in range(4)]
    channels = [np.stack([np.where(lab > 0, 1.0, -1.0), distance_channel(lab, 4.0)])
                for lab in reference]  # fmt: skip
    split = {"threshold": 0.0, "distance_max": 4.0, "min_size": 4}
    scores = score_grid(channels, reference, split, ("count", "area", "solidity"))
    assert len(scores) == len(GRID["marker_depth"]) * len(GRID["marker_smooth"]) == 15
    assert scores["0.5/0"] == 0.0 and scores["1/1"] == 0.0  # every map rebuilt
    assert scores["2.5/0"] > 0.3 and scores["2/1"] > 0.3  # the dumbbell cut in two
    assert best(scores) == {"marker_depth": 0.5, "marker_smooth": 0.0}
    assert best({"2/1": 0.4, "1/0.5": 0.2}) == {"marker_depth": 1.0, "marker_smooth": 0.5}


def test_reference_crops_are_cut_as_the_run_cuts_its_training_masks(tmp_path):
    from celltool_stylegan.calibrate import reference_crops

    masks = make_masks(tmp_path / "m", n=3, size=24)
    config = {"resolution": 16, "scale": 1.0, "preprocess": "crop", "mirror": True}
    crops = reference_crops(masks, config, 5, seed=3)
    assert len(crops) == 5 and all(c.shape == (16, 16) for c in crops)
    assert all(c.max() >= 1 for c in crops) and crops[0].dtype.kind in "iu"
    again = reference_crops(masks, config, 5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(crops, again, strict=True))
    other = reference_crops(masks, config, 5, seed=4)
    assert not all(np.array_equal(a, b) for a, b in zip(crops, other, strict=True))


@pytest.fixture(scope="module")
def run_and_masks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cal")
    masks = make_masks(tmp / "masks")
    return _train(masks, tmp / "run", epochs=1), masks


def test_generate_with_a_split_reference_applies_the_pair_it_chose(run_and_masks, tmp_path):
    from celltool_stylegan.calibrate import best

    run, masks = run_and_masks
    _generate(run, tmp_path / "auto", count=6, seed=3, split_reference=str(masks))
    manifest = json.loads((tmp_path / "auto" / "celltool.json").read_text())
    choice = manifest["facts"]["split_choice"]
    assert len(choice["scores"]) == 15 and choice["samples"] == 200
    assert choice["chosen"] == best(choice["scores"]) and choice["reference"] == str(masks)
    recorded = [Path(i["path"]).resolve() for i in manifest["inputs"]]
    assert recorded == [run.resolve(), masks.resolve()]  # the reference is an input
    # the label maps are exactly those of the chosen pair given by hand
    _generate(run, tmp_path / "hand", count=6, seed=3, **choice["chosen"])
    for path in sorted((tmp_path / "auto" / "labels").glob("*.png")):
        assert np.array_equal(
            read_image(path), read_image(tmp_path / "hand" / "labels" / path.name)
        )
    assert (
        json.loads((tmp_path / "hand" / "celltool.json").read_text())["facts"]["split_choice"]
        is None
    )


def test_split_reference_needs_the_watershed(run_and_masks, tmp_path):
    from celltool.errors import UsageError

    run, masks = run_and_masks
    with pytest.raises(UsageError, match="split-reference"):
        _generate(run, tmp_path / "cc", count=2, split="components", split_reference=str(masks))
