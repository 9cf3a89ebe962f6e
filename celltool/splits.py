"""Which split (train/val/test) every frame goes to, and temporal (t, t+1) pairs.

Used by ``celltool split`` whatever splitter plugin cuts the samples; numpy in, lists out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from celltool.errors import UsageError

SPLITS = ("train", "val", "test")


def split_counts(n: int, ratios: Sequence[float]) -> list[int]:
    """Frames per split for ``n`` frames (largest remainders; a split with a positive ratio
    gets at least one frame when there are enough frames)."""
    ratios = np.asarray(ratios, np.float64)
    ratios = ratios / ratios.sum()
    raw = ratios * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    for i in np.flatnonzero((ratios > 0) & (counts == 0)):
        donor = int(np.argmax(counts))
        if counts[donor] > 1:
            counts[donor] -= 1
            counts[i] += 1
    return [int(c) for c in counts]


def assign_splits(
    sequences: Sequence[str], ratios: Sequence[float], by: str, rng: np.random.Generator
) -> list[str]:
    """The split ('train'/'val'/'test') of every frame, frames given in time order with their
    sequence names.

    ``by='frame'``: a seeded random partition of the frames. ``by='time'``: in every sequence
    the earliest frames go to train, then val, the latest to test. ``by='sequence'``: whole
    sequences go to one split (a seeded random partition of the sequences).
    """
    n = len(sequences)
    out = [""] * n
    if by == "frame":
        order = rng.permutation(n)
        start = 0
        for split, count in zip(SPLITS, split_counts(n, ratios), strict=True):
            for i in order[start : start + count]:
                out[int(i)] = split
            start += count
        return out
    groups: dict[str, list[int]] = {}
    for i, seq in enumerate(sequences):
        groups.setdefault(seq, []).append(i)
    if by == "time":
        for members in groups.values():
            start = 0
            for split, count in zip(SPLITS, split_counts(len(members), ratios), strict=True):
                for i in members[start : start + count]:
                    out[i] = split
                start += count
        return out
    if by == "sequence":
        names = list(groups)
        picks = assign_splits(names, ratios, "frame", rng)
        for name, split in zip(names, picks, strict=True):
            for i in groups[name]:
                out[i] = split
        return out
    raise UsageError(f"--by {by!r}: choose frame, time or sequence")


def temporal_pairs(sequences: Sequence[str], splits: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs (t, t+1) of consecutive frames of the same sequence in the same split.

    Frames are in time order; a pair never crosses a sequence or split boundary and the
    last frame of a sequence is never paired with itself.
    """
    return [
        (i, i + 1)
        for i in range(len(sequences) - 1)
        if sequences[i] == sequences[i + 1] and splits[i] == splits[i + 1]
    ]


def parse_ratios(text: str) -> tuple[float, ...]:
    """``"0.8,0.1,0.1"`` → three finite non-negative fractions (any positive sum)."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--ratios {text!r}: expected 3 numbers train,val,test") from None
    if len(values) != 3 or not all(math.isfinite(v) and v >= 0 for v in values) or not sum(values):
        raise UsageError(
            f"--ratios {text!r}: takes 3 finite non-negative numbers train,val,test with a "
            "positive sum (e.g. 0.8,0.1,0.1)"
        )
    return values
