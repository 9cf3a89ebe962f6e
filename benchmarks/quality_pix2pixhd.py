"""pix2pixHD against pix2pix on the shared time-lapse at the same wall-clock training budget:
mask → image SSIM, LPIPS and the segmentation Dice of the generated images; plus one
multi-class pix2pixHD run on 7-level sketches (one-hot input + instance edges).

Protocol (docs/training.md's pix2pix quality table): train on frames 000–159 (random 256² crops,
flips), generate the full 512² frames 160–199 (blended 256² tiles), compare with the real frames.
SSIM and LPIPS as quality_pix2pix.py (whose functions this script imports). Dice: celltool's
watershed segmenter (default options) run on each generated frame, its foreground against the
real mask > 127 — the segmentation score of the pix2pixHD paper, with a classical segmenter; the
same segmenter on the real frames gives the reference ("real" row).

Budget: every model trains for ``--budget`` seconds. A probe of ``--probe-steps`` steps measures
each model's step time (from its second step on); the model then trains for budget / step time
steps at a constant learning rate (the decay of a full schedule would favour whichever model is
further along). Reported: steps, the real training time, SSIM, LPIPS, Dice.

Runs: ``pix2pix`` (unet_256, ``--p2p-ngf``/``--p2p-ndf``), ``pix2pixhd`` (global generator,
``--ngf``/``--ndf``, feature matching + VGG16 perceptual loss), ``pix2pixhd_novgg`` (the same
without the perceptual loss: many more steps per second on a CPU), all on mask | image pairs
(pix2pixHD reads the mask as a plain image: CellGen's --label_nc 0 --no_instance), and
``pix2pixhd_7level``: index maps of ``celltool segment | celltool sketch --levels 7`` (8 classes,
one-hot) with the segmentation's cell ids as instance maps (edge map), same budget and widths.

    .venv/bin/python benchmarks/quality_pix2pixhd.py --budget 600              # the real run
    .venv/bin/python benchmarks/quality_pix2pixhd.py --budget 40 --stride 10   # a check (minutes)

Writes benchmarks/results/pix2pixhd_quality.json (runs and data under --work).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from machine import finish, machine  # noqa: E402
from quality_pix2pix import dice, lpips_available, ssim  # noqa: E402

CELLTOOL = str(Path(sys.executable).with_name("celltool"))


def timelapse() -> Path:
    """``shared/data/timelapse`` beside the clone or a folder above it (worktrees)."""
    for parent in REPO.parents:
        if (parent / "shared" / "data" / "timelapse").is_dir():
            return parent / "shared" / "data" / "timelapse"
    return REPO.parent / "shared" / "data" / "timelapse"


def frames(stride: int) -> tuple[list[int], list[int]]:
    return list(range(0, 160, stride)), list(range(160, 200, stride))


def mask(data: Path, i: int) -> np.ndarray:
    from celltool.imageio import read_image

    return ((read_image(data / "masks" / f"{i:03d}.png") > 127) * 255).astype(np.uint8)


def mask_pairs(data: Path, out: Path, train: list[int], test: list[int]) -> Path:
    """Side-by-side [image | mask] pairs (as quality_pix2pix.build_pairs, any frame subset)."""
    from celltool.imageio import read_image
    from celltool.steps.pairs import pairs_folder as write_pairs

    if out.exists():
        return out
    item = lambda i: (f"{i:03d}", read_image(data / "images" / f"{i:03d}.png"), mask(data, i))  # noqa: E731
    return write_pairs(out, {"train": [item(i) for i in train], "test": [item(i) for i in test]})


def sketch_pairs(data: Path, work: Path, train: list[int], test: list[int]) -> Path:
    """Folders-layout pairs: image/, sketch/ (7-level class indices), instance/ (cell ids) from
    ``celltool segment | celltool sketch --levels 7`` of the same frames."""
    from celltool.imageio import read_image, write_image
    from celltool.manifest import make_manifest, read_manifest, write_manifest

    out = work / "pairs-7level"
    if out.exists():
        return out
    src = work / "frames"
    src.mkdir(parents=True, exist_ok=True)
    for i in train + test:
        link = src / f"{i:03d}.png"
        if not link.exists():
            link.symlink_to(data / "images" / f"{i:03d}.png")
    seg, sk = work / "frames-segment", work / "frames-sketch"
    for cmd in ([CELLTOOL, "segment", src, "-o", seg, "--workers", "2", "--overwrite"],
                [CELLTOOL, "sketch", seg, "--levels", "7", "-o", sk, "--overwrite"]):  # fmt: skip
        subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL)
    classes = read_manifest(sk)["facts"]["classes"]
    for split, chosen in (("train", train), ("test", test)):
        for i in chosen:
            name = f"{i:03d}.png"
            cells = read_image(seg / "cells" / name).astype(np.uint16)
            parts = {"image": read_image(src / name), "sketch": read_image(sk / "index" / name)}
            for part, array in {**parts, "instance": cells}.items():
                (out / split / part).mkdir(parents=True, exist_ok=True)
                write_image(out / split / part / name, array)
    write_manifest(out, make_manifest("pairs", step="split", params={"sketch": "index"},
                                      facts={"layout": "folders", "classes": classes,
                                             "bit_depth": 8}))  # fmt: skip
    return out


def options(model: str, args) -> dict:
    common = {"crop_size": 256, "preprocess": "crop", "precision": args.precision, "seed": 0,
              "save_every": 0, "samples": 1, "n_epochs_decay": 0}  # fmt: skip
    if model == "pix2pix":
        return {**common, "netG": "unet_256", "ngf": args.p2p_ngf, "ndf": args.p2p_ndf}
    extra = {"no_vgg_loss": True} if model.endswith("novgg") else {}
    return {**common, "ngf": args.ngf, "ndf": args.ndf, **extra}


def train_for(model: str, pairs: Path, work: Path, args, n_train: int) -> dict:
    """Probe the step time, then train for the budget's number of steps."""
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    name = "pix2pix" if model == "pix2pix" else "pix2pixhd"
    component = plugins.get("trainers", name)
    opts = options(model, args)
    probe = work / f"probe-{model}"
    k = args.probe_steps + (args.probe_steps % n_train == 0)  # stop mid-epoch, at a checkpoint
    config = resolve_config(
        component, {**opts, "epochs": 1 + k // n_train, "samples": 0, "checkpoint_steps": k}
    )
    train(component, [pairs], probe, config, overwrite=True, stop_after_steps=k)
    times = [json.loads(x)["time"] for x in (probe / "logs" / "losses.jsonl").open()]
    step = (times[-1] - times[0]) / max(1, len(times) - 1)
    steps = max(1, int(args.budget / step))
    epochs = math.ceil(steps / n_train)
    stop = None if steps % n_train == 0 else steps
    config = resolve_config(component, {**opts, "epochs": epochs, "checkpoint_steps": steps})
    run = work / f"run-{model}"
    t0 = time.time()
    train(component, [pairs], run, config, overwrite=True, stop_after_steps=stop)
    return {"run": str(run), "probe_step_seconds": round(step, 3), "steps": steps,
            "train_seconds": round(time.time() - t0, 1), "options": opts}  # fmt: skip


def generate(run: Path, pairs: Path, out: Path) -> Path:
    from celltool import plugins
    from celltool.steps.generation import resolve_options
    from celltool.training.generate import generate_folder
    from celltool.training.runs import read_run

    opts = resolve_options(plugins.get("trainers", read_run(run)["model"]), {})
    return generate_folder(run, [pairs], out, options=opts, device="cpu", overwrite=True)


def scores(data: Path, images: Path, test: list[int], use_lpips: bool) -> dict:
    """SSIM, LPIPS (alex) and watershed-segmentation Dice of frames ``test`` in ``images``."""
    from celltool_watershed.algo import make_segmenter

    from celltool.imageio import read_image

    segment = make_segmenter()
    s, lp, d = [], [], []
    for i in test:
        real = read_image(data / "images" / f"{i:03d}.png")
        fake = read_image(images / f"{i:03d}.png")
        s.append(ssim(fake, real))
        if use_lpips:
            from celltool_metrics.lpips_metric import lpips_distance

            lp.append(lpips_distance(real, fake, data_range=255.0))
        found = ((segment(fake)["cells"] > 0) * 255).astype(np.uint8)
        d.append(dice(found, mask(data, i)))
    return {"ssim": float(np.mean(s)), "lpips": float(np.mean(lp)) if lp else None,
            "dice_watershed": float(np.mean(d))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=timelapse())
    parser.add_argument("--work", type=Path, default=Path("/tmp/celltool-pix2pixhd-quality"))
    parser.add_argument("--budget", type=float, default=600, help="Training seconds per model.")
    parser.add_argument("--probe-steps", type=int, default=5)
    parser.add_argument("--stride", type=int, default=1, help="Every N-th frame (checks only).")
    parser.add_argument("--ngf", type=int, default=8, help="pix2pixHD generator width.")
    parser.add_argument("--ndf", type=int, default=16, help="pix2pixHD discriminator width.")
    parser.add_argument("--p2p-ngf", type=int, default=16)
    parser.add_argument("--p2p-ndf", type=int, default=16)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--runs", default="pix2pix,pix2pixhd,pix2pixhd_novgg,pix2pixhd_7level")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/pix2pixhd_quality.json"
    )
    args = parser.parse_args()
    from celltool.errors import CelltoolError
    from celltool.nn.perceptual import find_vgg16_weights

    args.work.mkdir(parents=True, exist_ok=True)
    train_frames, test_frames = frames(args.stride)
    runs = [r for r in args.runs.split(",") if r]
    try:
        vgg = str(find_vgg16_weights())
    except CelltoolError as exc:
        vgg = None
        runs = [r for r in runs if r in ("pix2pix", "pix2pixhd_novgg")]
        print(f"no VGG16 weights, runs with the perceptual loss skipped: {exc}", file=sys.stderr)
    use_lpips = lpips_available()
    result: dict = {
        "budget_seconds": args.budget, "stride": args.stride, "widths": vars(args) | {
            "data": str(args.data), "work": str(args.work), "out": str(args.out)},
        "vgg_weights": vgg, "machine": machine(),
        "train_frames": len(train_frames), "test_frames": len(test_frames),
    }  # fmt: skip
    real_dir = args.data / "images"
    result["real"] = scores(args.data, real_dir, test_frames, False)  # the segmenter's ceiling
    masks = mask_pairs(args.data, args.work / f"pairs-s{args.stride}", train_frames, test_frames)
    for model in runs:
        if model == "pix2pixhd_7level":
            pairs = sketch_pairs(args.data, args.work / f"s{args.stride}", train_frames,
                                 test_frames)  # fmt: skip
        else:
            pairs = masks
        entry = train_for(model, pairs, args.work, args, len(train_frames))
        gen = generate(Path(entry["run"]), pairs, args.work / f"gen-{model}")
        entry.update(scores(args.data, gen, test_frames, use_lpips))
        result[model] = entry
        print(json.dumps({model: entry}), flush=True)
    finish(result["machine"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
