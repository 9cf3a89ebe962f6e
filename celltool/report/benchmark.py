"""The section of a ``benchmark`` folder (``celltool benchmark``): ranking table with bootstrap
intervals, ranking and runtime plots, sample images beside the reference and every segmenter's
labels; and the benchmark's own page, ``OUT/index.html``, made of that section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celltool.report import html as h
from celltool.report.context import ReportContext
from celltool.report.results import read_json
from celltool.report.sections import aligned, manifest_block, part_of


def _cell(score: dict[str, Any] | None) -> str:
    """``mean [low, high]`` of a summary record."""
    if not isinstance(score, dict):
        return ""
    mean, low, high = (h.fmt_number(score.get(k)) for k in ("mean", "ci_low", "ci_high"))
    return f"{mean} <span class=muted>[{low}, {high}]</span>"


def ranking_table(record: dict[str, Any], rank_by: str) -> str:
    columns = [c for c in record.get("columns") or [] if isinstance(c, str)]
    shown = [rank_by] + [c for c in columns if c != rank_by]
    header = ["rank", "segmenter", "method", *shown, "SEG all", "DET all", "s / image", "n"]
    rows = []
    for r in record.get("ranking") or []:
        if not isinstance(r, dict):
            continue
        s = r.get("scores") or {}
        ctc, run = r.get("ctc") or {}, r.get("runtime") or {}
        cells = [
            h.esc(r.get("rank")),
            f"<b>{h.esc(r.get('segmenter'))}</b>",
            h.esc(r.get("method")),
        ]
        cells += [_cell(s.get(c)) for c in shown]
        cells += [h.fmt_number(ctc.get("SEG")), h.fmt_number(ctc.get("DET"))]
        cells += [h.fmt_number(run.get("seconds_per_image")), h.esc(r.get("n_images"))]
        rows.append(cells)
    return h.table(header, rows)


def _plots(folder: Path, files: list[str], ctx: ReportContext) -> str:
    """The benchmark's plots: linked in place on its own page, copied into a report."""
    figures = []
    for rel in files:
        path = folder / rel
        if not path.is_file():
            continue
        if ctx.out.resolve() == folder.resolve():
            src = rel
        else:
            src = ctx.write_bytes(path.read_bytes(), path.stem, ".png")
        data = h.link(str(Path(src).with_suffix(".csv")), path.with_suffix(".csv").name)
        figures.append(
            f'<figure class="plot half"><img src="{h.esc(src)}" alt="{h.esc(path.stem)}">'
            f"<figcaption>data: {data}</figcaption></figure>"
        )
    return '<div class="plots">' + "".join(figures) + "</div>" if figures else ""


def benchmark_section(folder: Path, manifest: dict, ctx: ReportContext) -> str:
    facts = manifest.get("facts") or {}
    params = manifest.get("params") or {}
    rank_by = str(facts.get("rank_by", ""))
    record = read_json(folder / "ranking.json")
    out = [
        f"<p>{h.esc(facts.get('n_images', '?'))} images · ranked by <b>{h.esc(rank_by)}</b> · "
        f"mean over images with a {h.esc(params.get('level', 0.95))} bootstrap interval "
        f"({h.esc(params.get('bootstrap', '?'))} resamples, seed {h.esc(manifest.get('seed'))},"
        f" paired across segmenters) · reference: {h.esc(facts.get('reference_from', '?'))}</p>"
    ]
    out.append(ranking_table(record, rank_by) if record else '<p class="muted">no ranking</p>')
    files = [f for f in facts.get("files") or [] if isinstance(f, str) and f.endswith(".png")]
    main = f"plots/ranking_{rank_by.replace('.', '_')}.png"
    files = sorted(files, key=lambda f: (f != main, f == "plots/runtime.png", f))
    out.append(h.details(f"plots ({len(files)})", _plots(folder, files, ctx), open_=True))
    names = [n for n in facts.get("segmenters") or [] if isinstance(n, str)]
    columns: list[tuple[str, Path | None, bool]] = [
        ("image", part_of(folder, manifest, "images"), False),
        ("reference", part_of(folder, manifest, "reference"), True),
    ]
    columns += [(n, _cells(folder, manifest, n), True) for n in names]
    columns = [c for c in columns if c[1] is not None]
    if columns:
        out.append("<h3>samples</h3>" + aligned(ctx, columns))
    settings = params.get("segmenters") or {}
    if isinstance(settings, dict) and settings:
        body = "".join(f"<h3>{h.esc(k)}</h3>{h.kv_table(v)}" for k, v in settings.items()
                       if isinstance(v, dict))  # fmt: skip
        out.append(h.details(f"settings ({len(settings)})", body))
    return "".join(out)


def _cells(folder: Path, manifest: dict, name: str) -> Path | None:
    seg = part_of(folder, manifest, name)
    return seg / "cells" if seg is not None and (seg / "cells").is_dir() else None


def write_page(folder: Path, manifest: dict, samples: int = 4) -> Path:
    """``folder/index.html``: the benchmark section on a page of its own (assets in
    ``folder/assets/``)."""
    from celltool.imageio import atomic_write_bytes

    ctx = ReportContext(folder, folder.parent, samples, {})
    ctx.folder_id = "benchmark"
    title = f"celltool benchmark: {', '.join(map(str, manifest['facts']['segmenters']))}"
    body = f"<h1>{h.esc(title)}</h1>" + manifest_block(folder, manifest, ctx)
    body += benchmark_section(folder, manifest, ctx)
    path = folder / "index.html"
    atomic_write_bytes(path, h.page(title, body).encode())
    return path
