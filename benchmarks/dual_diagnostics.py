"""Diagnostics behind docs/dual.md's reading of bench_dual.py (run that first; same --work):

- the real frames' Farnebäck flow magnitude far from cells (> 8 px from any mask pixel) and near
  them, on the test frames 160–199;
- what the training frames' motion is made of (frames 000–159): the mask components' centroid
  steps (matched by the CTC rule, one-to-one) and their lag-1 correlation, the flow averaged
  inside each component, and the per-frame median flow (stage jitter);
- the dual run's sketch model on the real frames 160 and 199: mask coverage and object count
  against the real masks (how far off the sketches are before any roll-out);
- how frames are rendered under the fitted motion (2 samples each, from frame 160 and its
  mask): R(sketch, start frame carried along by the motion) — generate's way —, R(sketch,
  previous generated frame), and the carried start frame alone (no R): flow, SSIM, LPIPS.

    .venv/bin/python benchmarks/dual_diagnostics.py --work /tmp/celltool-bench-dual
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from machine import finish, machine

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/celltool-bench-dual"))
    parser.add_argument("--out", type=Path, default=RESULTS / "dual_diagnostics.json")
    parser.add_argument("--lpips-weights", default="", help="LPIPS weights (skipped without)")
    args = parser.parse_args()

    import torch
    from celltool_metrics.sequence import flows, objects
    from scipy import ndimage

    from celltool.imageio import read_image
    from celltool.training.generate import load_trainer

    torch.set_num_threads(1)
    where = machine()
    frames = args.work / "frames"
    images = [read_image(frames / "images" / f"{k}.png") for k in range(160, 200)]
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_dual's evaluate
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
    train_images = [read_image(frames / "images" / f"{k:03d}.png") for k in range(160)]
    train_masks = [read_image(frames / "masks" / f"{k:03d}.png") > 0 for k in range(160)]
    record = {
        "machine": finish(where),
        "flow_magnitude_far_from_cells": float(np.mean(far_mag)),
        "flow_magnitude_near_cells": float(np.mean(near_mag)),
        "far_fraction": float(np.mean(far_frac)),
        "training_motion": training_motion(train_images, train_masks),
        "sketch_model_on_real_160_199": curves,
        "rendering_under_fitted_motion": rendering(model, images, masks, args.lpips_weights),
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


def training_motion(images: list, masks: list) -> dict:
    """Centroid steps of mask components matched one-to-one between consecutive frames, their
    lag-1 correlation along tracks, the Farnebäck flow averaged inside each component, and the
    per-frame median flow."""
    from celltool_metrics.sequence import flows
    from scipy import ndimage

    from celltool.labels import match_reference

    labels = [ndimage.label(m, structure=np.ones((3, 3)))[0] for m in masks]
    steps, pairs, previous = [], [], {}
    for a, b in zip(labels[:-1], labels[1:], strict=True):
        m = match_reference(a, b)
        ids, counts = np.unique(m.pred, return_counts=True)
        once = set(ids[counts == 1])
        ca = ndimage.center_of_mass(a > 0, a, range(1, a.max() + 1))
        cb = ndimage.center_of_mass(b > 0, b, range(1, b.max() + 1))
        current = {}
        for g, p in zip(m.gt, m.pred, strict=True):
            if p in once:
                step = np.subtract(cb[p - 1], ca[g - 1])
                steps.append(step)
                current[p] = step
                if g in previous:
                    pairs.append((previous[g], step))
        previous = current
    steps, pairs = np.array(steps), np.array(pairs)
    lag1 = [float(np.corrcoef(pairs[:, 0, i], pairs[:, 1, i])[0, 1]) for i in (0, 1)]
    cell_flow, median_flow = [], []
    for f, lab in zip(flows(images, 255), labels[:-1], strict=True):
        ids = np.arange(1, lab.max() + 1)
        mean = np.stack([ndimage.mean(f[..., k], lab, ids) for k in (0, 1)], 1)
        cell_flow.append(np.linalg.norm(mean, axis=1))
        median_flow.append(float(np.linalg.norm(np.median(f.reshape(-1, 2), axis=0))))
    return {
        "centroid_step_mean_px": float(np.linalg.norm(steps, axis=1).mean()),
        "centroid_step_lag1_correlation_yx": lag1,
        "matched_steps": len(steps),
        "cell_mean_flow_magnitude_px": float(np.concatenate(cell_flow).mean()),
        "frame_median_flow_magnitude_px": float(np.mean(median_flow)),
    }


def rendering(model, images: list, masks: list, lpips_weights: str, samples: int = 2) -> dict:
    """Flow / SSIM / LPIPS of 39-step sequences from frame 160 under the fitted motion, for
    three ways of making each frame."""
    import torch
    from bench_dual import evaluate
    from celltool_dual.motion import MotionModel, MotionSampler

    opts = {"tile": 0, "overlap": 0, "blend": "cosine", "batch_size": 4}
    real = images
    real_masks = [(m * 255).astype(np.uint8) for m in masks]
    start = model._to_tensor(real[0], 1, 8)
    fitted = MotionModel.from_dict(model.info.extra["motion_model"])

    def sequence(way: str, seed: int) -> tuple[list, list]:
        sampler = MotionSampler(fitted, masks[0], np.random.default_rng([seed, 0]))
        x, out, sketches = start, [real[0]], [real_masks[0]]
        for _ in range(len(real) - 1):
            mask = sampler.step()
            s = torch.from_numpy(np.where(mask, 1.0, -1.0).astype(np.float32)[None])
            carried = torch.from_numpy(sampler.warp(start[0].numpy())[None])
            if way == "carried start frame, no R":
                x = carried
            else:
                prev = carried if way == "R(sketch, carried start frame)" else x
                x = model._net(model.R, torch.cat([s, prev]), opts)
            out.append(model._to_array(x, 8))
            sketches.append(model._to_array(s, 8))
        return out, sketches

    result = {}
    for way in (
        "R(sketch, carried start frame)", "R(sketch, previous frame)", "carried start frame, no R"
    ):  # fmt: skip
        runs = [evaluate(real, real_masks, *sequence(way, k), lpips_weights or None)
                for k in range(samples)]  # fmt: skip
        result[way] = {
            "flow_magnitude": float(
                np.mean([r["motion"]["flow_magnitude_generated"] for r in runs])
            ),
            "mean_ssim": float(np.mean([r["per_step"]["step_ssim"] for r in runs])),
            "mean_lpips": (
                float(np.mean([r["lpips"]["step_lpips"] for r in runs])) if lpips_weights else None
            ),
            "samples": samples,
        }
    return result


if __name__ == "__main__":
    main()
