"""A ``pairs`` folder from arrays made in Python (benchmarks, tests), not cut from a sketch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from celltool.imageio import write_image
from celltool.manifest import make_manifest
from celltool.outputs import OutputFolder


def pairs_folder(
    out: str | Path,
    splits: dict[str, list[tuple[str, np.ndarray, np.ndarray]]],
    *,
    bit_depth: int = 8,
    overwrite: bool = False,
) -> Path:
    """A side-by-side ``pairs`` folder from arrays: ``split -> [(stem, image, sketch), ...]``,
    each file ``[image | sketch]`` (left = real image, right = sketch). For data made in
    Python (benchmarks, tests) rather than cut from a sketch folder."""
    out = Path(out)
    folder = OutputFolder(out, overwrite=overwrite)
    with folder as work:
        for name, items in splits.items():
            (work / name).mkdir()
            for stem, image, sketch in items:
                write_image(work / name / f"{stem}.png", np.concatenate([image, sketch], axis=1))
        folder.manifest = make_manifest(
            "pairs",
            step="split",
            params={"method": "arrays"},
            facts={"layout": "side-by-side", "bit_depth": bit_depth,
                   "counts": {k: len(v) for k, v in splits.items()}},
        )  # fmt: skip
    return out
