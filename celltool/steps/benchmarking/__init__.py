"""``benchmark DATA --segmenters a,b,c``: run several segmenters on labelled images and rank them.

Each entry runs through :func:`celltool.steps.segmentation.segment` into ``OUT/<entry>/`` (a
``segmentation`` folder); its label maps are scored against the reference with the metric
plugins through ``evaluate``'s own per-pair function (so the numbers equal ``celltool
evaluate REFERENCE OUT/<entry>``). Output (kind ``benchmark``):

- ``scores.csv``: one row per entry and image (every metric, the segmenter's seconds);
- ``ranking.csv`` / ``ranking.json``: per entry the mean and a seeded bootstrap interval over
  images of every score, CTC SEG/DET over all images, seconds per image; best first;
- ``plots/ranking_<score>.png`` (+ CSV), ``plots/runtime.png``; ``index.html``, one page;
- ``reference/``: the reference instance maps when they were made from binary masks;
  ``images/``: copies of the scored images when DATA holds images without a reference.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from celltool.console import info
from celltool.errors import UsageError
from celltool.executor import ExecutorSpec
from celltool.imageio import atomic_write_bytes, list_images, read_image
from celltool.manifest import dumps, labels_facts, make_manifest, write_manifest
from celltool.outputs import OutputFolder, default_output
from celltool.steps.benchmarking import scores
from celltool.steps.benchmarking.data import Data, find_data, write_reference
from celltool.steps.benchmarking.entries import Entry, make_entries, read_config

STEP = "benchmark"
MAX_BOOT = 100_000


def benchmark(
    data: str | Path,
    segmenters: str | Sequence[str],
    out: str | Path | None = None,
    *,
    labels: str | Path | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    config_file: str | Path | None = None,
    metrics: str = scores.DEFAULT_METRICS,
    rank_by: str | None = None,
    target: str = "cells",
    split: str = "test",
    label_mode: str = "auto",
    seed: int = 0,
    n_boot: int = 2000,
    level: float = 0.95,
    overwrite: bool = False,
    spec: ExecutorSpec | None = None,
) -> Path:
    """Benchmark ``segmenters`` (``"watershed,watershed:tight,otsu"``; see
    :mod:`celltool.steps.benchmarking.entries` for settings) on DATA into ``out`` (default
    ``DATA-benchmark``); return ``out``."""
    if not 1 <= n_boot <= MAX_BOOT:
        raise UsageError(f"--bootstrap {n_boot}: expected 1..{MAX_BOOT}")
    if not (0.5 <= level < 1 and math.isfinite(level)):
        raise UsageError(f"--level {level}: expected a confidence level in [0.5, 1)")
    data = Path(data)
    entries = make_entries(segmenters, options, read_config(config_file))
    found = find_data(data, labels, target=target, split=split, label_mode=label_mode)
    volumes = read_image(found.label_files[0]).ndim == 3
    chosen, params = scores.choose(metrics, volumes)
    if rank_by is not None and rank_by.split(".")[0] not in {c.name for c in chosen}:
        names = ", ".join(c.name for c in chosen)
        raise UsageError(f"--rank-by {rank_by!r}: not a score of the metrics given ({names})")
    reads = [
        data,
        *([Path(labels)] if labels else []),
        *([Path(config_file)] if config_file else []),
    ]
    reads += [p for e in entries for p in e.inputs()]
    out = Path(out) if out else default_output(data, STEP)
    folder = OutputFolder(out, inputs=reads, overwrite=overwrite)
    with folder as work:
        images, references = _prepare(found, work)
        results: dict[str, dict[str, Any]] = {}
        rows: list[dict[str, Any]] = []
        for entry in entries:
            results[entry.name], entry_rows = _run_entry(
                entry, images, references, chosen, params, spec, seed, n_boot, level, work
            )
            rows += entry_rows
        columns = scores.metric_columns(rows)
        column = scores.rank_column(columns, rank_by)
        higher = {c.name: bool(c.info.higher_is_better) for c in chosen}
        ranked = scores.order(results, column, higher.get(column.split(".")[0], True))
        files = _write_tables(work, results, ranked, rows, columns)
        files += scores.write_plots(work / "plots", results, columns, higher, level)
        facts = {
            "parts": {
                "images": str(images.resolve()) if images != work / "images" else "images",
                "reference": "reference" if found.binary else str(references[0].parent.resolve()),
                **{e.name: e.folder for e in entries},
            },
            "segmenters": [e.name for e in entries],
            "n_images": len(found.image_files),
            "rank_by": column,
            "ranking": ranked,
            "reference_from": "binary masks (connected components)" if found.binary else "labels",
            "files": [*files, "index.html"],
        }
        folder.manifest = make_manifest(
            "benchmark",
            step=STEP,
            params={
                "segmenters": {
                    e.name: {"method": e.method, **e.segment, **e.resolved()} for e in entries
                },  # fmt: skip
                "metrics": [c.name for c in chosen],
                **params,
                "rank_by": column,
                "target": target,
                "split": split,
                "label_mode": label_mode,
                "bootstrap": n_boot,
                "level": level,
            },
            seed=seed,
            inputs=reads,
            facts=facts,
        )
        from celltool.report.benchmark import write_page

        write_page(work, folder.manifest)
    return out


def _prepare(found: Data, work: Path) -> tuple[Path, list[Path]]:
    """The images folder the segmenters run on and the reference label files (made from
    binary masks into ``reference/`` when needed)."""
    images = found.images
    if len(found.image_files) < len(list_images(found.images)):  # segment only what is scored
        images = work / "images"
        images.mkdir()
        for path in found.image_files:
            shutil.copy2(path, images / path.name)
    if not found.binary:
        return images, found.label_files
    references = write_reference(found, work / "reference")
    facts = labels_facts("cells", from_masks=str(found.label_files[0].parent.resolve()))
    write_manifest(
        work / "reference",
        make_manifest("labels", step=STEP, params={"from": "binary masks"}, facts=facts),
    )
    return images, references


def _run_entry(
    entry: Entry,
    images: Path,
    references: list[Path],
    chosen: list[Any],
    params: dict[str, Any],
    spec: ExecutorSpec | None,
    seed: int,
    n_boot: int,
    level: float,
    work: Path,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Segment with one entry, score it; its result record and its rows."""
    import numpy as np

    from celltool.plots import bootstrap_ci
    from celltool.steps.segmentation import segment

    info(f"benchmark: {entry.name} ({entry.method})")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    segment(images, work / entry.folder, method=entry.method, params=entry.params, spec=spec,
            timings=timings, **entry.segment)  # fmt: skip
    wall = time.perf_counter() - start
    predicted = {p.stem: p for p in list_images(work / entry.folder / "cells")}
    pairs = [(ref, predicted[ref.stem]) for ref in references]
    rows = scores.score_pairs(pairs, chosen, params, spec, entry.name)
    for row, (ref, _) in zip(rows, pairs, strict=True):
        row["segmenter"] = entry.name
        row["seconds"] = timings.get(ref.stem, math.nan)
    columns = scores.metric_columns(rows)
    times = [r["seconds"] for r in rows]
    _, t_low, t_high = bootstrap_ci(times, np.random.default_rng(seed), n_boot=n_boot, level=level)
    record = {
        "method": entry.method,
        "params": {**entry.segment, **entry.resolved()},
        "folder": entry.folder,
        "n_images": len(rows),
        "scores": scores.summarise(rows, columns, seed=seed, n_boot=n_boot, level=level),
        "ctc": scores.ctc_overall(rows),
        "runtime": scores.runtime({r["real"]: r["seconds"] for r in rows}, wall),
        "runtime_ci": [t_low, t_high],
    }
    return record, rows


def _write_tables(
    work: Path,
    results: dict[str, dict[str, Any]],
    ranked: list[str],
    rows: list[dict[str, Any]],
    columns: list[str],
) -> list[str]:
    from celltool.plots import csv_text
    from celltool.steps.evaluation.output import json_safe

    head = ["segmenter", "reference", "prediction", *columns, "seconds"]
    table = [[r["segmenter"], r["real"], r["generated"], *(r.get(c, "") for c in columns),
              r["seconds"]] for r in rows]  # fmt: skip
    atomic_write_bytes(work / "scores.csv", csv_text(head, table).encode())
    header, ranking = scores.ranking_rows(results, ranked, columns)
    atomic_write_bytes(work / "ranking.csv", csv_text(header, ranking).encode())
    record = {"ranking": [{"rank": i + 1, "segmenter": n, **results[n]}
                          for i, n in enumerate(ranked)], "columns": columns}  # fmt: skip
    atomic_write_bytes(work / "ranking.json", dumps(json_safe(record)).encode())
    return ["scores.csv", "ranking.csv", "ranking.json"]
