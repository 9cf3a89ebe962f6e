"""Command-line options of benchmarks/quality_stylegan.py (its docstring says what they do)."""

from __future__ import annotations

import argparse
from pathlib import Path


def parse_args(description: str, repo: Path) -> argparse.Namespace:
    """The benchmark's options, checked: combinations that make no sense and out-of-range
    values exit with a one-line usage error."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--budget-min", type=float, default=60.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/celltool-stylegan-quality"))
    ap.add_argument("--out", type=Path, default=repo / "benchmarks/results/stylegan_quality.json")
    ap.add_argument("--n", type=int, default=400, help="generated masks and reference crops")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", nargs="*", default=[], help="override CPU options: key=value")
    ap.add_argument("--reuse", action="store_true", help="skip training: use --work/run")
    ap.add_argument("--gen", nargs="*", default=[],
                    help="generate options key=value (e.g. min_object_size=24)")  # fmt: skip
    ap.add_argument("--train-frames", default="0-159", help="first-last training frame")
    ap.add_argument("--kimg", type=float, default=0, help="stop at this many kimg instead")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--select-every", type=int, default=0,
                    help="keep a snapshot every K kimg and pick the one closest to the TRAINING "
                         "crops (0: use the latest checkpoint)")  # fmt: skip
    ap.add_argument(
        "--select-min",
        type=float,
        default=4.0,
        help="minutes of the budget kept for the selection (training stops earlier)",
    )
    ap.add_argument(
        "--references",
        type=int,
        default=0,
        metavar="R",
        help="no model: training crops and ellipses vs held-back, R crop draws",
    )
    ap.add_argument("--select-n", type=int, default=200, help="masks per snapshot in selection")
    ap.add_argument(
        "--steer",
        action="store_true",
        help="steer generation to the density forecast for frames 160-199",
    )
    ap.add_argument("--steer-nn", action="store_true",
                    help="with --steer: also steer the nearest-neighbour distance to the "
                         "spacing the forecast density implies")  # fmt: skip
    ap.add_argument("--pool", type=int, default=4, help="candidates per kept sample (--steer)")
    ap.add_argument("--select-split", action="store_true",
                    help="choose --marker-depth/--marker-smooth on the TRAINING masks "
                         "(generate --split-reference)")  # fmt: skip
    ap.add_argument("--select-joint", action="store_true",
                    help="with --select-every and --select-split: score each snapshot with its "
                         "own best split (snapshot and split chosen together)")  # fmt: skip
    args = ap.parse_args()
    if args.steer_nn and not args.steer:
        ap.error("--steer-nn needs --steer")
    if args.select_joint and not (args.select_every and args.select_split):
        ap.error("--select-joint needs --select-every and --select-split")
    if args.select_split and {"marker_depth", "marker_smooth"} & {
        g.partition("=")[0].replace("-", "_") for g in args.gen
    }:
        ap.error("--select-split chooses marker_depth/marker_smooth: do not also --gen them")
    limits = {"select_every": (0, 1000), "select_min": (0, args.budget_min),
              "select_n": (1, 5000), "references": (0, 200), "n": (1, 10000),
              "pool": (2, 32)}  # fmt: skip
    for key, (low, high) in limits.items():
        if not low <= getattr(args, key) <= high:
            ap.error(f"--{key.replace('_', '-')} {getattr(args, key)}: expected {low}..{high}")
    return args
