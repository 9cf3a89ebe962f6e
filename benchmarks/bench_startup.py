"""Start-up figures: what every step of a pipe pays before it does any work (issue #19).

    .venv/bin/python benchmarks/bench_startup.py [--runs 7] [--source DIR ...] [--out PATH]

Each command runs as a subprocess, --runs times, all commands interleaved round by round so
that they share the machine's load; one warm-up round first writes the bytecode and the
entry-point cache (as any second start finds them). Figures: median and minimum wall time, the
median CPU time (user + system of the child: steadier than wall time on a shared machine), and
the ratio of the median wall time to a bare ``python -c pass`` measured in the same rounds; the
load average before and after, the CPU model and thread count go with them. The bars are
absolute seconds on a quiet 2-core machine, where ``python -c pass`` takes 0.03-0.05 s; on a
loaded machine compare the ratios with ``bar_ratio`` (the bar over 0.04 s).

``--source DIR`` (repeatable) measures other source trees too, in the same rounds
(``python -m celltool`` with DIR and DIR/plugins first on PYTHONPATH): e.g. an export of an
older commit (``git archive COMMIT celltool plugins | tar -x -C DIR``) for before/after figures.
Writes benchmarks/results/startup.json (or --out) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import finish, machine  # noqa: E402

QUIET_PYTHON_START_S = 0.04  # `python -c pass` on the quiet 2-core machine of issue #19
NUMPY = "import numpy"


def commands(
    celltool: list[str], tmp: Path, tag: str = ""
) -> dict[str, tuple[list[str], float | None]]:
    """name -> (argv, bar in seconds or None for reference rows)."""
    return {
        f"{tag}celltool --help": ([*celltool, "--help"], 0.25),
        f"{tag}celltool plugins": ([*celltool, "plugins"], 0.3),
        f"{tag}celltool segment --help": ([*celltool, "segment", "--help"], 0.3),
        f"{tag}celltool simulate -n 0 (no-op step)": (
            [*celltool, "simulate", "-n", "0", "-o", str(tmp / "noop")],
            0.3,
        ),
    }


def wall(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child). ``cwd``: outside any source tree (``python -m``
    puts the working directory first on sys.path). A step's ``-o`` folder is removed first,
    outside the timing, so that each run writes a fresh one (not --overwrite's removal)."""
    if "-o" in argv:
        shutil.rmtree(argv[argv.index("-o") + 1], ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        argv, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def plugin_names(env: dict[str, str], celltool: list[str]) -> list[str]:
    out = subprocess.run([*celltool, "plugins", "--json"], env=env, capture_output=True, text=True)
    return sorted(r["name"] for r in json.loads(out.stdout)) if out.returncode == 0 else []


def measure(runs: int, sources: list[Path]) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("CELLTOOL_NO_CACHE", None)
    env["COLUMNS"] = "100"
    envs: dict[str, dict[str, str]] = {}
    where = machine()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        table = {
            "python -c pass": ([sys.executable, "-c", "pass"], None),
            "python -c 'import numpy'": ([sys.executable, "-c", NUMPY], None),
        }
        installed = commands([str(Path(sys.executable).with_name("celltool"))], Path(tmp))
        table.update(installed)
        for source in sources:
            tag = f"[{source.name}] "
            path = os.pathsep.join([str(source), str(source / "plugins")])
            rows = commands([sys.executable, "-m", "celltool"], Path(tmp) / source.name, tag)
            envs.update({name: {**env, "PYTHONPATH": path} for name in rows})
            table.update(rows)
        for name, (argv, _) in table.items():  # warm-up: bytecode, entry-point cache, files
            wall(argv, envs.get(name, env), tmp)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in table}
        for _ in range(runs):
            for name, (argv, _) in table.items():
                times[name].append(wall(argv, envs.get(name, env), tmp))
    finish(where)
    base = statistics.median(t for t, _ in times["python -c pass"])
    rows = {}
    for name, (_, bar) in table.items():
        med = statistics.median(t for t, _ in times[name])
        rows[name] = {
            "median_s": round(med, 4),
            "min_s": round(min(t for t, _ in times[name]), 4),
            "cpu_median_s": round(statistics.median(c for _, c in times[name]), 4),
            "ratio_to_python_start": round(med / base, 2),
            "bar_s": bar,
            "bar_ratio": None if bar is None else round(bar / QUIET_PYTHON_START_S, 2),
        }
    return {
        "commands": rows,
        "python_start_median_s": round(base, 4),
        "runs": runs,
        "machine": where,
        "sources": ["installed celltool"] + [str(s) for s in sources],
        "plugins": plugin_names(env, [str(Path(sys.executable).with_name("celltool"))]),
        "note": "medians over interleaved rounds after a warm-up; bytecode written "
        "(PYTHONDONTWRITEBYTECODE unset), entry-point cache warm; stdout/stderr to /dev/null "
        "(no progress bars); the no-op step writes a fresh folder each run; "
        f"bar_ratio = bar_s / {QUIET_PYTHON_START_S} s (python -c pass on the quiet machine)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--source", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "startup.json")
    args = parser.parse_args()
    results = measure(args.runs, [s.resolve() for s in args.source])
    where = results["machine"]
    head = ("command", "median", "min", "cpu", "ratio", "bar", "ratio")
    print("{:<48} {:>7} {:>7} {:>7} {:>6} {:>5} {:>6}".format(*head))
    for name, r in results["commands"].items():
        bar = "" if r["bar_s"] is None else f"{r['bar_s']:.2f}"
        bar_ratio = "" if r["bar_ratio"] is None else f"{r['bar_ratio']:.2f}"
        print(
            f"{name:<48} {r['median_s']:7.3f} {r['min_s']:7.3f} {r['cpu_median_s']:7.3f} "
            f"{r['ratio_to_python_start']:6.2f} {bar:>5} {bar_ratio:>6}"
        )
    print(
        f"load {where['load_before']} -> {where['load_after']}; {where['cpu']} "
        f"({where['family']}), {where['usable_cpus']} cores; "
        f"plugins: {', '.join(results['plugins'])}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
