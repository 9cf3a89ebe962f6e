"""Segmentation metrics of instance label maps (2D or 3D; 0 = background), numpy in, floats out.

Per pair: ``seg``, ``det`` (Cell Tracking Challenge), ``average_precision`` (IoU 0.5:0.95),
``detection_at_50`` (precision/recall/F1), ``panoptic_quality``, ``aggregated_jaccard``.
Over a sequence or set of frames: :func:`ctc_scores` (SEG, DET and, with track tables, TRA).
Instance matching comes from :mod:`celltool.labels`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool.labels import iou_matrix, match_instances, match_reference

THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))
W_NS, W_FN, W_FP, W_ED, W_EA, W_EC = 5.0, 10.0, 1.0, 1.0, 1.5, 1.0


def vertex_ops(gt: np.ndarray, pred: np.ndarray) -> dict:
    """CTC detection test of one frame: matches and the counts NS, FN, FP, n_ref."""
    m = match_reference(gt, pred)
    covered = {int(p): int(n) for p, n in zip(*np.unique(m.pred, return_counts=True), strict=False)}
    return {
        "matches": m,
        "n_ref": len(m.gt_ids),
        "fn": len(m.gt_ids) - len(m.gt),
        "fp": int(sum(1 for p in m.pred_ids if int(p) not in covered)),
        "ns": int(sum(n - 1 for n in covered.values())),
        "unique": {p for p, n in covered.items() if n == 1},
    }


def frame_counts(ops: dict) -> dict[str, float]:
    """The per-frame sums SEG and DET need: Σ IoU, #references, NS, FN, FP."""
    return {
        "seg_sum": float(ops["matches"].iou.sum()),
        **{k: ops[k] for k in ("n_ref", "ns", "fn", "fp")},
    }


def seg_det_from_counts(counts: Sequence[dict]) -> dict[str, float]:
    """SEG and DET over frames from their :func:`frame_counts` (sums, not a mean of scores)."""
    n_ref = sum(c["n_ref"] for c in counts)
    ns, fn, fp = (sum(c[k] for c in counts) for k in ("ns", "fn", "fp"))
    aogm_d = W_NS * ns + W_FN * fn + W_FP * fp
    aogm_d0 = W_FN * n_ref
    return {
        "SEG": sum(c["seg_sum"] for c in counts) / max(n_ref, 1),
        "DET": 1 - min(aogm_d, aogm_d0) / aogm_d0 if aogm_d0 else float("nan"),
        "NS": ns,
        "FN": fn,
        "FP": fp,
        "n_ref": n_ref,
    }


def seg(gt: np.ndarray, pred: np.ndarray) -> float:
    """CTC SEG: Σ IoU of matched reference objects / number of reference objects."""
    return ctc_scores([gt], [pred])["SEG"]


def det(gt: np.ndarray, pred: np.ndarray) -> float:
    """CTC DET: 1 − min(AOGM_D, AOGM_D0)/AOGM_D0 with AOGM_D = 5·NS + 10·FN + 1·FP and
    AOGM_D0 = 10·|V_ref|."""
    return ctc_scores([gt], [pred])["DET"]


def _edges(frames: list[np.ndarray], tracks: np.ndarray | None) -> dict[tuple, int]:
    """Graph edges ((t1, id1), (t2, id2)) → semantic (0 track link, 1 parent link)."""
    edges: dict[tuple, int] = {}
    for t in range(len(frames) - 1):
        for label in np.intersect1d(frames[t], frames[t + 1]):
            edges[((t, int(label)), (t + 1, int(label)))] = 0
    for label, begin, _end, parent in np.asarray(tracks).reshape(-1, 4):
        if parent == 0:
            continue
        rows = np.asarray(tracks).reshape(-1, 4)
        parent_end = int(rows[rows[:, 0] == parent][0][2])
        edges[((parent_end, int(parent)), (int(begin), int(label)))] = 1
    return edges


def ctc_scores(
    gt_frames: Sequence[np.ndarray],
    pred_frames: Sequence[np.ndarray],
    gt_tracks: np.ndarray | None = None,
    pred_tracks: np.ndarray | None = None,
) -> dict[str, float]:
    """SEG and DET over a set of frames (and TRA when both track tables ``L B E P`` are given).

    Follows the Cell Tracking Challenge definitions (Matula et al. 2015) as py-ctcmetrics
    implements them: vertices are objects per frame; edges join the same id in consecutive
    frames (track links) and a parent's last frame to a child's first (parent links).
    """
    if len(gt_frames) != len(pred_frames):
        raise ValueError(f"{len(gt_frames)} reference frames but {len(pred_frames)} predicted")
    ops = [vertex_ops(g, p) for g, p in zip(gt_frames, pred_frames, strict=False)]
    out = seg_det_from_counts([frame_counts(o) for o in ops])
    aogm_d = W_NS * out["NS"] + W_FN * out["FN"] + W_FP * out["FP"]
    n_ref = out["n_ref"]
    if gt_tracks is None or pred_tracks is None:
        return out
    gt_ids = [np.unique(f)[np.unique(f) > 0] for f in gt_frames]
    pred_ids = [np.unique(f)[np.unique(f) > 0] for f in pred_frames]
    ref_edges = _edges(gt_ids, gt_tracks)
    comp_edges = _edges(pred_ids, pred_tracks)
    # map uniquely matched computed vertices to their reference vertex
    to_ref = {}
    for t, o in enumerate(ops):
        for g, p in zip(o["matches"].gt, o["matches"].pred, strict=False):
            if int(p) in o["unique"]:
                to_ref[(t, int(p))] = (t, int(g))
    mapped = {}
    if comp_edges:
        for (a, b), sem in comp_edges.items():
            if a in to_ref and b in to_ref:
                mapped[(to_ref[a], to_ref[b])] = sem
        ed = sum(1 for e in mapped if e not in ref_edges)
        ea = sum(1 for e in ref_edges if e not in mapped)
        ec = sum(1 for e, sem in mapped.items() if e in ref_edges and ref_edges[e] != sem)
    else:
        ed, ea, ec = 0, len(ref_edges), 0
    aogm = aogm_d + W_ED * ed + W_EA * ea + W_EC * ec
    aogm0 = W_FN * n_ref + W_EA * len(ref_edges)
    out.update(TRA=1 - min(aogm, aogm0) / aogm0 if aogm0 else float("nan"), ED=ed, EA=ea, EC=ec)
    return out


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
