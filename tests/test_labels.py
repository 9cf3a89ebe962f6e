"""Instance matching against hand-counted cases."""

import numpy as np
import pytest

from celltool.labels import label_density, match_instances, overlap_table, relabel_sequential


def squares():
    gt = np.zeros((20, 20), np.uint16)
    gt[0:10, 0:10] = 1  # 100 px
    gt[12:20, 12:20] = 2  # 64 px
    gt[0:4, 15:19] = 3  # 16 px, missed
    pred = np.zeros_like(gt)
    pred[0:10, 0:8] = 5  # IoU 80/100 = 0.8 with gt 1
    pred[12:20, 12:16] = 7  # IoU 32/64 = 0.5 with gt 2
    pred[16:20, 0:4] = 9  # false positive
    return gt, pred


def test_overlap_table_counts_pixels():
    gt, pred = squares()
    pairs, gt_area, pred_area = overlap_table(gt, pred)
    assert sorted(map(tuple, pairs.tolist())) == [(1, 5, 80), (2, 7, 32)]
    assert gt_area[1] == 100 and pred_area[7] == 32


@pytest.mark.parametrize(
    ("threshold", "tp", "fp", "fn"), [(0.5, 2, 1, 1), (0.51, 1, 2, 2), (0.9, 0, 3, 3)]
)
def test_match_counts(threshold, tp, fp, fn):
    gt, pred = squares()
    m = match_instances(gt, pred, threshold)
    assert (m.tp, m.fp, m.fn) == (tp, fp, fn)
    assert m.f1 == pytest.approx(2 * tp / (3 + 3))


def test_identity_is_perfect_and_empty_is_defined():
    gt, _ = squares()
    m = match_instances(gt, gt, 0.5)
    assert m.f1 == 1.0 and np.allclose(m.matched_ious, 1.0)
    empty = np.zeros_like(gt)
    assert match_instances(empty, empty).f1 == 1.0
    assert match_instances(gt, empty).recall == 0.0


def test_hungarian_prefers_the_better_total_at_low_threshold():
    gt = np.zeros((1, 10), np.uint16)
    gt[0, 0:4] = 1
    gt[0, 4:10] = 2
    pred = np.zeros_like(gt)
    pred[0, 0:6] = 1  # IoU 4/6 with gt1, 2/10 with gt2
    pred[0, 6:10] = 2  # IoU 4/6 with gt2
    m = match_instances(gt, pred, 0.1)
    assert m.tp == 2


def test_relabel_sequential():
    lab = np.array([[0, 7, 7], [3, 0, 9]])
    assert relabel_sequential(lab).tolist() == [[0, 2, 2], [1, 0, 3]]


def test_label_density_counts_distinct_ids_and_foreground_fraction():
    labels = np.zeros((4, 5), np.uint32)
    labels[0, :2] = 7  # ids need not be consecutive
    labels[3, 4] = 70000
    assert label_density(labels) == (2, 3 / 20)
    assert label_density(np.zeros((3, 3), np.uint16)) == (0, 0.0)


def test_centroid_spacing_is_the_distance_to_the_nearest_other_centroid():
    from celltool.labels import centroid_spacing, nearest_neighbour

    labels = np.zeros((20, 30), np.uint16)
    labels[0:2, 0:2] = 1  # centroid (0.5, 0.5)
    labels[0:2, 6:8] = 5  # (0.5, 6.5): 6 from the first
    labels[10:12, 26:28] = 2  # (10.5, 26.5): nearest is 5, √(10² + 20²)
    assert np.allclose(np.sort(centroid_spacing(labels)), [6.0, 6.0, np.hypot(10, 20)])
    assert centroid_spacing(labels * (labels == 1)).size == 0  # one object: no spacing
    assert nearest_neighbour(np.zeros((1, 2))).size == 0
