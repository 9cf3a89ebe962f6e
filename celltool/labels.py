"""Label-map utilities shared by steps and metrics (numpy in, numpy out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_OBJECT_SIZE = 10  # px: smaller foreground components are not counted as objects


def relabel_sequential(labels: np.ndarray) -> np.ndarray:
    """Renumber instance ids to 1..N in increasing id order (0 stays background)."""
    ids = np.unique(labels)
    ids = ids[ids != 0]
    lut = np.zeros(int(labels.max()) + 1 if labels.size else 1, dtype=np.uint32)
    lut[ids] = np.arange(1, len(ids) + 1)
    return lut[labels].astype(np.uint16 if len(ids) < 65536 else np.uint32)


def overlap_table(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel counts of every (gt id, pred id) pair that overlaps, plus the area of each id.

    Returns ``(pairs, gt_area, pred_area)``: ``pairs`` is an (K, 3) int64 array of
    ``(gt_id, pred_id, intersection)`` for ids > 0; areas are indexed by id. Works for 2D and 3D.
    """
    if gt.shape != pred.shape:
        raise ValueError(f"shapes differ: {gt.shape} vs {pred.shape}")
    g = gt.ravel().astype(np.int64)
    p = pred.ravel().astype(np.int64)
    gt_area = np.bincount(g)
    pred_area = np.bincount(p)
    both = (g > 0) & (p > 0)
    key = g[both] * (int(p.max()) + 1) + p[both]
    keys, counts = np.unique(key, return_counts=True)
    pairs = np.stack([keys // (int(p.max()) + 1), keys % (int(p.max()) + 1), counts], axis=1)
    return pairs.reshape(-1, 3), gt_area, pred_area


@dataclass(frozen=True)
class Matching:
    """One-to-one matching of ground-truth and predicted objects at an IoU threshold."""

    threshold: float
    n_true: int
    n_pred: int
    matched_ious: np.ndarray  # IoU of each matched pair

    @property
    def tp(self) -> int:
        return int(len(self.matched_ious))

    @property
    def fp(self) -> int:
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        return self.n_true - self.tp

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else float(self.n_true == 0)

    @property
    def recall(self) -> float:
        return self.tp / self.n_true if self.n_true else float(self.n_pred == 0)

    @property
    def f1(self) -> float:
        denom = self.n_true + self.n_pred
        return 2 * self.tp / denom if denom else 1.0


def match_instances(gt: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> Matching:
    """Optimal one-to-one matching of instances with IoU >= ``threshold`` (Hungarian on IoU).

    For thresholds above 0.5 any match is unique, so this equals greedy matching there.
    """
    from scipy.optimize import linear_sum_assignment

    pairs, gt_area, pred_area = overlap_table(gt, pred)
    gt_ids = np.flatnonzero(gt_area[1:]) + 1
    pred_ids = np.flatnonzero(pred_area[1:]) + 1
    if len(pairs) == 0:
        return Matching(threshold, len(gt_ids), len(pred_ids), np.zeros(0))
    g, p, inter = pairs[:, 0], pairs[:, 1], pairs[:, 2].astype(np.float64)
    iou = inter / (gt_area[g] + pred_area[p] - inter)
    keep = iou >= threshold
    g, p, iou = g[keep], p[keep], iou[keep]
    if len(iou) == 0:
        return Matching(threshold, len(gt_ids), len(pred_ids), np.zeros(0))
    gi = np.searchsorted(gt_ids, g)
    pi = np.searchsorted(pred_ids, p)
    cost = np.zeros((len(gt_ids), len(pred_ids)))
    cost[gi, pi] = -iou
    rows, cols = linear_sum_assignment(cost)
    matched = -cost[rows, cols]
    return Matching(threshold, len(gt_ids), len(pred_ids), matched[matched > 0])


@dataclass(frozen=True)
class ReferenceMatches:
    """Cell Tracking Challenge matching: a predicted object p matches a reference object g when
    |g ∩ p| > 0.5·|g| (so each g has at most one match; a p may cover several g)."""

    gt_ids: np.ndarray  # ids present in the reference
    pred_ids: np.ndarray  # ids present in the prediction
    gt: np.ndarray  # matched reference ids
    pred: np.ndarray  # the predicted id each of them matched
    iou: np.ndarray  # IoU of each matched pair


def match_reference(gt: np.ndarray, pred: np.ndarray) -> ReferenceMatches:
    """Match by the CTC rule (SEG/DET/TRA): overlap with more than half of the reference object."""
    pairs, gt_area, pred_area = overlap_table(gt, pred)
    gt_ids = np.flatnonzero(gt_area[1:]) + 1
    pred_ids = np.flatnonzero(pred_area[1:]) + 1
    g, p, inter = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    keep = 2 * inter > gt_area[g]
    g, p, inter = g[keep], p[keep], inter[keep].astype(np.float64)
    iou = inter / (gt_area[g] + pred_area[p] - inter)
    return ReferenceMatches(gt_ids, pred_ids, g, p, iou)


def iou_matrix(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense IoU matrix ``(gt_ids, pred_ids, iou[len(gt_ids), len(pred_ids)])`` of present ids."""
    pairs, gt_area, pred_area = overlap_table(gt, pred)
    gt_ids = np.flatnonzero(gt_area[1:]) + 1
    pred_ids = np.flatnonzero(pred_area[1:]) + 1
    out = np.zeros((len(gt_ids), len(pred_ids)))
    if len(pairs):
        g, p, inter = pairs[:, 0], pairs[:, 1], pairs[:, 2].astype(np.float64)
        out[np.searchsorted(gt_ids, g), np.searchsorted(pred_ids, p)] = inter / (
            gt_area[g] + pred_area[p] - inter
        )
    return gt_ids, pred_ids, out


def filter_instances(
    labels: np.ndarray, *, min_size: int = 0, max_size: int = 0, clear_border: bool = False
) -> np.ndarray:
    """Drop instances smaller than ``min_size`` or larger than ``max_size`` px (0 = no limit)
    and, with ``clear_border``, those touching the image edge; then renumber 1..N."""
    labels = np.asarray(labels)
    if labels.size == 0 or labels.max() == 0:
        return relabel_sequential(labels)
    sizes = np.bincount(labels.ravel())
    drop = np.zeros(len(sizes), bool)
    if min_size > 0:
        drop |= sizes < min_size
    if max_size > 0:
        drop |= sizes > max_size
    if clear_border:
        edges = [np.take(labels, i, axis=ax).ravel() for ax in range(labels.ndim) for i in (0, -1)]
        drop[np.unique(np.concatenate(edges))] = True
    drop[0] = False
    return relabel_sequential(np.where(drop[labels], 0, labels))


def instances_of_mask(mask: np.ndarray) -> np.ndarray:
    """Instances of a binary mask: foreground > 127 (> 0 for 0/1 masks; anti-aliased 8-bit
    masks keep their solid part), 8-connected (2D) or 26-connected (3D) components, ids 1..N
    (int32)."""
    from scipy import ndimage

    mask = np.asarray(mask)
    fg = mask > (127 if mask.max(initial=0) > 1 else 0)
    labels, _ = ndimage.label(fg, structure=np.ones((3,) * fg.ndim, bool))
    return labels


def foreground(frame: np.ndarray) -> np.ndarray:
    """Otsu foreground of one frame (all False for a constant frame)."""
    from skimage.filters import threshold_otsu

    frame = np.asarray(frame)
    if frame.min() == frame.max():
        return np.zeros(frame.shape, dtype=bool)
    return frame > threshold_otsu(frame)


def count_objects(mask: np.ndarray, min_object_size: int = MIN_OBJECT_SIZE) -> int:
    """Objects in a boolean mask: 8-connected components of at least ``min_object_size`` px."""
    from scipy import ndimage

    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    return int(np.count_nonzero(np.bincount(labels.ravel())[1:] >= min_object_size))


def label_density(labels: np.ndarray) -> tuple[int, float]:
    """Objects (distinct ids > 0) and foreground fraction of a label map."""
    labels = np.asarray(labels)
    return int(np.count_nonzero(np.unique(labels))), float(np.mean(labels > 0))


def nearest_neighbour(points: np.ndarray) -> np.ndarray:
    """Distance from each point (rows of an (N, D) array) to the nearest other one (empty for
    N < 2)."""
    points = np.asarray(points, float)
    if len(points) < 2:
        return np.zeros(0)
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(points).query(points, k=2)
    return dist[:, 1]


def centroid_spacing(labels: np.ndarray) -> np.ndarray:
    """Distance from each object's centroid to the nearest other object's centroid (px; empty
    for fewer than two objects): how crowded a label map is."""
    from scipy import ndimage

    labels = np.asarray(labels)
    ids = np.unique(labels)
    ids = ids[ids != 0]
    if len(ids) < 2:
        return np.zeros(0)
    return nearest_neighbour(np.asarray(ndimage.center_of_mass(labels > 0, labels, ids)))
