"""The plots celltool writes: a PNG to look at and, beside it, a CSV of the data it shows.

One function per plot builds a :class:`Plot` (a matplotlib ``Figure`` and the table behind it)
and writes nothing; ``Plot.write(path)`` writes ``path.png`` and ``path.csv`` (same stem). Every
plot has a title, labelled axes with units and the n behind its points.

matplotlib is imported inside the functions (``Figure`` with the Agg canvas, no pyplot and no
global backend switch), so importing this module, and ``celltool --help``, stays fast.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celltool.imageio import atomic_write_bytes

# Units of celltool's built-in metric and curve names (axis labels). "1" = dimensionless.
UNITS = {
    "psnr": "dB",
    "step_psnr": "dB",
    "ssim": "1",
    "step_ssim": "1",
    "mse": "intensity²",
    "mae": "intensity",
    "step_mae": "intensity",
    "gradient_error": "intensity",
    "cross_entropy": "nats",
    "pearson": "1",
    "bhattacharyya": "1",
    "bhattacharyya_distance": "1",
    "iou": "1",
    "lpips": "1",
    "seg": "1",
    "det": "1",
    "ap": "1",
    "ap_at": "1",
    "f1": "1",
    "pq": "1",
    "aji": "1",
    "wasserstein_depth": "1",
    "edge_depth": "normalised edge strength",
    "flow_cosine": "1",
    "flow_cosine_weighted": "1",
    "flow_magnitude": "px/frame",
    "frame_difference": "‖ΔF‖, frames scaled to 0..1",
    "object_count": "objects",
    "coverage": "fraction of pixels",
}
MAX_POINTS = 100_000  # plots refuse more points than this (bounded memory and time)


def unit_of(name: str) -> str:
    """The unit of a metric or curve name (``psnr``, ``ssim.fg_upper``, ``coverage_real``), or
    "" when celltool does not know it."""
    base = name.split(".", 1)[0]
    for suffix in ("_real", "_generated"):
        base = base.removesuffix(suffix)
    return UNITS.get(base, "")


def label(name: str, unit: str | None = None) -> str:
    """Axis label ``name (unit)``; ``(dimensionless)`` for unit "1"; the name alone if unknown."""
    unit = unit_of(name) if unit is None else unit
    if unit == "1":
        return f"{name} (dimensionless)"
    return f"{name} ({unit})" if unit else name


@dataclass
class Plot:
    """A figure and the table of the data it shows (``columns`` and ``rows``)."""

    figure: Any  # matplotlib.figure.Figure
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def write(self, path: str | Path) -> Path:
        """Write ``path.png`` and ``path.csv`` (any suffix of ``path`` is replaced), atomically;
        return the PNG's path."""
        path = Path(path)
        png, table = path.with_suffix(".png"), path.with_suffix(".csv")
        png.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        # RGB, not RGBA: plots are opaque (white background), a third smaller, and read as
        # 3-channel images like every other picture celltool writes
        self.figure.savefig(buf, format="png", dpi=100, pil_kwargs={"optimize": False},
                            metadata={"Software": None})  # fmt: skip
        atomic_write_bytes(png, _rgb_png(buf.getvalue()))
        atomic_write_bytes(table, csv_text(self.columns, self.rows).encode())
        return png


def _rgb_png(data: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV with exact numbers: floats as ``repr`` (they read back to the same float)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    return repr(float(value))


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _integer_ticks(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _floats(values: Iterable[Any], what: str) -> list[float]:
    out = [float(v) for v in values]
    if len(out) > MAX_POINTS:
        raise ValueError(f"{what}: {len(out)} values; plots take at most {MAX_POINTS}")
    return out


def _arrow(higher_is_better: bool | None) -> str:
    return {True: " (↑ better)", False: " (↓ better)"}.get(higher_is_better, "")  # type: ignore[arg-type]


# --- metric distribution -------------------------------------------------------------------------


def metric_distribution(
    values: Sequence[float],
    *,
    metric: str,
    unit: str | None = None,
    names: Sequence[str] | None = None,
    higher_is_better: bool | None = None,
    bins: int = 20,
) -> Plot:
    """Box plot (whiskers at 1.5·IQR, every value as a dot) and histogram of per-pair values.

    Non-finite values are left out of the drawing and counted in the title; the CSV holds
    every value (``pair``, ``metric``), non-finite ones included.
    """
    import numpy as np

    vals = _floats(values, metric)
    names = [str(n) for n in names] if names is not None else [str(i) for i in range(len(vals))]
    if len(names) != len(vals):
        raise ValueError(f"{metric}: {len(names)} names for {len(vals)} values")
    finite = np.array([v for v in vals if math.isfinite(v)], np.float64)
    n, bad = len(finite), len(vals) - len(finite)
    fig = _figure(6.4, 3.2)
    box, hist = fig.subplots(1, 2, width_ratios=(1, 2.2), sharey=True)
    ylabel = label(metric, unit)
    box.set_ylabel(ylabel)
    box.set_xlabel(f"{n} pairs")
    hist.set_xlabel("pairs per bin (count)")
    hist.set_ylabel(ylabel)
    hist.tick_params(labelleft=True)
    extra = f", {bad} non-finite left out" if bad else ""
    if n:
        median = float(np.median(finite))
        box.boxplot(finite, widths=0.5, whis=1.5, showfliers=False, medianprops={"color": "k"})
        spread = np.linspace(-0.12, 0.12, n) if n > 1 else np.zeros(1)
        box.plot(1 + spread, np.sort(finite), "o", ms=3, alpha=0.6, color="tab:blue")
        hist.hist(finite, bins=max(1, min(int(bins), 200)), orientation="horizontal", ec="white")
        box.set_xticks([])
        title = f"{metric}{_arrow(higher_is_better)}: n = {n}, median {median:.4g}{extra}"
    else:
        box.text(0.5, 0.5, "no finite values", ha="center", transform=box.transAxes)
        title = f"{metric}: no finite values (n = 0{extra})"
    fig.suptitle(title)
    return Plot(fig, ["pair", metric], [[a, b] for a, b in zip(names, vals, strict=True)])


# --- training losses ---------------------------------------------------------------------------


def epoch_means(
    records: Sequence[Mapping[str, Any]],
) -> tuple[list[int], list[int], dict[str, list[float]]]:
    """Per-epoch means of every loss in the loss-log records
    ``{"epoch", "step", "losses": {...}, "lr", "time"}``: (epochs, logged steps per epoch,
    {loss: means}); a loss absent or non-finite in an epoch gives NaN there."""
    by_epoch: dict[int, list[Mapping[str, Any]]] = {}
    for record in records:
        by_epoch.setdefault(int(record.get("epoch", 0)), []).append(record)
    epochs = sorted(by_epoch)
    keys = list(dict.fromkeys(k for r in records for k in r.get("losses", {})))
    means: dict[str, list[float]] = {k: [] for k in keys}
    for epoch in epochs:
        for key in keys:
            vals = [float(r["losses"][key]) for r in by_epoch[epoch] if key in r.get("losses", {})]
            vals = [v for v in vals if math.isfinite(v)]
            means[key].append(math.fsum(vals) / len(vals) if vals else math.nan)
    return epochs, [len(by_epoch[e]) for e in epochs], means


def loss_curves(records: Sequence[Mapping[str, Any]], *, title: str = "Training losses") -> Plot:
    """One line per loss over epochs (per-epoch means of the logged steps); log y when every
    mean is positive and they span more than a factor 10."""
    epochs, counts, means = epoch_means(records)
    _floats(counts, "loss log")
    fig = _figure(8.0, 4.0)
    ax = fig.subplots()
    finite = [v for vs in means.values() for v in vs if math.isfinite(v)]
    log = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 10
    marker = "o" if len(epochs) <= 50 else None
    for key, vals in means.items():
        ax.plot(epochs, vals, marker=marker, ms=4, label=key)
    if log:
        ax.set_yscale("log")
    if len(epochs) == 1:
        ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss, per-epoch mean (dimensionless)" + (", log scale" * log))
    _integer_ticks(ax.xaxis)
    if means:
        ax.legend(fontsize="small", ncols=2 if len(means) > 4 else 1)
    else:
        ax.text(0.5, 0.5, "no losses logged", ha="center", transform=ax.transAxes)
    span = f"{min(counts)}–{max(counts)}" if counts and min(counts) != max(counts) else None
    per = span or (str(counts[0]) if counts else "0")
    fig.suptitle(f"{title}: {len(epochs)} epochs, n = {per} logged steps per epoch")
    columns = ["epoch", "n_steps", *means]
    rows = [[e, counts[i], *(means[k][i] for k in means)] for i, e in enumerate(epochs)]
    return Plot(fig, columns, rows)


# --- sequences ---------------------------------------------------------------------------------


def _groups(names: Iterable[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        base = name
        for suffix in ("_real", "_generated"):
            base = base.removesuffix(suffix)
        groups.setdefault(base, []).append(name)
    return groups


def sequence_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    n_sequences: int = 1,
    title: str = "Sequence metrics over time",
) -> Plot:
    """Metrics over the time step, one panel per quantity; ``X_real`` and ``X_generated``
    share a panel (real solid, generated dashed). The CSV is ``t`` plus every curve."""
    if not curves:
        raise ValueError("no curves to plot")
    groups = _groups(curves)
    fig = _figure(8.0, 1.2 + 2.0 * len(groups))
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (base, names) in zip(axes, groups.items(), strict=True):
        for name in names:
            vals = _floats(curves[name], name)
            style = "--" if name.endswith("_generated") else "-"
            ax.plot(range(len(vals)), vals, style, marker="o", ms=3, label=name)
        ax.set_ylabel(label(base), fontsize="small")
        ax.set_xlabel("time step t")
        _integer_ticks(ax.xaxis)
        if len(names) > 1:
            ax.legend(fontsize="x-small")
    seq = "sequence pair" if n_sequences == 1 else "sequence pairs"
    fig.suptitle(f"{title} (n = {n_sequences} {seq} per step)")
    steps = max(len(v) for v in curves.values())
    rows = [[t, *(v[t] if t < len(v) else "" for v in curves.values())] for t in range(steps)]
    return Plot(fig, ["t", *curves], rows)


# --- 3D: score per depth -------------------------------------------------------------------------


def thirds(n: int) -> list[tuple[int, int]]:
    """Upper / middle / lower thirds of ``n`` slices as [start, stop), split at round(n/3)·(1, 2)
    (as the volume metrics split them)."""
    a = round(n / 3)
    return [(0, a), (a, 2 * a), (2 * a, n)]


def depth_curves(
    depth: Sequence[Any],
    series: Mapping[str, Sequence[float]],
    *,
    score: str,
    unit: str | None = None,
    n: int | Sequence[int] | None = None,
    title: str | None = None,
) -> Plot:
    """A score per z-slice (numeric ``depth``; depth thirds shaded) or per depth third (labels
    such as ``upper``, ``middle``, ``lower``), one line per series (e.g. naive vs translated).
    ``n``: stacks (or voxels) behind each point, one number or one per depth."""
    depth = list(depth)
    ns = [n] * len(depth) if isinstance(n, int) or n is None else list(n)
    if len(ns) != len(depth) or any(len(v) != len(depth) for v in series.values()):
        raise ValueError(f"{score}: every series and n need one value per depth ({len(depth)})")
    numeric = all(isinstance(d, (int, float)) and not isinstance(d, bool) for d in depth)
    fig = _figure(7.0, 4.0)
    ax = fig.subplots()
    xs = depth if numeric else list(range(len(depth)))
    for name, vals in series.items():
        ax.plot(xs, _floats(vals, name), marker="o", ms=3, label=name)
    if numeric and len(depth) >= 3:
        names = ("upper", "middle", "lower")
        for i, ((a, b), name) in enumerate(zip(thirds(len(depth)), names, strict=True)):
            if b > a:
                lo, hi = depth[a], depth[b - 1]
                ax.axvspan(lo - 0.5, hi + 0.5, color="0.9" if i == 1 else "0.97", zorder=0)
                ax.text((lo + hi) / 2, 1.0, name, ha="center", va="top", fontsize="small",
                        transform=ax.get_xaxis_transform())  # fmt: skip
    if not numeric:
        ax.set_xticks(xs, [str(d) for d in depth])
    ax.set_xlabel("z slice (0 = top of the stack)" if numeric else "depth third")
    if numeric:
        _integer_ticks(ax.xaxis)
    ax.set_ylabel(label(score, unit))
    ax.legend(fontsize="small")
    counts = {c for c in ns if c is not None}
    per = f", n = {counts.pop()} per point" if len(counts) == 1 else ""
    per = per or (f", n = {min(counts)}–{max(counts)} per point (CSV)" if counts else "")
    fig.suptitle((title or f"{score} per depth") + per)
    columns = ["depth", *series, "n"]
    rows = [[d, *(series[k][i] for k in series), ns[i] if ns[i] is not None else ""]
            for i, d in enumerate(depth)]  # fmt: skip
    return Plot(fig, columns, rows)


# --- benchmark ranking -----------------------------------------------------------------------


@dataclass(frozen=True)
class Rank:
    """One ranked entry: a name, its mean score, the CI bounds and the n behind it."""

    name: str
    mean: float
    low: float
    high: float
    n: int


def bootstrap_ci(
    values: Sequence[float], rng: Any, *, n_boot: int = 2000, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of the finite values and its percentile-bootstrap confidence interval
    (``n_boot`` resamples with replacement drawn from the numpy Generator ``rng``)."""
    import numpy as np

    if not 1 <= n_boot <= 100_000:
        raise ValueError(f"n_boot {n_boot}: expected 1..100000")
    if not 0 < level < 1:
        raise ValueError(f"level {level}: expected a value between 0 and 1")
    v = np.array([x for x in _floats(values, "bootstrap") if math.isfinite(x)], np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(v.mean()), float(low), float(high)


def ranking(
    entries: Sequence[Rank],
    *,
    score: str,
    unit: str | None = None,
    higher_is_better: bool = True,
    level: float = 0.95,
    what: str = "segmenter",
) -> Plot:
    """Entries ranked by mean score (best on top) with confidence-interval error bars and the n
    of each entry written beside its bar."""
    order = sorted(entries, key=lambda e: -e.mean if higher_is_better else e.mean)
    fig = _figure(7.0, 1.4 + 0.45 * max(1, len(order)))
    ax = fig.subplots()
    ys = list(range(len(order)))[::-1]
    for y, e in zip(ys, order, strict=True):
        err = [[max(e.mean - e.low, 0.0)], [max(e.high - e.mean, 0.0)]]
        ax.errorbar([e.mean], [y], xerr=err, fmt="o", capsize=4, color="tab:blue")
        right = e.high if math.isfinite(e.high) else e.mean
        ax.annotate(f"n = {e.n}", (right, y), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize="small")  # fmt: skip
    ax.set_yticks(ys, [e.name for e in order])
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.margins(x=0.25)
    ax.set_xlabel(f"{label(score, unit)}: mean, {level:.0%} bootstrap CI")
    ax.set_ylabel(what)
    fig.suptitle(f"Ranking by {score}{_arrow(higher_is_better)}")
    rows = [[i + 1, e.name, e.mean, e.low, e.high, e.n] for i, e in enumerate(order)]
    return Plot(fig, ["rank", what, score, "ci_low", "ci_high", "n"], rows)
