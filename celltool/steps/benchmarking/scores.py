"""Scores of a benchmark: per image (the metric plugins exactly as ``evaluate`` computes them),
per segmenter (means with seeded bootstrap intervals over images, CTC SEG/DET over all images as
one set of frames), and the ranking.

Bootstrap: for every segmenter and metric the resamples are drawn from
``numpy.random.default_rng(seed)`` afresh, so all segmenters are resampled with the same image
indices (a paired bootstrap) and the same seed gives the same intervals.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from celltool.components import Component
from celltool.executor import ExecutorSpec
from celltool.steps.common import run_each

DEFAULT_METRICS = "seg,det,ap,ap_at,f1,pq,aji"
RANK_PREFERENCE = ("ap_at.0.5", "ap", "seg")
SUMMARY_KEYS = ("mean", "ci_low", "ci_high", "n")


def choose(spec: str, volumes: bool) -> tuple[list[Component], dict[str, Any]]:
    """The segmentation metrics ``spec`` names (as ``evaluate --metrics``) and their resolved
    default parameters."""
    from celltool.steps.evaluation.selection import choose_metrics

    chosen = choose_metrics(spec, label_inputs=True, volumes=volumes)
    params: dict[str, Any] = {}
    for c in chosen:
        params.update(c.resolve())
    return chosen, params


def score_pairs(
    pairs: list[tuple[Path, Path]],
    metrics: list[Component],
    params: dict[str, Any],
    spec: ExecutorSpec | None,
    what: str,
) -> list[dict[str, Any]]:
    """One row per (reference, prediction) pair: ``evaluate``'s own per-pair function, with
    the CTC counts (``_ctc``) for SEG/DET over all images."""
    from celltool.steps.evaluation.compute import evaluate_pair

    job = functools.partial(
        evaluate_pair, metrics=tuple(metrics), params=params, data_range=None, masks=None,
        ctc=True,
    )  # fmt: skip
    return run_each(job, pairs, spec, f"score ({what})")


def metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    skip = ("real", "generated", "seconds", "segmenter")
    return [c for c in dict.fromkeys(k for r in rows for k in r) if c not in skip and c[0] != "_"]


def summarise(
    rows: list[dict[str, Any]], columns: list[str], *, seed: int, n_boot: int, level: float
) -> dict[str, dict[str, float]]:
    """Mean and bootstrap interval over images of every column (non-finite values left out)."""
    from celltool.plots import bootstrap_ci

    out = {}
    for col in columns:
        values = [float(r.get(col, math.nan)) for r in rows]
        mean, low, high = bootstrap_ci(
            values, np.random.default_rng(seed), n_boot=n_boot, level=level
        )
        n = sum(math.isfinite(v) for v in values)
        out[col] = {"mean": mean, "ci_low": low, "ci_high": high, "n": n}
    return out


def ctc_overall(rows: list[dict[str, Any]]) -> dict[str, float]:
    """CTC SEG and DET over all images as one set of frames (as ``evaluate``'s summary)."""
    from celltool.ctc import seg_det_from_counts

    return seg_det_from_counts([r["_ctc"] for r in rows])


def rank_column(columns: list[str], rank_by: str | None) -> str:
    if rank_by is not None:
        if rank_by not in columns:
            from celltool.errors import UsageError

            raise UsageError(f"--rank-by {rank_by!r}: not a score column ({', '.join(columns)})")
        return rank_by
    return next((c for c in RANK_PREFERENCE if c in columns), columns[0])


def order(results: dict[str, dict[str, Any]], column: str, higher: bool) -> list[str]:
    """Entry names, best first by the mean of ``column`` (NaN last; ties by name)."""

    def key(name: str) -> tuple[bool, float, str]:
        m = results[name]["scores"][column]["mean"]
        bad = not math.isfinite(m)
        return (bad, 0.0 if bad else (-m if higher else m), name)

    return sorted(results, key=key)


def runtime(seconds: dict[str, float], wall: float) -> dict[str, float]:
    """Seconds per image of the segmenter call (mean, median) and the step's wall time."""
    values = np.array(list(seconds.values()), dtype=np.float64)
    return {
        "seconds_per_image": float(values.mean()) if values.size else math.nan,
        "seconds_per_image_median": float(np.median(values)) if values.size else math.nan,
        "wall_seconds": float(wall),
    }


def ranking_rows(
    results: dict[str, dict[str, Any]], names: list[str], columns: list[str]
) -> tuple[list[str], list[list[Any]]]:
    """The ranking table: one row per entry (rank order), mean and interval per column."""
    header = ["rank", "segmenter", "method", "n_images"]
    for col in columns:
        header += [col, f"{col}.ci_low", f"{col}.ci_high"]
    header += ["SEG_all", "DET_all", "seconds_per_image", "wall_seconds"]
    rows = []
    for i, name in enumerate(names, start=1):
        r = results[name]
        row: list[Any] = [i, name, r["method"], r["n_images"]]
        for col in columns:
            s = r["scores"][col]
            row += [s["mean"], s["ci_low"], s["ci_high"]]
        row += [r["ctc"]["SEG"], r["ctc"]["DET"]]
        row += [r["runtime"]["seconds_per_image"], r["runtime"]["wall_seconds"]]
        rows.append(row)
    return header, rows


def write_plots(
    folder: Path,
    results: dict[str, dict[str, Any]],
    columns: list[str],
    higher: dict[str, bool],
    level: float,
) -> list[str]:
    """``plots/ranking_<column>.png`` (+ CSV) per score (F1's precision and recall are in the
    tables only) and ``plots/runtime.png``."""
    from celltool import plots

    written = []
    for col in (c for c in columns if c not in ("f1.precision", "f1.recall")):
        entries = [
            plots.Rank(name, s["mean"], s["ci_low"], s["ci_high"], s["n"])
            for name, s in ((n, r["scores"][col]) for n, r in results.items())
        ]
        plot = plots.ranking(
            entries, score=col, higher_is_better=higher.get(col.split(".")[0], True), level=level
        )
        name = f"ranking_{col.replace('.', '_')}"
        plot.write(folder / name)
        written.append(f"plots/{name}.png")
    times = [
        plots.Rank(n, r["runtime"]["seconds_per_image"], *r["runtime_ci"], r["n_images"])
        for n, r in results.items()
    ]
    plots.ranking(
        times, score="seconds per image", unit="s", higher_is_better=False, level=level
    ).write(folder / "runtime")
    written.append("plots/runtime.png")
    return written
