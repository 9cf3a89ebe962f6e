"""Segmentation metrics of instance label maps (2D or 3D; 0 = background), numpy in, floats out.

Per pair: ``seg``, ``det`` (Cell Tracking Challenge), ``average_precision`` (IoU 0.5:0.95),
``detection_at_50`` (precision/recall/F1), ``panoptic_quality``, ``aggregated_jaccard``.
SEG/DET/TRA over a sequence or set of frames are :func:`celltool.ctc.ctc_scores`; instance
matching comes from :mod:`celltool.labels`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool.ctc import ctc_scores, frame_counts, seg_det_from_counts, vertex_ops
from celltool.labels import iou_matrix, match_instances

__all__ = [
    "aggregated_jaccard",
    "ap_at",
    "average_precision",
    "ctc_scores",
    "det",
    "detection_at_50",
    "frame_counts",
    "panoptic_quality",
    "seg",
    "seg_det_from_counts",
    "vertex_ops",
]

THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


def seg(gt: np.ndarray, pred: np.ndarray) -> float:
    """CTC SEG: Σ IoU of matched reference objects / number of reference objects."""
    return ctc_scores([gt], [pred])["SEG"]


def det(gt: np.ndarray, pred: np.ndarray) -> float:
    """CTC DET: 1 − min(AOGM_D, AOGM_D0)/AOGM_D0 with AOGM_D = 5·NS + 10·FN + 1·FP and
    AOGM_D0 = 10·|V_ref|."""
    return ctc_scores([gt], [pred])["DET"]


def average_precision(
    gt: np.ndarray, pred: np.ndarray, thresholds: Sequence[float] = THRESHOLDS
) -> float:
    """Mean over IoU thresholds 0.5:0.05:0.95 of TP/(TP + FP + FN) with one-to-one matching.

    (The instance-segmentation "AP" of Stringer et al./Schmidt et al.; 1 when both are empty.)
    """
    values = []
    for t in thresholds:
        m = match_instances(gt, pred, float(t))
        denom = m.tp + m.fp + m.fn
        values.append(m.tp / denom if denom else 1.0)
    return float(np.mean(values))


def ap_at(
    gt: np.ndarray, pred: np.ndarray, ap_thresholds: Sequence[float] = (0.5, 0.75, 0.9)
) -> dict[str, float]:
    """TP/(TP + FP + FN) at each IoU threshold (one-to-one matching), keyed ``"0.5"``,
    ``"0.75"``, ...: the values the mean of :func:`average_precision` is taken over."""
    return {f"{t:g}": average_precision(gt, pred, (float(t),)) for t in ap_thresholds}


def detection_at_50(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of one-to-one matches with IoU ≥ 0.5."""
    m = match_instances(gt, pred, 0.5)
    return {"precision": m.precision, "recall": m.recall, "f1": m.f1}


def panoptic_quality(gt: np.ndarray, pred: np.ndarray) -> float:
    """PQ = Σ_TP IoU / (TP + FP/2 + FN/2) with matches at IoU > 0.5 (Kirillov et al.)."""
    m = match_instances(gt, pred, 0.5)
    ious = m.matched_ious[m.matched_ious > 0.5]
    tp = len(ious)
    denom = tp + 0.5 * (m.n_pred - tp) + 0.5 * (m.n_true - tp)
    return float(ious.sum() / denom) if denom else 1.0


def aggregated_jaccard(gt: np.ndarray, pred: np.ndarray) -> float:
    """AJI (Kumar et al. 2017): Σ|G_i ∩ P*_i| / (Σ|G_i ∪ P*_i| + Σ|unused P|), P*_i = argmax IoU.

    A reference object without any overlap adds its area to the union; every predicted object
    not chosen by any reference object adds its area too. 1 when both are empty.
    """
    gt_ids, pred_ids, ious = iou_matrix(gt, pred)
    gt_area = np.bincount(np.asarray(gt).ravel().astype(np.int64))
    pred_area = np.bincount(np.asarray(pred).ravel().astype(np.int64))
    inter_total = union_total = 0.0
    used = np.zeros(len(pred_ids), dtype=bool)
    for i, g in enumerate(gt_ids):
        if len(pred_ids) and ious[i].max() > 0:
            j = int(np.argmax(ious[i]))
            iou = ious[i, j]
            a, b = gt_area[g], pred_area[pred_ids[j]]
            inter = iou * (a + b) / (1 + iou)
            inter_total += inter
            union_total += a + b - inter
            used[j] = True
        else:
            union_total += gt_area[g]
    union_total += float(pred_area[pred_ids[~used]].sum()) if len(pred_ids) else 0.0
    if union_total == 0:
        return 1.0
    return float(inter_total / union_total)
