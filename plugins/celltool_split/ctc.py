"""Cell Tracking Challenge ground truth from instance label maps: numpy in, numpy out.

Tracks link objects of consecutive frames by overlap: an object of frame t+1 continues the
track of the object of frame t it overlaps with IoU >= ``threshold`` (one-to-one, Hungarian
on IoU); every other object starts a new track with parent 0 (divisions are not detected).
"""

from __future__ import annotations

import numpy as np

from celltool.labels import overlap_table


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
