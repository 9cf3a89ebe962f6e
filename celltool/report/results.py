"""Sections with numbers: metrics (tables and plots), training runs (loss curves, samples),
generated sequences (filmstrips, GIFs) and the ranking of several evaluations of one reference."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from celltool.report import html as h
from celltool.report.context import ReportContext
from celltool.report.sections import files

MAX_ROWS = 100_000  # rows of a CSV the report reads
MAX_DISTRIBUTIONS = 16  # metric plots per metrics folder
SEQUENCES = 3  # sequences shown per sequence folder
STRIP = 12  # frames in a filmstrip
GIF_FRAMES = 40
PREFERRED = ("seg", "ap", "f1", "pq", "aji", "det", "psnr", "ssim", "lpips", "mae")


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        rows = []
        for i, record in enumerate(csv.DictReader(fh)):
            if i >= MAX_ROWS:
                break
            rows.append(record)
    return rows


def number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --- metrics ---------------------------------------------------------------------------------


def summary_table(summary: dict, ctx: ReportContext) -> str:
    metrics = summary.get("metrics") or {}
    better = summary.get("higher_is_better") or {}
    rows = []
    for name, s in metrics.items():
        if not isinstance(s, dict):
            continue
        arrow = {True: "↑", False: "↓"}.get(better.get(name.split(".")[0]), "")
        cells = [f"<code>{h.esc(name)}</code>", arrow]
        cells += [h.fmt_number(s.get(k)) for k in ("mean", "std", "cv", "median", "n")]
        rows.append(cells)
    out = h.table(["metric", "better", "mean", "std", "CV %", "median", "n"], rows)
    extra = {k: summary[k] for k in ("ctc", "sequence") if isinstance(summary.get(k), dict)}
    for key, values in extra.items():
        shown = ", ".join(f"{h.esc(k)} {h.fmt_number(v)}" for k, v in values.items())
        out += f"<p>{h.esc(key.upper() if key == 'ctc' else key)}: {shown}</p>"
    if "data_range" in summary:
        source = ctx.clean(summary.get("data_range_from", ""))
        out += f'<p class="muted">data range {h.fmt_number(summary["data_range"])}'
        out += f" ({h.esc(source)}) · {h.esc(summary.get('n_pairs', '?'))} pairs</p>"
    return out


def metric_columns(rows: list[dict[str, str]]) -> list[str]:
    if not rows:
        return []
    return [c for c in rows[0] if c not in ("real", "generated") and not c.startswith("_")]


def depth_plot(rows: list[dict[str, str]], ctx: ReportContext) -> str:
    """Mean Wasserstein score per depth third and region (columns ``wasserstein_depth.R_T``)."""
    from celltool import plots

    thirds = ("upper", "middle", "lower")
    regions = ("fg", "bg_inside", "bg_outside")
    series, counts = {}, []
    for region in regions:
        means = []
        for third in thirds:
            col = f"wasserstein_depth.{region}_{third}"
            vals = [v for v in (number(r.get(col)) for r in rows) if math.isfinite(v)]
            means.append(sum(vals) / len(vals) if vals else math.nan)
            counts.append(len(vals))
        if any(math.isfinite(m) for m in means):
            series[region] = means
    if not series:
        return ""
    n = [max(counts[i::3]) for i in range(3)]
    plot = plots.depth_curves(
        list(thirds), series, score="wasserstein_depth", n=n,
        title="Wasserstein score per depth third (mean over stacks)",
    )  # fmt: skip
    return ctx.plot(plot, "wasserstein_depth_thirds")


def metrics_section(folder: Path, manifest: dict, ctx: ReportContext) -> str:
    from celltool import plots

    summary = read_json(folder / "summary.json")
    out = [summary_table(summary, ctx)] if summary else ['<p class="muted">no summary.json</p>']
    rows = read_csv(folder / "pairs.csv")
    better = summary.get("higher_is_better") or {}
    figures = []
    names = [r.get("generated") or r.get("real") or str(i) for i, r in enumerate(rows)]
    for col in [c for c in metric_columns(rows) if "." not in c][:MAX_DISTRIBUTIONS]:
        values = [number(r.get(col)) for r in rows]
        plot = plots.metric_distribution(
            values, metric=col, names=names, higher_is_better=better.get(col)
        )
        figures.append(ctx.plot(plot, col, half=True))
    if any(c.startswith("wasserstein_depth.") for c in metric_columns(rows)):
        figures.append(depth_plot(rows, ctx))
    seq = read_csv(folder / "sequence.csv")
    if seq:
        curves = {k: [number(r.get(k)) for r in seq] for k in seq[0] if k != "t"}
        if curves:
            figures.append(ctx.plot(plots.sequence_curves(curves), "sequence"))
    if figures:
        shown = '<div class="plots">' + "".join(figures) + "</div>"
        out.append(h.details(f"plots ({len(figures)})", shown, open_=True))
    return "".join(out)


# --- runs ----------------------------------------------------------------------------------------


def run_section(folder: Path, manifest: dict, ctx: ReportContext) -> str:
    from celltool import plots
    from celltool.training.logs import LossLog

    facts = manifest.get("facts") or {}
    keys = ("model", "status", "epochs_done")
    out = ["<p>" + " · ".join(f"{k} <b>{h.esc(facts[k])}</b>" for k in keys if k in facts) + "</p>"]
    log = folder / str(facts.get("losses") or "logs/losses.jsonl")
    records = LossLog(log).records() if log.is_file() else []
    if records:
        out.append(ctx.plot(plots.loss_curves(records), "losses"))
    else:
        out.append('<p class="muted">no loss log</p>')
    grids = files(folder / "samples")
    if grids:
        last = grids[-1]
        caption = f"{last.name}: the latest sample grid of {len(grids)}"
        out.append(h.row([_grid(ctx, last, caption)]))
    return "".join(out)


def _grid(ctx: ReportContext, path: Path, caption: str) -> str:
    from celltool.errors import CelltoolError
    from celltool.imageio import read_image

    try:
        image = read_image(path)
    except CelltoolError as exc:
        return h.warning(exc.message)
    return ctx.image(image, caption, max_side=512)


# --- sequences -----------------------------------------------------------------------------------


def sequence_names(paths: list[Path]) -> dict[str, list[Path]]:
    """Frames grouped by sequence: ``<sequence>_stepNNNN`` names (the dual model's)."""
    groups: dict[str, list[Path]] = {}
    for path in paths:
        name = path.stem.rsplit("_step", 1)[0] if "_step" in path.stem else ""
        groups.setdefault(name, []).append(path)
    return groups


def sequence_section(folder: Path, manifest: dict, ctx: ReportContext) -> str:
    from celltool.errors import CelltoolError
    from celltool.imageio import read_image, write_image
    from celltool.report.images import evenly, filmstrip, gif_bytes

    parts = (manifest.get("facts") or {}).get("parts") or {"images": "images"}
    frames_dir = folder / str(parts.get("images", "images"))
    sketches_dir = folder / str(parts.get("sketches", "sketches"))
    groups = sequence_names(files(frames_dir))
    sketch_groups = sequence_names(files(sketches_dir))
    out = [f'<p class="muted">{len(groups)} sequence(s)</p>']
    for name, paths in list(groups.items())[:SEQUENCES]:
        try:
            frames = [read_image(p) for p in paths[:GIF_FRAMES]]
        except CelltoolError as exc:
            out.append(h.warning(exc.message))
            continue
        out.append(f"<h3>sequence {h.esc(name or '(unnamed)')}: {len(paths)} frames</h3>")
        strip = [frames[i] for i in evenly(len(frames), STRIP)]
        shown = []
        gif = gif_bytes(frames) if all(f.ndim == 2 for f in frames) else None
        if gif is not None:
            src = ctx.write_bytes(gif, f"{name}-animation", ".gif")
            shown.append(h.figure(src, f"animation, {len(frames)} frames at 4 per second"))
        path, rel = ctx.asset(f"{name}-filmstrip", ".png")
        write_image(path, filmstrip(strip))
        caption = f"filmstrip: {len(strip)} of {len(paths)} frames"
        shown.append(h.figure(rel, caption, cls="wide"))
        sketches = sketch_groups.get(name, [])
        if sketches:
            pick = [sketches[i] for i in evenly(len(sketches), STRIP)]
            path, rel = ctx.asset(f"{name}-sketches", ".png")
            write_image(path, filmstrip([read_image(p) for p in pick]))
            shown.append(h.figure(rel, "sketches (filmstrip)", cls="wide"))
        out.append("".join(f"<div>{s}</div>" for s in shown))
    return "".join(out)


# --- several evaluations of one reference ----------------------------------------------------


def comparison(entries: list[Any], ctx: ReportContext) -> str:
    """Rankings (mean with 95 % bootstrap CI over pairs, seed 0) of metrics folders that share
    their reference (first input), for up to three metrics they all have."""
    import numpy as np

    from celltool import plots

    groups: dict[str, list[Any]] = {}
    for e in entries:
        inputs = (e.manifest or {}).get("inputs") or []
        if e.kind == "metrics" and len(inputs) >= 2:
            groups.setdefault(str(Path(inputs[0]["path"]).resolve()), []).append(e)
    out = []
    for reference, group in groups.items():
        if len(group) < 2:
            continue
        tables = {e.id: read_csv(e.path / "pairs.csv") for e in group}
        common = set.intersection(*(set(metric_columns(t)) for t in tables.values()))
        chosen = [m for m in PREFERRED if m in common][:3]
        if not chosen:
            continue
        out.append(f"<h3>against {ctx.folder_link(reference)}</h3>")
        out.append('<div class="plots">')
        better = read_json(group[0].path / "summary.json").get("higher_is_better") or {}
        for metric in chosen:
            ranks = []
            for e in group:
                values = [number(r.get(metric)) for r in tables[e.id]]
                rng = np.random.default_rng(0)
                mean, lo, hi = plots.bootstrap_ci(values, rng)
                n = sum(math.isfinite(v) for v in values)
                ranks.append(plots.Rank(_entry_name(e, ctx), mean, lo, hi, n))
            plot = plots.ranking(
                ranks, score=metric, higher_is_better=better.get(metric, True), what="evaluated"
            )
            out.append(ctx.plot(plot, f"ranking-{metric}", half=True))
        out.append("</div>")
    return "".join(out)


def _entry_name(entry: Any, ctx: ReportContext) -> str:
    from celltool.manifest import read_manifest

    evaluated = Path(entry.manifest["inputs"][1]["path"])
    try:
        record = read_manifest(evaluated) if evaluated.is_dir() else None
    except Exception:
        record = None
    plugin = ((record or {}).get("plugin") or {}).get("name")
    shown = ctx.show_path(evaluated)
    return f"{plugin} ({shown})" if plugin else shown
