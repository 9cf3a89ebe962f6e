"""The Cell Tracking Challenge (CTC) in celltool's core: ground truth from instance label maps
(export, :class:`Tracker`) and the SEG, DET and TRA scores over frames (:func:`ctc_scores`).

Tracks link objects of consecutive frames by overlap: an object of frame t+1 continues the
track of the object of frame t it overlaps with IoU >= ``threshold`` (one-to-one, Hungarian
on IoU); every other object starts a new track with parent 0 (divisions are not detected).

Scores follow the CTC definitions (Matula et al. 2015) as py-ctcmetrics implements them; they
are checked against py-ctcmetrics in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool.labels import match_reference, overlap_table


class Tracker:
    """Feed label maps in time order; get TRA maps (track ids) and the ``man_track.txt`` rows."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.prev: np.ndarray | None = None  # previous frame's instance map
        self.prev_tracks: dict[int, int] = {}  # instance id of previous frame -> track id
        self.tracks: dict[int, list[int]] = {}  # track id -> [begin, end, parent]
        self.t = -1

    def add(self, labels: np.ndarray) -> np.ndarray:
        """Track-id map of the next frame (uint16)."""
        from scipy.optimize import linear_sum_assignment

        self.t += 1
        labels = np.asarray(labels)
        ids = np.unique(labels)
        ids = ids[ids != 0]
        links: dict[int, int] = {}
        if self.prev is not None and ids.size and self.prev_tracks:
            pairs, prev_area, area = overlap_table(self.prev, labels)
            if len(pairs):
                p, c, inter = pairs[:, 0], pairs[:, 1], pairs[:, 2].astype(np.float64)
                iou = inter / (prev_area[p] + area[c] - inter)
                keep = iou >= self.threshold
                p, c, iou = p[keep], c[keep], iou[keep]
                if len(iou):
                    pu, pi = np.unique(p, return_inverse=True)
                    cu, ci = np.unique(c, return_inverse=True)
                    cost = np.zeros((len(pu), len(cu)))
                    cost[pi, ci] = -iou
                    rows, cols = linear_sum_assignment(cost)
                    for r, k in zip(rows, cols, strict=True):
                        if cost[r, k] < 0:
                            links[int(cu[k])] = self.prev_tracks[int(pu[r])]
        current: dict[int, int] = {}
        for obj in ids.tolist():
            track = links.get(obj)
            if track is None:
                track = len(self.tracks) + 1
                self.tracks[track] = [self.t, self.t, 0]
            else:
                self.tracks[track][1] = self.t
            current[obj] = track
        if len(self.tracks) > np.iinfo(np.uint16).max:
            raise ValueError("more than 65535 tracks: CTC uint16 masks cannot hold them")
        lut = np.zeros(int(labels.max()) + 1 if labels.size else 1, np.uint16)
        for obj, track in current.items():
            lut[obj] = track
        self.prev, self.prev_tracks = labels, current
        return lut[labels]

    def table(self) -> str:
        """``man_track.txt``: one line ``L B E P`` per track."""
        return "".join(f"{k} {b} {e} {p}\n" for k, (b, e, p) in sorted(self.tracks.items()))


def instances_from_mask(mask: np.ndarray) -> np.ndarray:
    """Instance map of a binary mask: 8-connected components, ids 1..N (uint16)."""
    from scipy import ndimage

    labels, _ = ndimage.label(np.asarray(mask) != 0, structure=np.ones((3, 3), bool))
    return labels.astype(np.uint16)


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
