"""``celltool generate RUN --count N --seed S``: instance label maps from noise.

Sample i has the seed S + i and the latent z = ``numpy.random.default_rng(S + i)``'s
standard normal vector, so one sample can be regenerated, edited or interpolated alone. Written:

- ``labels/seedNNNNNN.png``: instance label map (uint16, 0 = background, 1..N);
- ``masks/seedNNNNNN.png``: the binary mask (uint8 0/255);
- ``latents.npz``: ``seeds`` (N), ``z`` (N × z_dim), ``w`` (N × w_dim, after truncation),
  ``truncation``; with ``--interpolate A B --steps K`` a walk ``walk_KKKK.png`` from w(A) to
  w(B) (linear in W, as NVlabs' videos) with its ``walk_w`` (K × w_dim), and the walk's
  masks as one movie, ``walk_masks.tif`` (K × R × R uint8, axes TYX: Fiji plays it);
- optionally ``raw/`` (``--raw``): the generator's channels as 8-bit images.

With ``--target-count``, ``--target-coverage`` and/or ``--target-nn-distance`` the samples are
steered: the seeds S … S + pool·N − 1 are drawn as candidates and N of them kept whose mean
object count / coverage per image / distance between nearest neighbours (over objects) hit the
targets (``celltool.steering``: an exponential tilt of the model's own
distribution). The kept samples keep their seeds' names, so each regenerates alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celltool.errors import UsageError
from celltool.imageio import write_image
from celltool.training.api import GenerateJob
from celltool_stylegan.instances import cellgen_threshold, split_instances, to_binary


def latent(seed: int, z_dim: int) -> np.ndarray:
    """The z of a seed (float32)."""
    return np.random.default_rng(seed).standard_normal(z_dim).astype(np.float32)


def to_instances(channels: np.ndarray, options: Mapping[str, Any], config: Mapping[str, Any]):
    """C×H×W generator output in [-1, 1] → instance label map (uint16)."""
    method = options.get("split", "watershed")
    if method == "threshold240":
        return cellgen_threshold(channels[0]).astype(np.uint16)
    distance = channels[1] if method == "watershed" and channels.shape[0] > 1 else None
    return split_instances(
        channels[0], distance, threshold=float(options.get("threshold", 0.0)),
        distance_max=float(config.get("distance_max", 4.0)),
        marker_depth=float(options.get("marker_depth", 2.0)),
        min_size=int(options.get("min_object_size", 4)),
        smooth=float(options.get("marker_smooth", 1.0)),
    )  # fmt: skip


@torch.no_grad()
def synthesize(trainer: Any, ws: torch.Tensor, noise: str, batch: int) -> np.ndarray:
    """ws (N × num_ws × w_dim) → N × C × R × R float32 in [-1, 1]. Every call runs a full
    ``batch`` (a short one is padded), so a sample's numbers do not depend on how many were
    asked for: seed S alone gives the same mask as seed S among others."""
    ctx, n = trainer.ctx, ws.shape[0]
    if n < batch:
        ws = torch.cat([ws, ws[:1].expand(batch - n, -1, -1)])
    with ctx.autocast():
        img = trainer.G_ema.synthesize(ws.to(ctx.device), noise_mode=noise)
    return img.float().clamp(-1, 1).cpu().numpy()[:n]


def map_latents(trainer: Any, z: np.ndarray, psi: float) -> torch.Tensor:
    """z (N × z_dim) → ws, one sample at a time (batch-independent numbers)."""
    with torch.no_grad():
        rows = [
            trainer.G_ema.mapping(torch.from_numpy(z[i : i + 1]).to(trainer.ctx.device), psi)
            for i in range(len(z))
        ]
    return torch.cat(rows).cpu() if rows else torch.zeros(0, trainer.G_ema.num_ws, 1)


def seed_channels(trainer: Any, seeds: list[int], psi: float, noise: str,
                  batch: int) -> list[np.ndarray]:  # fmt: skip
    """The generator's C×R×R outputs in [-1, 1] for ``seeds`` (all held in memory: for a few
    hundred samples, as the split choice and the benchmarks draw)."""
    z = np.stack([latent(s, trainer.G_ema.z_dim) for s in seeds])
    return [c for start in range(0, len(seeds), batch)
            for c in synthesize(trainer, map_latents(trainer, z[start : start + batch], psi),
                                noise, batch)]  # fmt: skip


def steering_targets(opts: Mapping[str, Any]) -> dict[str, float]:
    """The --target-count / --target-coverage / --target-nn-distance asked for (0 = off)."""
    targets = {"count": float(opts.get("target_count") or 0),
               "coverage": float(opts.get("target_coverage") or 0),
               "nn_distance": float(opts.get("target_nn_distance") or 0)}  # fmt: skip
    return {k: v for k, v in targets.items() if v > 0}


def steer_seeds(trainer: Any, opts: Mapping[str, Any], seeds: list[int], psi: float, noise: str,
                batch: int) -> tuple[list[int], dict[str, Any]]:  # fmt: skip
    """Draw pool × len(seeds) candidates after seeds[0], keep len(seeds) whose means hit the
    targets; return the kept seeds and the manifest facts."""
    from celltool.console import info, track, warn
    from celltool.steering import label_statistics, steer_labels

    targets, pool = steering_targets(opts), int(opts.get("pool", 4))
    first, n = seeds[0], len(seeds)
    candidates = [first + i for i in range(pool * n)]
    values = []
    for start in track(range(0, len(candidates), batch), -(-len(candidates) // batch),
                       "candidates"):  # fmt: skip
        z = np.stack([latent(s, trainer.G_ema.z_dim) for s in candidates[start : start + batch]])
        ws = map_latents(trainer, z, psi)
        for channels in synthesize(trainer, ws, noise, batch):
            values.append(label_statistics(to_instances(channels, opts, trainer.config)))
    result = steer_labels(values, targets, n, np.random.default_rng([first, n, 0x57EE2]))
    kept = [candidates[i] for i in result.chosen]
    line = ", ".join(f"{k} {result.pool_mean[k]:.4g} → {result.kept_mean[k]:.4g} "
                     f"(target {targets[k]:.4g})" for k in targets)  # fmt: skip
    (info if result.reached else warn)(
        f"steering: {n} of {len(candidates)} candidates, {line}"
        + ("" if result.reached else "; the pool cannot reach the target (--pool, --truncation)")
    )
    facts = {"targets": targets, "pool": pool, "candidates": len(candidates),
             "tilt": result.tilt, "pool_mean": result.pool_mean,
             "kept_mean": result.kept_mean, "reached": result.reached}  # fmt: skip
    return kept, facts


def choose_split(trainer: Any, opts: Mapping[str, Any], seed: int, psi: float, noise: str,
                 batch: int) -> dict[str, Any]:  # fmt: skip
    """--split-reference: the marker depth and smoothing whose label maps of samples seed …
    seed + SAMPLES − 1 are closest to crops of the reference masks (``calibrate``); returns
    the manifest facts (every pair's score, the chosen pair)."""
    from celltool.console import info
    from celltool_stylegan.calibrate import SAMPLES, best, reference_crops, score_grid

    if opts.get("split", "watershed") != "watershed" or trainer.channels < 2:
        raise UsageError("--split-reference chooses the watershed's markers: it needs "
                         "--split watershed and a run with a distance channel")  # fmt: skip
    folder = Path(opts["split_reference"])
    reference = reference_crops(folder, trainer.config, SAMPLES, seed)
    channels = seed_channels(trainer, [seed + i for i in range(SAMPLES)], psi, noise, batch)
    split = {"threshold": float(opts.get("threshold", 0.0)),
             "distance_max": float(trainer.config.get("distance_max", 4.0)),
             "min_size": int(opts.get("min_object_size", 4))}  # fmt: skip
    scores = score_grid(channels, reference, split)
    chosen = best(scores)
    info(f"split: marker depth {chosen['marker_depth']:g} px, smoothing "
         f"{chosen['marker_smooth']:g} px (score {min(scores.values()):.3f}; "
         f"{SAMPLES} samples against {folder})")  # fmt: skip
    return {"reference": str(folder), "samples": SAMPLES, "scores": scores, "chosen": chosen}


def write_sample(
    job: GenerateJob, opts: Mapping[str, Any], name: str, channels: np.ndarray, config, raw: bool
) -> tuple[int, np.ndarray]:
    """Write one sample's label map, mask (and raw channels); return its object count and
    mask."""
    labels = to_instances(channels, opts, config)
    mask = to_binary(labels)
    write_image(job.out / "labels" / f"{name}.png", labels)
    write_image(job.out / "masks" / f"{name}.png", mask)
    if raw:
        for c, plane in enumerate(channels):
            gray = np.clip(np.rint((plane + 1) * 127.5), 0, 255).astype(np.uint8)
            write_image(job.out / "raw" / f"{name}_c{c}.png", gray)
    return int(labels.max()), mask


def generate_masks(trainer: Any, job: GenerateJob) -> dict[str, Any]:
    """Write the samples (or the walk) of ``job`` and return the manifest facts."""
    opts = dict(job.options)
    if job.inputs:
        raise UsageError("stylegan generates from noise: it takes no input folders")
    if opts.get("interpolate") and steering_targets(opts):
        raise UsageError("--target-count/--target-coverage/--target-nn-distance steer --count "
                         "samples, not a walk")  # fmt: skip
    trainer.train_mode(False)
    config, seed = trainer.config, int(opts.get("seed", 0))
    psi = float(opts.get("truncation", 1.0))
    noise = str(opts.get("noise", "const"))
    batch = max(1, int(opts.get("batch_size", 4)))
    raw = bool(opts.get("raw", False))
    z_dim = trainer.G_ema.z_dim
    for sub in ("labels", "masks") + (("raw",) if raw else ()):
        (job.out / sub).mkdir(exist_ok=True)
    pair = tuple(opts.get("interpolate") or ())
    steering = split_choice = None
    if opts.get("split_reference"):
        split_choice = choose_split(trainer, opts, seed, psi, noise, batch)
        opts.update(split_choice["chosen"])
    arrays: dict[str, Any] = {"truncation": np.float32(psi)}
    if pair:
        if len(pair) != 2:
            raise UsageError("--interpolate takes two seeds: A B")
        steps = int(opts.get("steps") or 16)
        z = np.stack([latent(int(s), z_dim) for s in pair])
        ends = map_latents(trainer, z, psi)
        t = torch.linspace(0, 1, steps).reshape(-1, 1, 1)

        def ws_of(lo: int, hi: int) -> torch.Tensor:
            return ends[0:1].lerp(ends[1:2], t[lo:hi])

        names = [f"walk_{k:04d}" for k in range(steps)]
        walk_w = ends[0:1, 0].lerp(ends[1:2, 0], t[:, 0]).numpy()
        arrays.update(seeds=np.asarray(pair), z=z, w=ends[:, 0].numpy(), walk_w=walk_w)
    else:
        count = int(opts.get("count", 16))
        seeds = [seed + i for i in range(count)]
        if seeds and steering_targets(opts):
            seeds, steering = steer_seeds(trainer, opts, seeds, psi, noise, batch)
        z = np.stack([latent(s, z_dim) for s in seeds]) if seeds else np.zeros((0, z_dim))
        z = z.astype(np.float32)

        def ws_of(lo: int, hi: int) -> torch.Tensor:
            return map_latents(trainer, z[lo:hi], psi)

        names = [f"seed{s:06d}" for s in seeds]
        arrays.update(seeds=np.asarray(seeds), z=z)
    from celltool.console import track

    counts, movie, w_rows = [], [], []
    for start in track(range(0, len(names), batch), (len(names) + batch - 1) // batch,
                       "generate"):  # fmt: skip
        ws = ws_of(start, start + batch)
        w_rows.append(ws[:, 0].numpy())
        images = synthesize(trainer, ws, noise, batch)
        for name, channels in zip(names[start : start + batch], images, strict=True):
            objects, mask = write_sample(job, opts, name, channels, config, raw)
            counts.append(objects)
            if pair:
                movie.append(mask)
    if not pair:
        arrays["w"] = (
            np.concatenate(w_rows) if w_rows else np.zeros((0, trainer.G_ema.w_dim), np.float32)
        )
    np.savez(job.out / "latents.npz", **arrays)
    if pair:
        write_image(job.out / "walk_masks.tif", np.stack(movie), axes="TYX")
    return {
        "parts": {"labels": "labels", "masks": "masks", **({"raw": "raw"} if raw else {})},
        "count": len(names),
        "objects": int(sum(counts)),
        "latents": "latents.npz",
        "truncation": psi,
        "split": opts.get("split", "watershed"),
        "resolution": int(config["resolution"]),
        "cfg": config["cfg"],
        "interpolate": list(pair) or None,
        "steering": steering,
        "split_choice": split_choice,
        **({"movie": "walk_masks.tif"} if pair else {}),
    }
