"""The 2D time-lapse simulator: ids over time, divisions and tracks, speed, drift, bounds."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from celltool_simulate.sim2d import simulate_cells
from celltool_simulate.timelapse import simulate_timelapse

from celltool.errors import UsageError

DIVIDING = {"n_cells": 12, "cycle": (6.0, 9.0), "cell_radius": (6.0, 9.0)}


def run(seed: int = 0, shape=(128, 128), frames: int = 12, **kw):
    return simulate_timelapse(shape, np.random.default_rng(seed), frames=frames, **kw)


@pytest.fixture(scope="module")
def dividing():
    return run(0, frames=16, **DIVIDING)


def test_sim2d_outputs_are_unchanged_by_the_shared_rendering():
    """sim2d was split into reusable pieces (outline harmonics, background pattern, render with
    given levels); these digests were taken with sim2d before the split (main, fe2e60c)."""
    expected = {
        (0, 8): "c7e58353588a9c32d856d69302a7a60a",
        (3, 16): "747de40ea81fb6d5e4277ad62a84b5a2",
    }
    for (seed, bits), digest in expected.items():
        out = simulate_cells(
            (96, 128),
            np.random.default_rng(seed),
            n_cells=14,
            cell_radius=(8.0, 14.0),
            bit_depth=bits,
        )
        sha = hashlib.sha256()
        for key in ("images", "cells", "nuclei"):
            sha.update(out[key].tobytes())
        assert sha.hexdigest()[:32] == digest


def test_outputs_shapes_and_types(dividing):
    t = 16
    assert dividing["images"].shape == dividing["cells"].shape == dividing["nuclei"].shape
    assert dividing["images"].shape == (t, 128, 128) and dividing["images"].dtype == np.uint8
    assert dividing["cells"].dtype == dividing["nuclei"].dtype == np.uint16
    assert dividing["tracks"].dtype == np.int64 and dividing["tracks"].shape[1] == 4
    for frame in range(t):
        cells, nuclei, image = (dividing[k][frame] for k in ("cells", "nuclei", "images"))
        inside = nuclei > 0
        np.testing.assert_array_equal(cells[inside], nuclei[inside])  # nucleus i in cell i
        assert image[cells > 0].mean() > image[cells == 0].mean() + 10


def test_tracks_match_the_label_maps(dividing):
    """Every track's id is present in exactly the frames B..E (no gaps), and every id of the
    label maps has a track."""
    cells = dividing["cells"]
    present = {int(i): [] for i in np.unique(cells) if i}
    for t, frame in enumerate(cells):
        for i in np.unique(frame):
            if i:
                present[int(i)].append(t)
    tracks = {int(r[0]): tuple(int(v) for v in r[1:]) for r in dividing["tracks"]}
    assert set(tracks) == set(present)
    for label, (begin, end, _) in tracks.items():
        assert present[label] == list(range(begin, end + 1)), label


def test_divisions_link_two_new_daughters_to_their_parent(dividing):
    tracks = {int(r[0]): tuple(int(v) for v in r[1:]) for r in dividing["tracks"]}
    children: dict[int, list[int]] = {}
    for label, (_, _, parent) in tracks.items():
        if parent:
            children.setdefault(parent, []).append(label)
    assert len(children) >= 5  # cycles of 6–9 frames over 16 frames
    first_ids = set(np.unique(dividing["cells"][0])) - {0}
    for parent, kids in children.items():
        assert len(kids) == 2
        end = tracks[parent][1]
        for kid in kids:
            assert tracks[kid][0] == end + 1  # daughters appear the frame after the parent ends
            assert kid not in first_ids and kid > parent  # new ids
        # the daughters appear where the parent was
        parent_mask = dividing["cells"][end] == parent
        kids_mask = np.isin(dividing["cells"][end + 1], kids)
        assert (parent_mask & kids_mask).sum() > 0.3 * parent_mask.sum()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_ids_are_consistent_from_frame_to_frame(dividing):
    cells = dividing["cells"]
    scores = []
    for t in range(len(cells) - 1):
        for i in set(np.unique(cells[t])) & set(np.unique(cells[t + 1])) - {0}:
            scores.append(iou(cells[t] == i, cells[t + 1] == i))
    scores = np.array(scores)
    assert len(scores) > 100
    # speed 2 px/frame on cells of radius ~6–13 px: the same id overlaps itself strongly
    assert np.median(scores) > 0.6 and np.mean(scores > 0.3) > 0.95


def centroids(labels: np.ndarray) -> dict[int, np.ndarray]:
    from scipy import ndimage

    ids = [int(i) for i in np.unique(labels) if i]
    points = ndimage.center_of_mass(labels > 0, labels, ids)
    return dict(zip(ids, (np.array(p) for p in points), strict=True))


def steps(out, margin: int = 20) -> np.ndarray:
    """Centroid displacements (dy, dx) per frame of ids away from the borders."""
    moves = []
    h, w = out["cells"].shape[1:]
    for a, b in zip(out["cells"][:-1], out["cells"][1:], strict=True):
        ca, cb = centroids(a), centroids(b)
        for i in set(ca) & set(cb):
            ok = all(
                margin < p[0] < h - margin and margin < p[1] < w - margin for p in (ca[i], cb[i])
            )
            if ok:
                moves.append(cb[i] - ca[i])
    return np.array(moves)


@pytest.mark.parametrize("speed", [1.0, 3.0])
def test_displacement_per_frame_matches_the_speed(speed):
    out = run(1, shape=(192, 192), frames=10, n_cells=12, speed=speed, cycle=(0, 0))
    moves = steps(out)
    assert len(moves) > 40
    length = np.hypot(moves[:, 0], moves[:, 1])
    # rigid shapes move with their centre; collisions and pixel rounding add a little
    assert np.median(length) == pytest.approx(speed, rel=0.15)


def test_drift_moves_the_population():
    # a short random step with no persistence averages out; the drift remains
    out = run(2, shape=(192, 192), frames=10, n_cells=16, speed=0.5, persistence=0.0,
              drift=(0.0, 2.0), cycle=(0, 0))  # fmt: skip
    mean = steps(out).mean(axis=0)
    assert mean[1] == pytest.approx(2.0, abs=0.2) and abs(mean[0]) < 0.1
    still = steps(run(2, shape=(192, 192), frames=4, n_cells=10, speed=0.0, cycle=(0, 0)))
    assert np.abs(still).max() < 0.5  # speed 0, no drift, no growth: nothing moves


def test_no_division_without_a_cycle():
    out = run(3, frames=8, cycle=(0, 0))
    assert (out["tracks"][:, 3] == 0).all()
    assert (out["tracks"][:, 1:3] == [0, 7]).all()  # every cell lives through all frames


def test_deterministic_by_seed():
    a, b, c = run(5, frames=5, **DIVIDING), run(5, frames=5, **DIVIDING), run(6, frames=5)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["images"], c["images"])


def test_sixteen_bit_and_max_cells():
    out = run(4, frames=10, bit_depth=16, max_cells=14, **DIVIDING)
    assert out["images"].dtype == np.uint16 and out["images"].max() > 4095
    live = [len(np.unique(f)) - 1 for f in out["cells"]]
    assert max(live) <= 14


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"frames": 0}, "frames 0"),
        ({"frames": 5000}, "frames 5000"),
        ({"speed": -1.0}, "speed -1.0"),
        ({"speed": 1e9}, "speed"),
        ({"persistence": 1.5}, "persistence"),
        ({"drift": (0.0, 1e6)}, "drift"),
        ({"cycle": (1.0, 5.0)}, "cycle"),
        ({"cycle": (9.0, 5.0)}, "cycle"),
        ({"cell_radius": (0.5, 3.0)}, "cell_radius"),
        ({"n_cells": 0}, "n_cells 0"),
        ({"max_cells": 10**6}, "max_cells"),
        ({"elongation": (0.5, 2.0)}, "elongation"),
        ({"bit_depth": 10}, "bit_depth 10"),
        ({"photons": 0.0}, "photons"),
        ({"shape": (8, 128)}, "both sides"),
        ({"shape": (4096, 4096), "frames": 100}, "exceeds"),
    ],
)
def test_nonsense_parameters_are_usage_errors(kw, fragment):
    kw = dict(kw)
    shape = kw.pop("shape", (64, 64))
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(")):
        simulate_timelapse(shape, np.random.default_rng(0), **{"frames": 3, **kw})


def test_simulate_writes_one_sequence_folder_per_item_with_its_tracks(tmp_path):
    """`celltool simulate -m timelapse2d`: images/cells/nuclei as sequence folders, the CTC
    track table per sequence, all matching the label maps; split sees the sequences."""
    from conftest import cli

    from celltool.imageio import list_image_tree, read_image
    from celltool.manifest import read_manifest

    res = cli("simulate", "-m", "timelapse2d", "-n", "2", "--size", "64", "--frames", "6",
              "--n-cells", "4", "--cell-radius", "5,7", "--cycle", "3,4", "-o",
              str(tmp_path / "tl"), "--seed", "3")  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = tmp_path / "tl"
    names = [str(n) for n in list_image_tree(out / "images")]
    assert names == [f"sim_{i:04d}/t{t:03d}.png" for i in range(2) for t in range(6)]
    assert read_manifest(out)["facts"]["sequences"] is True
    for seq in ("sim_0000", "sim_0001"):
        rows = np.loadtxt(out / "tracks" / f"{seq}.txt", dtype=np.int64, ndmin=2)
        labels = [read_image(out / "cells" / seq / f"t{t:03d}.png") for t in range(6)]
        for label, begin, end, parent in rows:
            present = [t for t in range(6) if (labels[t] == label).any()]
            assert present == list(range(begin, end + 1))
            assert parent == 0 or parent in rows[:, 0]
        assert (rows[:, 3] > 0).any()  # divisions within 3-4 frames
    res = cli("split", str(out), "--method", "frames", "--by", "sequence", "--ratios", "1,0,1",
              "-o", str(tmp_path / "pairs"), "--pairs", "temporal")  # fmt: skip
    assert res.returncode == 0, res.stderr
    facts = read_manifest(tmp_path / "pairs")["facts"]
    assert facts["n_sequences"] == 2 and facts["samples_per_split"]["train"] == 5
