"""Timing helpers shared by the speed benchmarks: wall and process-CPU time per call, variants
interleaved round by round (A/B/A/B…, so a change of machine load hits every variant alike),
medians over rounds, ratios against a baseline variant of the same invocation.

Process CPU time is reported next to wall time: on a shared machine it is the less disturbed of
the two (the docs quote both where load was high). On CUDA, ``sync`` waits for queued kernels
before a clock is read.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def sync(device: str) -> None:
    """Wait for queued CUDA work (nothing on the CPU)."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(fn: Callable[[], object], iters: int, device: str = "cpu") -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per call over ``iters`` calls."""
    sync(device)
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - w0) / iters, (time.process_time() - c0) / iters


def medians(fn: Callable[[], object], runs: int) -> tuple[float, list[float], float]:
    """(median wall s, every wall s, median CPU s) of ``runs`` single calls."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = timed(fn, 1)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), walls, statistics.median(cpus)


def interleave(
    runs: dict[str, Callable[[], object]],
    iters: int,
    rounds: int,
    *,
    device: str = "cpu",
    warmup: bool = False,
) -> dict:
    """Time every variant once per round; medians over rounds, and the 1-minute load average at
    the start of each round under ``_loadavg_per_round``. ``warmup`` calls each once first."""
    for fn in runs.values() if warmup else ():
        fn()
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    loads = []
    for _ in range(rounds):
        loads.append(round(os.getloadavg()[0], 2))
        for name, fn in runs.items():
            w, c = timed(fn, iters, device)
            wall[name].append(w)
            cpu[name].append(c)
    out: dict = {}
    for name in runs:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        out[name] = {"s_per_it": w, "cpu_s_per_it": c, "wall_runs": wall[name], "per_s": 1 / w}
    out["_loadavg_per_round"] = loads
    return out


def ratios(table: dict, base: str) -> dict:
    """Add ``speedup_wall``/``speedup_cpu`` against the ``base`` variant to every row."""
    b = table[base]
    for name, r in table.items():
        if not name.startswith("_"):
            r["speedup_wall"] = b["s_per_it"] / r["s_per_it"]
            r["speedup_cpu"] = b["cpu_s_per_it"] / r["cpu_s_per_it"]
    return table
