"""pix2pix speed under process-level settings that must be set before the process starts:
glibc malloc tuning, jemalloc / tcmalloc through LD_PRELOAD, OpenMP wait policy, oneDNN on/off,
thread count. unet_256 + PatchGAN-70, 256², 1 channel, batch 1, fp32 with ``--gemm-convs``
(the default path of ``celltool train`` / ``generate`` on a CPU without native bf16).

Each setting runs in a fresh process (its environment is set before Python starts), and the
settings are interleaved round by round (round r starts one process per setting, the order
rotated by one setting each round, since processes differ by up to ±15 %); the
figures are medians over rounds of each process's median training step (per training variant,
default ``gemm`` and ``gemm+fused``, steps interleaved) and batch-1 inference call (fp32,
``--gemm-convs``), as rates and as process CPU seconds, against the first setting. The
environment this script runs under (e.g. the AVX2 caps ``ONEDNN_MAX_CPU_ISA=AVX2
ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2``) is passed on to every process; the
machine record and the load per round are in the results file.

    .venv/bin/python benchmarks/bench_pix2pix_env.py --rounds 3 \
        --settings default,keep,jemalloc,tcmalloc --out benchmarks/results/x.json

Settings (``--settings``, comma-separated; ``--list`` prints them): see SETTINGS below.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
LIB = Path("/usr/lib/x86_64-linux-gnu")
BIG = str(1 << 34)  # 16 GiB: "never trim"

# name → (environment added to the process, options of the child)
SETTINGS: dict[str, tuple[dict[str, str], dict]] = {
    "default": ({}, {}),
    # glibc malloc (mallopt through the environment)
    "arena1": ({"MALLOC_ARENA_MAX": "1"}, {}),
    "mmap32M": ({"MALLOC_MMAP_THRESHOLD_": str(32 << 20)}, {}),
    "trim_off": ({"MALLOC_TRIM_THRESHOLD_": BIG}, {}),
    "top_pad256M": ({"MALLOC_TOP_PAD_": str(256 << 20)}, {}),
    # freed memory kept: no mmap'ed chunks, no trimming (what docs/training.md measured)
    "keep": ({"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": BIG}, {}),
    "jemalloc": ({"LD_PRELOAD": str(LIB / "libjemalloc.so.2")}, {}),
    "tcmalloc": ({"LD_PRELOAD": str(LIB / "libtcmalloc_minimal.so.4")}, {}),
    # oneDNN / threads
    "mkldnn_off": ({}, {"mkldnn": False}),
    "threads2": ({}, {"threads": 2}),
    "threads2_passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, {"threads": 2}),
    "threads2_spin0": ({"GOMP_SPINCOUNT": "0"}, {"threads": 2}),
}


def child(options: dict, variants: list[str], train_steps: int, infer_calls: int) -> dict:
    """One process's measurement: per training variant (bench_pix2pix's names, e.g. ``gemm``,
    ``gemm+fused``; steps interleaved between variants) and for batch-1 inference (fp32 with
    the GEMM convolutions, eval mode), the median wall seconds per call after warm-up and the
    mean process CPU seconds."""
    import torch

    torch.set_num_threads(int(options.get("threads", 1)))
    if not options.get("mkldnn", True):
        torch.backends.mkldnn.enabled = False
    from pix2pix_setup import calibrate, make_trainer, pair

    from celltool.training.convs import use_gemm_convs

    trainers = {v: make_trainer(v) for v in variants}
    batches = [pair(s) for s in range(4)]
    G = use_gemm_convs(make_trainer("fp32").G)
    calibrate(G)
    x = pair(9)["input"]
    walls: dict[str, list[float]] = {k: [] for k in [*variants, "infer"]}
    cpus: dict[str, float] = dict.fromkeys(walls, 0.0)

    def timed(key: str, fn) -> None:
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls[key].append(time.perf_counter() - w0)
        cpus[key] += time.process_time() - c0

    def infer():
        with torch.inference_mode():
            G(x)

    for t in trainers.values():
        t.train_mode(True)
        for i in range(2):  # warm-up
            t.train_step(batches[i])
    for i in range(train_steps):
        for v, t in trainers.items():
            timed(v, lambda t=t, i=i: t.train_step(batches[i % 4]))
    for _ in range(2):
        infer()
    for _ in range(infer_calls):
        timed("infer", infer)
    import resource

    out = {f"{k}_s": statistics.median(w) for k, w in walls.items()}
    out |= {f"{k}_cpu_s": cpus[k] / len(walls[k]) for k in walls}
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["threads"] = torch.get_num_threads()
    out["mkldnn"] = torch.backends.mkldnn.enabled
    return out


def parent(args) -> dict:
    from machine import finish, machine

    names = args.settings.split(",")
    variants = args.variants.split(",")
    for name in names:
        if name not in SETTINGS:
            raise SystemExit(f"unknown setting {name!r}: {', '.join(SETTINGS)}")
        preload = SETTINGS[name][0].get("LD_PRELOAD")
        if preload and not Path(preload).exists():
            raise SystemExit(f"{name}: {preload} missing (apt-get install libjemalloc2 ...)")
    import torch

    torch.set_num_threads(1)  # the record's thread count: the settings' default
    where = machine()
    per: dict[str, list[dict]] = {n: [] for n in names}
    loads = []
    for r in range(args.rounds):
        loads.append(round(os.getloadavg()[0], 2))
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotated each round
            env_add, options = SETTINGS[name]
            env = {**os.environ, **env_add}
            argv = [sys.executable, __file__, "--child", json.dumps(options)]
            argv += ["--train-steps", str(args.train_steps), "--infer-calls", str(args.infer_calls)]
            argv += ["--variants", args.variants]
            done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            per[name].append(row)
            rates = "  ".join(f"{v} {1 / row[v + '_s']:.3f}/s" for v in [*variants, "infer"])
            print(f"round {r} {name:18s} {rates}  rss {row['max_rss_mb']:.0f} MB",
                  file=sys.stderr, flush=True)  # fmt: skip
    base = names[0]
    table: dict = {}
    for name in names:
        rows = per[name]
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k.endswith("_s")}
        table[name] = {
            "env": SETTINGS[name][0],
            "options": SETTINGS[name][1],
            **{f"median_{k}": v for k, v in med.items()},
            "max_rss_mb": statistics.median(r["max_rss_mb"] for r in rows),
            "per_process": rows,
        }
    for name in names:
        t, b = table[name], table[base]
        line = []
        for key in [*variants, "infer"]:
            t[f"{key}_per_s"] = 1 / t[f"median_{key}_s"]
            t[f"{key}_x"] = b[f"median_{key}_s"] / t[f"median_{key}_s"]
            t[f"{key}_x_cpu"] = b[f"median_{key}_cpu_s"] / t[f"median_{key}_cpu_s"]
            line.append(f"{key} {t[key + '_per_s']:.3f}/s ×{t[key + '_x']:.3f} "
                        f"(cpu ×{t[key + '_x_cpu']:.3f})")  # fmt: skip
        print(f"{name:18s} {'  '.join(line)}  rss {t['max_rss_mb']:.0f} MB", file=sys.stderr)
    finish(where)
    return {
        "machine": where,
        "command": "benchmarks/bench_pix2pix_env.py " + " ".join(sys.argv[1:]),
        "rounds": args.rounds,
        "train_variants": variants,
        "train_steps_per_process": args.train_steps,
        "infer_calls_per_process": args.infer_calls,
        "loadavg_per_round": loads,
        "baseline": base,
        "settings": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", default="default,keep,jemalloc,tcmalloc")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variants", default="gemm,gemm+fused", help="Training variants (bench_pix2pix names)."
    )
    parser.add_argument("--train-steps", type=int, default=3, help="Timed steps per variant.")
    parser.add_argument("--infer-calls", type=int, default=10, help="Timed calls per process.")
    parser.add_argument("--list", action="store_true", help="Print the settings and exit.")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/pix2pix_env.json")
    args = parser.parse_args()
    if args.list:
        for name, (env, options) in SETTINGS.items():
            print(f"{name:18s} {env} {options}")
        return
    if args.child is not None:
        options, variants = json.loads(args.child), args.variants.split(",")
        print(json.dumps(child(options, variants, args.train_steps, args.infer_calls)))
        return
    result = parent(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
