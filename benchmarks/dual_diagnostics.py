"""Two diagnostics behind docs/dual.md's reading of bench_dual.py (run that first; same --work):

- the real frames' Farnebäck flow magnitude far from cells (> 8 px from any mask pixel) and near
  them: how much of the "real motion" is noise and flicker;
- the dual run's sketch model on the real frames 160 and 199: mask coverage and object count
  against the real masks (how far off the sketches are before any roll-out).

    .venv/bin/python benchmarks/dual_diagnostics.py --work /tmp/celltool-bench-dual
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/celltool-bench-dual"))
    parser.add_argument("--out", type=Path, default=RESULTS / "dual_diagnostics.json")
    args = parser.parse_args()

    import torch
    from celltool_metrics.sequence import flows, objects
    from scipy import ndimage

    from celltool.imageio import read_image
    from celltool.training.generate import load_trainer

    torch.set_num_threads(1)
    frames = args.work / "frames"
    images = [read_image(frames / "images" / f"{k}.png") for k in range(160, 200)]
    masks = [read_image(frames / "masks" / f"{k}.png") > 0 for k in range(160, 200)]
    far_mag, near_mag, far_frac = [], [], []
    for flow, mask in zip(flows(images, 255), masks[:-1], strict=True):
        mag = np.linalg.norm(flow, axis=2)
        far = ~ndimage.binary_dilation(mask, iterations=8)
        far_mag.append(float(mag[far].mean()))
        near_mag.append(float(mag[~far].mean()))
        far_frac.append(float(far.mean()))
    model, _ = load_trainer(args.work / "run-dual", device="cpu")
    opts = {"tile": 0, "overlap": 0, "blend": "cosine", "batch_size": 4}
    ends = [images[0], images[-1]]
    sketches = [model.sketch_of(x, opts) for x in ends]
    real = [(m * 255).astype(np.uint8) for m in (masks[0], masks[-1])]
    curves = objects(real, sketches, data_range=255)["curves"]
    record = {
        "flow_magnitude_far_from_cells": float(np.mean(far_mag)),
        "flow_magnitude_near_cells": float(np.mean(near_mag)),
        "far_fraction": float(np.mean(far_frac)),
        "sketch_model_on_real_160_199": curves,
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
