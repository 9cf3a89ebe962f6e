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
    from celltool_stylegan.generate import seed_channels

    from celltool.training.generate import load_trainer

    trainer, _ = load_trainer(run, device="cpu", checkpoint=checkpoint)
    return seed_channels(trainer, list(range(1000, 1000 + n)), 1.0, "const", 16)


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
    try:
        depth, smooth = (float(v) for v in args.split.split("/"))
        first, last = (int(v) for v in args.train_frames.split("-"))
    except ValueError:
        ap.error("--split expects DEPTH/SMOOTH (e.g. 1/0.5), --train-frames FIRST-LAST")
    if not (0 <= depth <= 64 and 0 <= smooth <= 16 and 0 <= first <= last < 160):
        ap.error("--split depth 0..64, smoothing 0..16; --train-frames within 0-159")
    folder = args.run / "checkpoints"
    if not (folder / args.checkpoint).is_file():
        ap.error(f"{folder / args.checkpoint}: no such checkpoint")
    from celltool_stylegan.instances import split_instances

    from celltool.mask_statistics import collect, shape_statistics
    from celltool.training.runs import read_run

    config = read_run(args.run)["config"]
    res, scale = int(config["resolution"]), float(config["scale"])
    where = machine("cpu", training_threads=1)
    seen = crops(range(first, last + 1), args.n, res, scale, seed=2)
    real_median = float(np.median(collect(seen)["area"]))

    def split(chs: list[np.ndarray], min_size: int = 4) -> list[np.ndarray]:
        return [split_instances(c[0], c[1] if len(c) > 1 else None, marker_depth=depth,
                                smooth=smooth, min_size=min_size) for c in chs]  # fmt: skip

    trend = {}
    for path in sorted(folder.glob("epoch_*.pt")) + [folder / "latest.pt"]:
        chs = channels(args.run, path, args.n)
        found = small_objects(split(chs), real_median, [c[0] for c in chs])
        trend[path.name] = {"kimg": checkpoint_info(args.run, path)["kimg"], **found}
        print(path.name, trend[path.name], file=sys.stderr)
    held = crops(range(160, 200), args.n, res, scale, seed=1)
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
