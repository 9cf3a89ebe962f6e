"""Core figures: simulator throughput at 512², serial and with worker processes.

    .venv/bin/python benchmarks/bench_core.py [--runs 7] [--images 16] [--workers 2]

Prints the figures and writes benchmarks/results/core.json (medians over --runs). Start-up
figures (`celltool --help`, `celltool plugins`, a no-op step) are in bench_startup.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import finish, machine  # noqa: E402


def sim_rate(executor: str, workers: int, images: int, runs: int) -> float:
    """Images per second of `celltool simulate` at 512² (in-process, without start-up)."""
    from celltool.executor import ExecutorSpec
    from celltool.steps.simulation import simulate as simulate_folder

    rates = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-core-"))
    try:
        for i in range(runs):
            start = time.perf_counter()
            simulate_folder(
                tmp / f"{executor}-{i}",
                n=images,
                size=(512, 512),
                seed=i,
                spec=ExecutorSpec(executor, workers),
            )
            rates.append(images / (time.perf_counter() - start))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    where = machine()
    sim_runs = max(1, args.runs // 2)
    serial = sim_rate("serial", 1, args.images, sim_runs)
    parallel = sim_rate("process", args.workers, args.images, sim_runs)
    results = {
        "simulate_512_images_per_s_serial": round(serial, 3),
        f"simulate_512_images_per_s_process_{args.workers}": round(parallel, 3),
        "process_speedup": round(parallel / serial, 2),
        "runs": args.runs,
        "images_per_run": args.images,
        "workers": args.workers,
        "note": "medians; machine shared with other jobs when load_avg_1min > cpu_count",
    }
    for key, value in results.items():
        print(f"{key:>40}: {value}")
    results["machine"] = finish(where)
    out = HERE / "results" / "core.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
