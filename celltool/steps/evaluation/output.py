"""What ``evaluate`` writes: per-pair CSV, summary statistics and JSON, plots, the table."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from celltool.console import console


def summarise(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, dict[str, float]]:
    """mean, population std, CV (% of |mean|), median, n (finite values) per column."""
    out = {}
    for col in columns:
        v = np.array([r.get(col, np.nan) for r in rows], dtype=np.float64)
        f = v[np.isfinite(v)]
        mean = float(f.mean()) if f.size else math.nan
        std = float(f.std()) if f.size else math.nan
        out[col] = {
            "mean": mean,
            "std": std,
            "cv": 100 * std / abs(mean) if f.size and mean != 0 else math.nan,
            "median": float(np.median(f)) if f.size else math.nan,
            "n": int(f.size),
            "n_nonfinite": int(v.size - f.size),
        }
    return out


def single(value: float) -> dict[str, float]:
    """The summary record of a set-level value (one number, n = 1)."""
    return {"mean": value, "std": 0.0, "cv": math.nan, "median": value, "n": 1, "n_nonfinite": 0}


def json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(r.get(c, "")) for c in columns])


def _cell(v: Any) -> Any:
    return f"{v:.10g}" if isinstance(v, float) else v


def write_plots(
    folder: Path, rows: list[dict[str, Any]], columns: list[str], higher: dict[str, bool]
) -> None:
    """One distribution plot per metric column: ``plots/<metric>.png`` and the values behind
    it, ``plots/<metric>.csv`` (dots of ``metric.key`` columns become ``_``)."""
    from celltool.plots import metric_distribution

    folder.mkdir(exist_ok=True)
    names = [str(r.get("generated", "")) for r in rows]
    for col in columns:
        values = [float(r.get(col, np.nan)) for r in rows]
        plot = metric_distribution(
            values, metric=col, names=names, higher_is_better=higher.get(col.split(".")[0])
        )
        plot.write(folder / col.replace(".", "_"))  # "f1.recall" must not become "f1.png"


def show_table(summary: dict[str, dict[str, float]], higher: dict[str, bool]) -> None:
    from rich.table import Table

    table = Table(title="celltool evaluate", title_justify="left")
    for col in ("metric", "mean", "std", "CV %", "median", "n"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for name, s in summary.items():
        arrow = {True: " ↑", False: " ↓"}.get(higher.get(name.split(".")[0]), "")
        table.add_row(
            name + arrow,
            *(f"{s[k]:.4g}" for k in ("mean", "std", "cv", "median")),
            str(s["n"]),
        )
    console.print(table)
