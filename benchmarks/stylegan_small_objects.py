"""Where a StyleGAN run's small objects come from (docs/stylegan.md, "Small objects").

For every snapshot of RUN (``--save-every``) and its latest checkpoint: N samples (seeds
1000+, as the quality benchmark's) split with ``--split`` depth/smoothing, and the fraction
of their interior objects under half the median interior area of crops of the TRAINING
frames (``merge_split``'s ``small_gen``), their median area, how many of those small objects
touch another object (a watershed fragment) rather than stand alone (drawn small), and how
confident their foreground is (median peak of channel 0, in [-1, 1], against the others').
Then, for ``--checkpoint``, what dropping objects under each of ``--min-sizes`` px
(``--min-object-size``) does against crops of the held-back frames 160-199: the seven
normalised W1 distances and the relative count and coverage differences.

    .venv/bin/python benchmarks/stylegan_small_objects.py /tmp/sg7/run --split 1/0.5 \\
        --checkpoint epoch_0044.pt --out benchmarks/results/stylegan_small_objects_seed7.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from machine import finish, machine
from quality_stylegan import STATS, checkpoint_info, crops


def channels(run: Path, checkpoint: Path, n: int) -> list[np.ndarray]:
    """The generator's C×H×W outputs for seeds 1000 … 1000 + n − 1 (ψ = 1, const noise)."""
    from celltool_stylegan.generate import latent, map_latents, synthesize

    from celltool.training.generate import load_trainer

    trainer, _ = load_trainer(run, device="cpu", checkpoint=checkpoint)
    z = np.stack([latent(1000 + i, trainer.G_ema.z_dim) for i in range(n)])
    out = []
    for s in range(0, n, 16):
        out += list(synthesize(trainer, map_latents(trainer, z[s : s + 16], 1.0), "const", 16))
    return out


def small_objects(
    maps: list[np.ndarray], real_median: float, foregrounds: list[np.ndarray] | None = None
) -> dict[str, float]:
    """Fraction of interior objects under real_median / 2, their median area, the share of
    those small ones that touch another object and, given the foreground channels, the median
    peak foreground value of the small objects and of the others."""
    from celltool_stylegan.instances import touching_boundaries
    from scipy import ndimage

    areas, touching, peaks = [], [], []
    for k, labels in enumerate(maps):
        lab = labels.astype(np.int64)
        rim = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
        ids = np.setdiff1d(np.unique(lab[lab > 0]), rim)
        areas.append(np.bincount(lab.ravel())[ids])
        touching.append(np.isin(ids, np.unique(lab[touching_boundaries(lab)])))
        if foregrounds is not None and ids.size:
            peaks.append(np.asarray(ndimage.maximum(foregrounds[k], lab, ids)))
    a, t = np.concatenate(areas), np.concatenate(touching)
    small = a < real_median / 2
    out = {"interior": int(a.size), "small": float(small.mean()) if a.size else float("nan"),
           "median_area": float(np.median(a)) if a.size else float("nan"),
           "small_touching": float(t[small].mean()) if small.any() else float("nan")}  # fmt: skip
    if peaks:
        p = np.concatenate(peaks)
        out["small_peak"] = float(np.median(p[small])) if small.any() else float("nan")
        out["other_peak"] = float(np.median(p[~small])) if (~small).any() else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--split", default="2/1", help="marker depth/smoothing in px")
    ap.add_argument("--checkpoint", default="latest.pt", help="for the --min-sizes trade-off")
    ap.add_argument("--min-sizes", type=int, nargs="*", default=[4, 15, 30, 45])
    ap.add_argument("--train-frames", default="150-159")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if not 1 <= args.n <= 5000 or not all(1 <= m <= 4096 for m in args.min_sizes):
        ap.error("--n expects 1..5000, --min-sizes 1..4096")
    from celltool_stylegan.instances import split_instances

    from celltool.mask_statistics import collect, shape_statistics

    where = machine("cpu", training_threads=1)
    depth, smooth = (float(v) for v in args.split.split("/"))
    first, last = (int(v) for v in args.train_frames.split("-"))
    seen = crops(range(first, last + 1), args.n, 64, 1.0, seed=2)
    real_median = float(np.median(collect(seen)["area"]))

    def split(chs: list[np.ndarray], min_size: int = 4) -> list[np.ndarray]:
        return [split_instances(c[0], c[1], marker_depth=depth, smooth=smooth,
                                min_size=min_size) for c in chs]  # fmt: skip

    folder = args.run / "checkpoints"
    trend = {}
    for path in sorted(folder.glob("epoch_*.pt")) + [folder / "latest.pt"]:
        chs = channels(args.run, path, args.n)
        found = small_objects(split(chs), real_median, [c[0] for c in chs])
        trend[path.name] = {"kimg": checkpoint_info(args.run, path)["kimg"], **found}
        print(path.name, trend[path.name], file=sys.stderr)
    held = crops(range(160, 200), args.n, 64, 1.0, seed=1)
    chs = channels(args.run, folder / args.checkpoint, args.n)
    trade = {}
    for m in args.min_sizes:
        st = shape_statistics(held, split(chs, m))
        trade[str(m)] = {**{f"{k}_w": st[f"{k}_w"] for k in STATS},
                         "count_rel_diff": st["count_rel_diff"],
                         "coverage_rel_diff": st["coverage_rel_diff"]}  # fmt: skip
        print(f"min size {m}:", {k: round(v, 3) for k, v in trade[str(m)].items()}, file=sys.stderr)
    out = {"run": str(args.run), "split": args.split, "n": args.n, "real_median_area": real_median,
           "train_frames": args.train_frames, "trend": trend, "checkpoint": args.checkpoint,
           "min_size_vs_heldback": trade, "machine": finish(where)}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
