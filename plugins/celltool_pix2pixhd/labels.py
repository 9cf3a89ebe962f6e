"""Label maps → pix2pixHD's generator input (numpy in, numpy out).

- class-index maps come from the sketch's class table (``facts.classes``): an ``index`` sketch
  holds the indices, a ``gray`` sketch the classes' gray values (mapped back through the table);
- the **edge map** marks a pixel whose id differs from one of its 4 neighbours (pix2pixHD's
  ``get_edges``): from instance ids it separates touching cells of the same class; without
  instance maps, the class map's own boundaries are used;
- the input is the one-hot class map (``label_nc`` channels) plus the edge map, or, with
  ``label_nc`` 0, the sketch as a plain image (plus the edge map when instance maps exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError

MAX_CLASSES = 256  # one-hot channels: bounded


def get_edges(ids: np.ndarray) -> np.ndarray:
    """1 where a pixel's id differs from its left, right, upper or lower neighbour (float32,
    same shape as the 2D ``ids``); both pixels of a differing pair are edges."""
    edge = np.zeros(ids.shape, dtype=bool)
    dx = ids[:, 1:] != ids[:, :-1]
    dy = ids[1:, :] != ids[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    return edge.astype(np.float32)


def one_hot(indices: np.ndarray, label_nc: int) -> np.ndarray:
    """(Y, X) class indices in [0, label_nc) → (label_nc, Y, X) float32 one-hot."""
    classes = np.arange(label_nc, dtype=indices.dtype)[:, None, None]
    return (indices[None] == classes).astype(np.float32)


def label_count(requested: int, classes: Sequence[Mapping[str, Any]] | None) -> int:
    """``label_nc``: the user's value, or (-1) the size of the class table, or 0 (plain image
    input) when the data has no class table."""
    if requested > MAX_CLASSES:
        raise ValueError(f"--label-nc {requested} exceeds {MAX_CLASSES}")
    if requested >= 0:
        return requested
    return len(classes) if classes else 0


def gray_table(classes: Sequence[Mapping[str, Any]], scale: int = 1) -> dict[int, int]:
    """``{gray value × scale: index}`` of a class table."""
    return {int(c["gray"]) * scale: int(c["index"]) for c in classes}


def decode_indices(
    sketch: np.ndarray,
    *,
    label_nc: int,
    mode: str,
    classes: Sequence[Mapping[str, Any]] | None,
    scale: int,
    path: Path | str,
) -> np.ndarray:
    """A stored sketch → int64 class indices in [0, label_nc).

    ``mode`` ``index``: the values are the indices (``scale`` 257: an 8-bit index map stored
    in a 16-bit side-by-side file by ``celltool split``); ``gray``: the values are the class
    table's gray values (× ``scale``). Anything outside the table is an error naming the file.
    """
    if sketch.ndim == 3:
        sketch = sketch[..., 0]
    if mode == "gray":
        if not classes:
            raise CelltoolError("a gray sketch needs the class table (facts.classes)", path)
        table = gray_table(classes, scale)
        values = np.unique(sketch)
        unknown = [int(v) for v in values if int(v) not in table]
        if unknown:
            raise CelltoolError(
                f"gray values {unknown[:5]} are not in the class table "
                f"({sorted(table)}); is this the sketch the table belongs to?",
                path,
            )
        lut = np.zeros(int(values.max()) + 1, dtype=np.int64)
        for gray, index in table.items():
            if gray < lut.size:
                lut[gray] = index
        out = lut[sketch]
    else:
        out = sketch.astype(np.int64)
        if scale != 1:
            if np.any(out % scale):
                raise CelltoolError(f"index map values are not multiples of {scale}", path)
            out //= scale
    if out.size and int(out.max()) >= label_nc:
        raise CelltoolError(
            f"class index {int(out.max())} is outside the {label_nc} classes (--label-nc)", path
        )
    return out


def encode(
    sketch: np.ndarray,
    edges: np.ndarray | None,
    label_nc: int,
) -> np.ndarray:
    """The generator input (C, Y, X) float32: one-hot (or, for ``label_nc`` 0, ``sketch``
    itself, already (C, Y, X) in [-1, 1]) followed by the edge map when there is one."""
    planes = one_hot(sketch, label_nc) if label_nc > 0 else sketch.astype(np.float32)
    if edges is None:
        return np.ascontiguousarray(planes)
    return np.concatenate([planes, edges[None].astype(np.float32)], axis=0)


def class_view(
    indices: np.ndarray, label_nc: int, classes: Sequence[Mapping[str, Any]] | None
) -> np.ndarray:
    """(1, Y, X) in [-1, 1] for the sample grids: each class at its gray value (or evenly
    spaced grays without a table)."""
    grays = np.linspace(0, 255, max(label_nc, 2))[:label_nc]
    if classes:
        for c in classes:
            if 0 <= int(c["index"]) < label_nc:
                grays[int(c["index"])] = float(c["gray"])
    return (grays[indices] / 127.5 - 1).astype(np.float32)[None]
