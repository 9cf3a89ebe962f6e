"""Segmentation metrics: CTC SEG/DET/TRA against py-ctcmetrics; AP/F1/PQ/AJI by hand."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from celltool_metrics import segmentation as S


def disc(shape, center, radius):
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2


def draw(shape, objects):
    """objects: list of (label, mask) painted in order."""
    out = np.zeros(shape, np.uint16)
    for label, mask in objects:
        out[mask] = label
    return out


def tracks_of(frames, parents=None):
    """CTC track table L B E P from label frames (labels must be contiguous in time)."""
    parents = parents or {}
    rows = []
    labels = sorted({int(v) for f in frames for v in np.unique(f) if v})
    for label in labels:
        present = [t for t, f in enumerate(frames) if (f == label).any()]
        assert present == list(range(present[0], present[-1] + 1))
        rows.append((label, present[0], present[-1], parents.get(label, 0)))
    return np.array(rows, dtype=np.int64)


@pytest.fixture(scope="module")
def sequence():
    """4 frames, 96²: a division (2 → 4, 5), a miss, a 70/30 split, a merge and a false positive."""
    shape = (96, 96)
    gt, pred = [], []
    for t in range(4):
        g = [(1, disc(shape, (20, 20 + t), 8)), (3, disc(shape, (70, 20), 7))]
        p = [(1, disc(shape, (20, 21 + t), 7)), (12, disc(shape, (85, 85), 5))]
        if t < 2:
            g.append((2, disc(shape, (40, 60), 9)))
            p.append((2, disc(shape, (40, 60), 9)))
        else:
            g += [(4, disc(shape, (40, 52), 6)), (5, disc(shape, (40, 66), 6))]
            if t == 2:
                p += [(9, disc(shape, (40, 52), 6)), (10, disc(shape, (40, 66), 6))]
            else:  # merged into one object covering both
                p.append(
                    (
                        11,
                        disc(shape, (40, 52), 6)
                        | disc(shape, (40, 66), 6)
                        | (np.abs(np.ogrid[:96][:, None] - 40) < 3)
                        & (np.arange(96) > 52)
                        & (np.arange(96) < 66),
                    )
                )
        if t >= 1:
            g.append((6, disc(shape, (70, 60), 8)))
            big = disc(shape, (70, 60), 8) & (np.arange(96)[None, :] < 63)
            small = disc(shape, (70, 60), 8) & (np.arange(96)[None, :] >= 63)
            if t == 1:
                p += [(13, big), (14, small)]  # split: 13 matches, 14 is a false positive
            else:
                p.append((13, disc(shape, (70, 60), 8)))
        if t != 2:  # object 3 is missed in frame 2 and comes back as a new track
            p.append((3 if t < 2 else 7, disc(shape, (70, 21), 7)))
        gt.append(draw(shape, g))
        pred.append(draw(shape, p))
    gt_tracks = tracks_of(gt, {4: 2, 5: 2})
    pred_tracks = tracks_of(pred, {9: 2, 10: 2})
    return gt, pred, gt_tracks, pred_tracks


def write_ctc(root, gt, pred, gt_tracks, pred_tracks):
    import tifffile

    (root / "01_GT" / "TRA").mkdir(parents=True)
    (root / "01_GT" / "SEG").mkdir(parents=True)
    (root / "01_RES").mkdir(parents=True)
    for t, (g, p) in enumerate(zip(gt, pred, strict=False)):
        tifffile.imwrite(root / "01_GT" / "TRA" / f"man_track{t:03d}.tif", g)
        tifffile.imwrite(root / "01_GT" / "SEG" / f"man_seg{t:03d}.tif", g)
        tifffile.imwrite(root / "01_RES" / f"mask{t:03d}.tif", p)
    for path, table in (
        (root / "01_GT" / "TRA" / "man_track.txt", gt_tracks),
        (root / "01_RES" / "res_track.txt", pred_tracks),
    ):
        path.write_text("".join(" ".join(map(str, r)) + "\n" for r in table))


def ctcmetrics(root, metrics):
    pytest.importorskip("ctc_metrics", reason="py-ctcmetrics is in the 'test' extra")
    from ctc_metrics import evaluate_sequence

    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress on stdout
        return evaluate_sequence(str(root / "01_RES"), str(root / "01_GT"), metrics, threads=1)


def test_ctc_seg_det_tra_equal_py_ctcmetrics(tmp_path, sequence):
    gt, pred, gt_tracks, pred_tracks = sequence
    write_ctc(tmp_path, gt, pred, gt_tracks, pred_tracks)
    ref = ctcmetrics(tmp_path, ["DET", "SEG", "TRA"])
    ours = S.ctc_scores(gt, pred, gt_tracks, pred_tracks)
    assert ours["FN"] > 0 and ours["FP"] > 0 and ours["NS"] > 0  # the case covers all errors
    assert 0 < ref["TRA"] < 1
    for key in ("SEG", "DET", "TRA"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
    for key in ("NS", "FN", "FP", "ED", "EA", "EC"):
        assert ours[key] == ref[f"AOGM_{key}"], key


def test_ctc_3d_equal_py_ctcmetrics(tmp_path):
    rng = np.random.default_rng(0)
    gt, pred = [], []
    for _t in range(2):
        g = np.zeros((6, 40, 40), np.uint16)
        p = np.zeros_like(g)
        for label, (z, y, x) in enumerate([(2, 10, 10), (3, 28, 12), (3, 20, 30)], start=1):
            g[z - 2 : z + 2, y - 5 : y + 5, x - 5 : x + 5] = label
            dy, dx = rng.integers(-3, 4, 2)
            p[z - 2 : z + 2, y - 5 + dy : y + 5 + dy, x - 5 + dx : x + 5 + dx] = label
        gt.append(g)
        pred.append(p)
    tracks = tracks_of(gt)
    write_ctc(tmp_path, gt, pred, tracks, tracks_of(pred))
    ref = ctcmetrics(tmp_path, ["DET", "SEG"])
    ours = S.ctc_scores(gt, pred)
    assert ours["SEG"] == pytest.approx(ref["SEG"], abs=1e-12)
    assert ours["DET"] == pytest.approx(ref["DET"], abs=1e-12)


@pytest.fixture
def hand_case():
    """GT A, B (10×10); pred A exact, B shifted 2 px (IoU 2/3), C a 5×5 false positive."""
    gt = np.zeros((40, 40), np.uint16)
    pred = np.zeros_like(gt)
    gt[2:12, 2:12] = 1
    gt[20:30, 20:30] = 2
    pred[2:12, 2:12] = 5
    pred[20:30, 22:32] = 7
    pred[33:38, 2:7] = 9
    return gt, pred


def test_pair_metrics_by_hand(hand_case):
    gt, pred = hand_case
    # thresholds 0.5..0.65: TP 2, FP 1 → 2/3; 0.7..0.95: TP 1, FP 2, FN 1 → 1/4
    assert S.average_precision(gt, pred) == pytest.approx((4 * 2 / 3 + 6 * 1 / 4) / 10)
    d = S.detection_at_50(gt, pred)
    assert (d["precision"], d["recall"], d["f1"]) == pytest.approx((2 / 3, 1.0, 0.8))
    assert S.panoptic_quality(gt, pred) == pytest.approx((1 + 2 / 3) / 2.5)
    assert S.aggregated_jaccard(gt, pred) == pytest.approx((100 + 80) / (100 + 120 + 25))
    assert S.seg(gt, pred) == pytest.approx((1 + 2 / 3) / 2)
    assert S.det(gt, pred) == pytest.approx(1 - 1 / 20)


@pytest.mark.parametrize(
    "name", ["seg", "det", "average_precision", "panoptic_quality", "aggregated_jaccard"]
)
def test_identity_is_perfect_and_erosion_lowers_the_score(name, hand_case):
    from scipy import ndimage

    gt, _ = hand_case
    f = getattr(S, name)
    assert f(gt, gt) == pytest.approx(1.0)
    scores = []
    for it in (1, 2, 3):
        eroded = np.where(ndimage.binary_erosion(gt > 0, iterations=it), gt, 0)
        scores.append(f(gt, eroded))
    assert scores[0] >= scores[1] >= scores[2]
    if name not in ("det",):
        assert scores[0] > scores[2]


def test_empty_prediction_scores_zero(hand_case):
    gt, _ = hand_case
    empty = np.zeros_like(gt)
    assert S.seg(gt, empty) == 0 and S.det(gt, empty) == 0
    assert S.average_precision(gt, empty) == 0 and S.aggregated_jaccard(gt, empty) == 0
