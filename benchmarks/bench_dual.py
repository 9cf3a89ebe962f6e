"""Issue 6 bars: the temporal dual model on the shared time-lapse against two baselines.

Train on frames 000–159, start from frame 160 (its image and real mask), generate 39 steps and
compare the 40-frame sequences (frame 160 + steps 1..39) with the real frames 160–199, for:

- ``dual``     the temporal model (celltool train dual) with its fitted stochastic motion model
               (generate's default, ``--motion fitted``), --samples sequences, metrics averaged,
- ``dual-net`` the same run with its motion network (``--motion net``),
- ``seed``     Sequence-Generation's model (celltool train dual --variant
               sequence-generation: sketch → image → sketch),
- ``repeat``   frame 160 repeated (no motion, no growth).

Metrics are the evaluate branch's sequence metrics (celltool_metrics.sequence) on the images:
Farnebäck flow magnitude/cosine, Otsu object count/coverage, per-step SSIM (and LPIPS when
backbone weights are available); mask coverage and object count are also measured on the
generated sketches (the sketch each frame was rendered from) against the real masks with the
same ``objects`` function. Frames are
downscaled to --size px (INTER_AREA; masks: area then > 127) into --work (never into the repo).

    .venv/bin/python benchmarks/bench_dual.py --size 128 --epochs 4 --seed-epochs 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from machine import finish, machine

REPO = Path(__file__).resolve().parents[1]
# shared/ lies beside the repository (CI) or at /work/shared (the engineers' worktrees)
TIMELAPSE = next(
    (p for p in (REPO.parent / "shared", Path("/work/shared")) if (p / "data").is_dir()),
    REPO.parent / "shared",
) / "data" / "timelapse"  # fmt: skip
RESULTS = REPO / "benchmarks" / "results"
COLOURS = {
    "real": (0, 0, 0),
    "dual": (200, 60, 0),
    "dual-net": (200, 0, 200),
    "seed": (0, 140, 0),
    "repeat": (0, 0, 220),
}


def prepare(work: Path, size: int) -> tuple[Path, Path]:
    import cv2

    from celltool.imageio import read_image, write_image

    images, masks = work / "frames" / "images", work / "frames" / "masks"
    for folder in (images, masks):
        folder.mkdir(parents=True, exist_ok=True)
    for i in range(200):
        name = f"{i:03d}.png"
        image = read_image(TIMELAPSE / "images" / name)
        mask = read_image(TIMELAPSE / "masks" / name)
        small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        m = cv2.resize((mask > 0).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
        write_image(images / name, small)
        write_image(masks / name, ((m > 0.5) * 255).astype(np.uint8))
    return images, masks


def train_variant(pairs: Path, run: Path, variant: str, args: argparse.Namespace) -> float:
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "dual")
    options = {
        "variant": variant,
        "netG": f"unet_{args.size}",
        "ngf": args.ngf,
        "ndf": args.ngf,
        "crop_size": args.size,
        "preprocess": "none",
        "rollout": args.rollout,
        "epochs": args.epochs if variant == "dual" else args.seed_epochs,
        "lr": args.lr,
        "n_epochs_decay": 1,
        "threads": args.threads,
        "seed": 0,
        "save_every": 0,
        "cache": True,
    }
    t0 = time.perf_counter()
    train(component, [pairs], run, resolve_config(component, options), overwrite=True)
    return time.perf_counter() - t0


def generate(
    run: Path, start: Path, start_mask: Path, steps: int, motion: str = "auto", seed: int = 0
):
    from celltool.imageio import read_image
    from celltool.training.generate import load_trainer

    model, _ = load_trainer(run, device="cpu")
    opts = {"tile": 0, "overlap": 0, "blend": "cosine", "batch_size": 4, "motion": motion}
    opts["seed"] = seed
    frames = model.rollout(read_image(start), steps, opts, read_image(start_mask))
    return [im for im, _ in frames], [sk for _, sk in frames]


def evaluate(real, real_masks, gen, gen_masks, lpips_weights: str | None) -> dict:
    from celltool_metrics.sequence import motion, objects, per_step

    out = {
        "motion": motion(real, gen, data_range=255),
        "objects_image_otsu": objects(real, gen, data_range=255),
        "objects_masks": objects(real_masks, gen_masks, data_range=255),
        "per_step": per_step(real, gen, data_range=255),
    }
    if lpips_weights:
        from celltool_metrics.lpips_metric import lpips_distance

        curve = [
            lpips_distance(r, g, data_range=255, lpips_weights=lpips_weights)
            for r, g in zip(real, gen, strict=True)
        ]
        out["lpips"] = {"step_lpips": float(np.mean(curve)), "curves": {"step_lpips": curve}}
    return out


def mean_of(results: list[dict]) -> dict:
    """Element-wise mean of several samples' metric dicts (numbers and lists of numbers)."""

    def avg(values: list):
        first = values[0]
        if isinstance(first, dict):
            return {k: avg([v[k] for v in values]) for k in first}
        if isinstance(first, list):
            return [avg(list(items)) for items in zip(*values, strict=True)]
        if isinstance(first, bool | str) or first is None:
            return first
        return float(np.mean(values))

    return avg(results)


def bars(m: dict, tolerance: float = 0.2) -> dict:
    """The issue's bars for one method (relative errors and pass/fail at ±20 %)."""

    def rel(gen: float, real: float) -> float:
        return abs(gen - real) / abs(real) if real else float("inf")

    mo, om = m["motion"], m["objects_masks"]["curves"]
    oi = m["objects_image_otsu"]["curves"]
    checks = {
        "flow_magnitude": rel(mo["flow_magnitude_generated"], mo["flow_magnitude_real"]),
        "mask_coverage_last": rel(om["coverage_generated"][-1], om["coverage_real"][-1]),
        "mask_count_last": rel(om["object_count_generated"][-1], om["object_count_real"][-1]),
        "image_coverage_last": rel(oi["coverage_generated"][-1], oi["coverage_real"][-1]),
        "image_count_last": rel(oi["object_count_generated"][-1], oi["object_count_real"][-1]),
    }
    return {k: {"relative_error": v, "met": bool(v <= tolerance)} for k, v in checks.items()}


def plot(curves: dict[str, dict[str, list[float]]], path: Path) -> None:
    """Panels of per-step curves, one line per method (drawn with OpenCV)."""
    import cv2

    from celltool.imageio import write_image

    panels = list(curves)
    pw, ph, cols = 420, 260, 3
    rows = (len(panels) + cols - 1) // cols
    canvas = np.full((rows * ph + 30, cols * pw, 3), 255, np.uint8)
    for p, title in enumerate(panels):
        ox, oy = (p % cols) * pw, (p // cols) * ph
        left, right, top, bottom = ox + 50, ox + pw - 15, oy + 28, oy + ph - 30
        cv2.rectangle(canvas, (left, top), (right, bottom), (0, 0, 0), 1)
        series = curves[title]
        values = np.array([v for s in series.values() for v in s], dtype=float)
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        hi = hi if hi > lo else lo + 1
        for name, ys in series.items():
            xs = np.linspace(left, right, len(ys))
            yy = bottom - (np.asarray(ys, float) - lo) / (hi - lo) * (bottom - top)
            pts = np.stack([xs, yy], 1).astype(np.int32)
            cv2.polylines(canvas, [pts], False, COLOURS[name], 2, cv2.LINE_AA)
        cv2.putText(canvas, title, (ox + 50, oy + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
        for val, y in ((hi, top + 10), (lo, bottom)):
            cv2.putText(canvas, f"{val:.3g}", (ox + 2, y), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0)
        cv2.putText(canvas, "step", (right - 30, bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0)
    for i, (name, colour) in enumerate(COLOURS.items()):
        cv2.putText(canvas, name, (50 + 110 * i, rows * ph + 20),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 2)  # fmt: skip
    write_image(path, canvas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="frame size in px (power of 2)")
    parser.add_argument("--epochs", type=int, default=4, help="dual epochs")
    parser.add_argument(
        "--seed-epochs", type=int, default=4, help="epochs of the sequence-generation variant"
    )
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--rollout", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=39)
    parser.add_argument("--samples", type=int, default=5, help="sequences of the fitted model")
    parser.add_argument("--work", type=Path, default=Path("/tmp/celltool-bench-dual"))
    parser.add_argument(
        "--lpips-weights",
        default=os.environ.get("CELLTOOL_LPIPS_WEIGHTS", ""),
        help="LPIPS backbone weights (see celltool lpips-weights); LPIPS is skipped without",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "dual.json")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the runs in --work (generation and metrics only)",
    )
    args = parser.parse_args()
    if not (TIMELAPSE / "images").is_dir():
        sys.exit(f"bench_dual: the time-lapse is not at {TIMELAPSE}")

    from celltool.imageio import read_image
    from celltool.steps.splitting import split as split_folder

    where = machine()
    t_start = time.perf_counter()
    images, masks = prepare(args.work, args.size)
    pairs = split_folder(
        images, args.work / "pairs", masks=masks, method="frames", by="time", pairs="temporal",
        ratios=(0.8, 0.0, 0.2), overwrite=True,
    )  # fmt: skip
    first = 160
    real = [read_image(images / f"{first + k:03d}.png") for k in range(args.steps + 1)]
    real_masks = [read_image(masks / f"{first + k:03d}.png") for k in range(args.steps + 1)]
    repeat = ([real[0]] * (args.steps + 1), [real_masks[0]] * (args.steps + 1))
    timing = {}
    # the fitted motion model is stochastic: --samples sequences (seeds 0..n-1), metrics averaged
    methods = {"dual": ("dual", "fitted"), "dual-net": ("dual", "net"), "seed": ("seed", "auto")}
    samples = {"repeat": [repeat]}
    for name, (variant, motion) in methods.items():
        run = args.work / f"run-{variant}"
        if f"train_{variant}_s" not in timing and not args.reuse:
            timing[f"train_{variant}_s"] = train_variant(pairs, run, variant, args)
            print(f"{variant}: trained {timing[f'train_{variant}_s']:.0f} s", file=sys.stderr)
        t0 = time.perf_counter()
        samples[name] = []
        for seed in range(args.samples if motion == "fitted" else 1):
            gen, gen_masks = generate(
                run, images / f"{first:03d}.png", masks / f"{first:03d}.png", args.steps,
                motion, seed,
            )  # fmt: skip
            samples[name].append(([real[0], *gen], [real_masks[0], *gen_masks]))
        timing[f"generate_{name}_s"] = time.perf_counter() - t0
    results = {}
    for name, runs in samples.items():
        each = [evaluate(real, real_masks, g, gm, args.lpips_weights or None) for g, gm in runs]
        results[name] = mean_of(each)
        results[name]["bars"] = bars(results[name])
        results[name]["samples"] = len(each)
        if len(each) > 1:
            results[name]["per_sample_bars"] = [bars(e) for e in each]
    curves = {
        "SSIM vs real frame": {k: v["per_step"]["curves"]["step_ssim"] for k, v in results.items()},
        "flow magnitude (px/frame)": {
            "real": results["dual"]["motion"]["curves"]["flow_magnitude_real"],
            **{k: v["motion"]["curves"]["flow_magnitude_generated"] for k, v in results.items()},
        },
        "mask coverage": {
            "real": results["dual"]["objects_masks"]["curves"]["coverage_real"],
            **{k: v["objects_masks"]["curves"]["coverage_generated"] for k, v in results.items()},
        },
        "mask object count": {
            "real": results["dual"]["objects_masks"]["curves"]["object_count_real"],
            **{
                k: v["objects_masks"]["curves"]["object_count_generated"]
                for k, v in results.items()
            },
        },
        "image (Otsu) coverage": {
            "real": results["dual"]["objects_image_otsu"]["curves"]["coverage_real"],
            **{
                k: v["objects_image_otsu"]["curves"]["coverage_generated"]
                for k, v in results.items()
            },
        },
    }
    if args.lpips_weights:
        curves["LPIPS vs real frame"] = {
            k: v["lpips"]["curves"]["step_lpips"] for k, v in results.items()
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    png = args.out.with_name(args.out.stem + "_curves.png")
    plot(curves, png)
    record = {
        "machine": finish(where),
        "command": "benchmarks/bench_dual.py " + " ".join(sys.argv[1:]),
        "setup": {k: str(v) for k, v in vars(args).items()},
        "timing_s": {**timing, "total": time.perf_counter() - t_start},
        "note": "timings on the shared 2-core CPU machine while other engineers ran jobs",
        "results": results,
        "curves_png": png.name,
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(table(results))
    print(args.out)


def table(results: dict) -> str:
    lines = [
        "| method | flow mag (real) | flow cos | mask cov last (real) | mask count last (real) "
        "| mean SSIM | mean LPIPS | bars met (flow, cov, count) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in results.items():
        mo, om = m["motion"], m["objects_masks"]["curves"]
        b = m["bars"]
        lp = f"{m['lpips']['step_lpips']:.3f}" if "lpips" in m else "n/a"
        met = ", ".join(
            "yes" if b[k]["met"] else "no"
            for k in ("flow_magnitude", "mask_coverage_last", "mask_count_last")
        )
        lines.append(
            f"| {name} | {mo['flow_magnitude_generated']:.3f} ({mo['flow_magnitude_real']:.3f}) "
            f"| {mo['flow_cosine']:.3f} "
            f"| {om['coverage_generated'][-1]:.4f} ({om['coverage_real'][-1]:.4f}) "
            f"| {om['object_count_generated'][-1]:.1f} ({om['object_count_real'][-1]:.0f}) "
            f"| {m['per_step']['step_ssim']:.3f} | {lp} | {met} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
