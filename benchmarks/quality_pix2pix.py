"""pix2pix quality on the shared time-lapse: mask → image SSIM (and LPIPS when its weights are
available offline) and image → mask Dice.

Train on frames 000–159 (random 256² crops: preprocess `crop`, flips), generate the full 512²
frames 160–199 (tiled when the generator is larger than the crop), compare with the real ones.
Masks are binarised at 127. SSIM: skimage, Gaussian σ 1.5, data_range 255. Dice: generated mask
> 127 vs real mask > 127, per frame, averaged.

    .venv/bin/python benchmarks/quality_pix2pix.py --epochs 4 --ngf 32 --ndf 32
    # the fast training path (docs/training.md, "Precision and speed"):
    .venv/bin/python benchmarks/quality_pix2pix.py --epochs 1 --ngf 64 --ndf 64 --precision bf16 \
        --fused-adam --master-weights --out benchmarks/results/pix2pix_quality_ngf64_fasttrain.json

Writes benchmarks/results/pix2pix_quality.json (and keeps the runs under --work).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import finish, machine  # noqa: E402


def build_pairs(data: Path, out: Path) -> Path:
    from celltool.imageio import read_image
    from celltool.steps.pairs import pairs_folder as write_pairs

    if out.exists():
        return out
    items = []
    for i in range(200):
        image = read_image(data / "images" / f"{i:03d}.png")
        mask = ((read_image(data / "masks" / f"{i:03d}.png") > 127) * 255).astype(np.uint8)
        items.append((f"{i:03d}", image, mask))
    return write_pairs(out, {"train": items[:160], "test": items[160:]}, bit_depth=8)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(
            a.astype(np.float64),
            b.astype(np.float64),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
        )
    )


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 127, b > 127
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)


def lpips_available() -> bool:
    """Whether celltool finds LPIPS (alex) backbone weights offline (``--lpips-weights`` /
    CELLTOOL_LPIPS_WEIGHTS, a prepared file, or torchvision's cache)."""
    from celltool_metrics.lpips_metric import find_weights

    from celltool.errors import CelltoolError

    try:
        find_weights("alex")
        return True
    except CelltoolError:
        return False


def train_and_generate(pairs: Path, work: Path, direction: str, args) -> tuple[Path, float]:
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    run = work / f"run-{direction}"
    component = plugins.get("trainers", "pix2pix")
    config = resolve_config(
        component,
        {
            "direction": direction,
            "epochs": args.epochs,
            "ngf": args.ngf,
            "ndf": args.ndf,
            "netG": args.netG,
            "crop_size": 256,
            "preprocess": "crop",
            "precision": args.precision,
            "channels_last": args.precision == "bf16",
            "fused_adam": args.fused_adam,
            "master_weights": args.master_weights,
            "seed": 0,
            "save_every": 0,
            "samples": 2,
        },
    )
    t0 = time.time()
    if not (args.skip_train and (run / "checkpoints" / "latest.pt").exists()):
        train(component, [pairs], run, config, overwrite=True)
    seconds = time.time() - t0
    return generate(run, pairs, work / f"gen-{direction}"), seconds


def generate(run: Path, pairs: Path, out: Path, precision: str = "fp32", compile_=False) -> Path:
    from celltool import plugins
    from celltool.steps.generation import resolve_options
    from celltool.training.generate import generate_folder

    opts = resolve_options(plugins.get("trainers", "pix2pix"), {"compile": compile_})
    return generate_folder(
        run, [pairs], out, options=opts, device="cpu", precision=precision, overwrite=True
    )


def scores(data: Path, gen: Path, direction: str, metric: bool) -> dict:
    """mask → image SSIM (and LPIPS), or image → mask Dice, of the generated frames 160–199."""
    from celltool.imageio import read_image

    values, lp = [], []
    for i in range(160, 200):
        real = read_image(data / "images" / f"{i:03d}.png")
        mask = ((read_image(data / "masks" / f"{i:03d}.png") > 127) * 255).astype(np.uint8)
        fake = read_image(gen / f"{i:03d}.png")
        if direction == "sketch2image":
            values.append(ssim(fake, real))
            if metric:
                from celltool_metrics.lpips_metric import lpips_distance

                lp.append(lpips_distance(real, fake, data_range=255.0))
        else:
            values.append(dice(fake, mask))
    if direction != "sketch2image":
        return {"image2mask_dice": float(np.mean(values))}
    out = {"mask2image_ssim": float(np.mean(values))}
    out["mask2image_lpips"] = float(np.mean(lp)) if lp else None
    if not lp:
        out["lpips_note"] = "LPIPS weights not found offline; not computed"
    return out


def baselines(data: Path) -> dict:
    """Reference points without a model: the mean training frame as the 'generated' image
    (SSIM), and an Otsu threshold of the real image as the 'generated' mask (Dice)."""
    from skimage.filters import threshold_otsu

    from celltool.imageio import read_image

    mean = np.mean([read_image(data / "images" / f"{i:03d}.png") for i in range(160)], axis=0)
    mean = np.rint(mean).astype(np.uint8)
    s, d = [], []
    for i in range(160, 200):
        real = read_image(data / "images" / f"{i:03d}.png")
        mask = ((read_image(data / "masks" / f"{i:03d}.png") > 127) * 255).astype(np.uint8)
        s.append(ssim(mean, real))
        d.append(dice(((real > threshold_otsu(real)) * 255).astype(np.uint8), mask))
    return {"mean_frame_ssim": float(np.mean(s)), "otsu_dice": float(np.mean(d))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared/data/timelapse",
        help="The time-lapse (images/, masks/); e.g. /work/shared/data/timelapse.",
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/celltool-pix2pix-quality"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--ndf", type=int, default=32)
    parser.add_argument("--netG", default="unet_256")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--fused-adam", action="store_true")
    parser.add_argument(
        "--master-weights", action="store_true", help="With --precision bf16 (the fast path)."
    )
    parser.add_argument("--skip-train", action="store_true", help="Reuse the runs in --work.")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/pix2pix_quality.json"
    )
    parser.add_argument("--baselines", action="store_true", help="Only the model-free baselines.")
    parser.add_argument(
        "--fast", action="store_true", help="Also generate with --precision bf16 --compile."
    )
    args = parser.parse_args()
    from celltool.imageio import read_image

    if args.baselines:
        print(json.dumps(baselines(args.data)))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    pairs = build_pairs(args.data, args.work / "pairs")
    result = {
        "machine": machine(),
        "budget": vars(args) | {"data": str(args.data), "work": str(args.work)},
    }
    metric = lpips_available()
    for direction in ("sketch2image", "image2sketch"):
        gen, seconds = train_and_generate(pairs, args.work, direction, args)
        result.update(scores(args.data, gen, direction, metric))
        result[f"{direction}_train_seconds"] = round(seconds, 1)
        if args.fast:  # the fastest inference path on the same run, against the fp32 output
            t0 = time.time()
            fast = generate(args.work / f"run-{direction}", pairs,
                            args.work / f"gen-{direction}-fast", "bf16", True)  # fmt: skip
            entry = scores(args.data, fast, direction, metric)
            entry[f"{direction}_generate_seconds"] = round(time.time() - t0, 1)
            entry[f"{direction}_ssim_to_fp32_output"] = float(np.mean([
                ssim(read_image(fast / f"{i:03d}.png"), read_image(gen / f"{i:03d}.png"))
                for i in range(160, 200)
            ]))  # fmt: skip
            result.setdefault("bf16_compile", {}).update(entry)
        print(json.dumps({k: v for k, v in result.items() if k != "budget"}), flush=True)
    finish(result["machine"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
