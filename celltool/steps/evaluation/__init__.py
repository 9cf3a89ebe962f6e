"""``evaluate REAL GENERATED``: metrics of generated images or segmentations.

Pairs files by name (or a pairs CSV), computes the chosen metric plugins per pair, over
sequences, or over the two sets (distribution metrics, unpaired), and writes a ``metrics``
folder: ``pairs.csv`` (one row per pair), ``summary.json`` (mean, std, CV, median, n per
metric), ``plots/<metric>.png`` and, for sequence metrics, ``sequence.csv`` (curves over time).

REAL may be a pairs folder (``celltool split``'s output): its ``split`` (test) real images are
compared with what a model generated from that split's sketches.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celltool.components import Component
from celltool.console import info, warn
from celltool.contracts import SequenceMetricInfo
from celltool.errors import CelltoolError, UsageError
from celltool.executor import ExecutorSpec
from celltool.imageio import list_images, read_image
from celltool.manifest import dumps, make_manifest, part, read_manifest, require_kind
from celltool.outputs import OutputFolder, default_output
from celltool.steps.common import existing, run_each
from celltool.steps.evaluation import compute, output
from celltool.steps.evaluation.pairing import (
    RealImages,
    pair_files,
    read_pairs_csv,
    read_real,
    real_images,
)
from celltool.steps.evaluation.ranges import recorded_bit_depth, resolve_data_range
from celltool.steps.evaluation.selection import choose_metrics, requests_only_labels

ACCEPTED = ("images", "generated", "simulation", "segmentation", "labels", "sequence", "pairs")
LABEL_KINDS = ("labels", "segmentation")


@dataclass
class Inputs:
    """What is compared: REAL's and GENERATED's files and how to read them."""

    real: RealImages
    gen_dir: Path
    label_inputs: bool


def label_folder(folder: Path, target: str) -> Path:
    """The label maps of ``folder``: itself for ``labels``/plain folders, else its part."""
    manifest = read_manifest(folder)
    kind = manifest["kind"] if manifest else "images"
    return folder if kind in ("labels", "images") else part(folder, target)


def find_inputs(real_in: Path, gen_in: Path, metrics: str, target: str, split: str) -> Inputs:
    require_kind(real_in, ACCEPTED)
    gen_kind = (require_kind(gen_in, ACCEPTED) or {"kind": "images"})["kind"]
    label_inputs = gen_kind in LABEL_KINDS or requests_only_labels(metrics)
    if label_inputs:
        real = RealImages(label_folder(real_in, target))
        return Inputs(real, label_folder(gen_in, target), True)
    return Inputs(real_images(real_in, split), part(gen_in, "images"), False)


def evaluate(
    real_in: str | Path,
    gen_in: str | Path,
    out: str | Path | None = None,
    *,
    metrics: str = "default",
    pairs_csv: str | Path | None = None,
    data_range: float | None = None,
    target: str = "cells",
    split: str = "test",
    real_labels: str | Path | None = None,
    generated_labels: str | Path | None = None,
    real_tracks: str | Path | None = None,
    generated_tracks: str | Path | None = None,
    params: dict[str, Any] | None = None,
    overwrite: bool = False,
    spec: ExecutorSpec | None = None,
    table: bool = True,
) -> Path:
    """Evaluate GENERATED against REAL into a ``metrics`` folder (default
    ``GENERATED-evaluate``); return its path."""
    real_in, gen_in = Path(real_in), Path(gen_in)
    src = find_inputs(real_in, gen_in, metrics, target, split)
    real_files = list_images(src.real.folder)
    gen_files = list_images(src.gen_dir)
    sample = read_real(real_files[0], src.real.left_half)
    volumes = sample.ndim == 3 and sample.shape[-1] not in (3, 4)
    chosen = choose_metrics(metrics, src.label_inputs, volumes)
    distribution = tuple(c for c in chosen if compute.is_distribution(c))
    paired = [c for c in chosen if not compute.is_distribution(c)]
    pairs, unpaired = _pairs(src, real_files, gen_files, pairs_csv, need=bool(paired))
    resolved = _resolve_params(chosen, params or {})
    dr, rng_text = None, "not used"
    if not src.label_inputs:
        depths = (src.real.bit_depth or recorded_bit_depth(src.real.folder),
                  recorded_bit_depth(src.gen_dir))  # fmt: skip
        dr, rng_text = resolve_data_range(data_range, depths, sample, src.gen_dir)
        info(f"data range {dr:g} ({rng_text})")
    masks, paired = _masks(paired, metrics, real_in, gen_in, real_labels, generated_labels, target)
    tracks = existing([real_tracks, generated_tracks])
    if len(tracks) == 1:
        raise UsageError("TRA needs both --real-tracks and --generated-tracks")
    reads = existing([pairs_csv, real_labels, generated_labels, *tracks])
    out = Path(out) if out else default_output(gen_in, "evaluate")
    folder = OutputFolder(out, inputs=[real_in, gen_in, *reads], overwrite=overwrite)
    with folder as work:
        summary, extra, rows, files = _compute(
            src, pairs, paired, distribution, resolved, dr, masks, tracks, spec, work,
            real_files, gen_files,
        )  # fmt: skip
        higher = {c.name: bool(c.info.higher_is_better) for c in chosen}
        record = {
            "metrics": summary,
            **extra,
            "higher_is_better": higher,
            "data_range": dr,
            "data_range_from": rng_text,
            "n_pairs": len(pairs),
            "unpaired_generated": [p.name for p in unpaired],
        }
        (work / "summary.json").write_text(dumps(output.json_safe(record)))
        folder.manifest = make_manifest(
            "metrics",
            step="evaluate",
            params={
                "metrics": [c.name for c in chosen],
                **resolved,
                "data_range": dr,
                "target": target if src.label_inputs else None,
                "split": split if src.real.left_half else None,
            },
            inputs=[real_in, gen_in, *reads],
            facts={
                "n_pairs": len(pairs),
                "files": ["summary.json", *files],
                "pairing": "pairs CSV" if pairs_csv else "by name",
            },
        )
    if table:
        output.show_table(summary, higher)
        if "ctc" in extra:
            scores = ", ".join(f"{k} {v:.4f}" for k, v in extra["ctc"].items()
                               if k in ("SEG", "DET", "TRA"))  # fmt: skip
            info(f"CTC over all frames: {scores}")
    return out


def _pairs(
    src: Inputs,
    real_files: list[Path],
    gen_files: list[Path],
    pairs_csv: str | Path | None,
    need: bool,
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    if pairs_csv is not None:
        return read_pairs_csv(Path(pairs_csv), src.real.folder, src.gen_dir), []
    pairs, unpaired = pair_files(real_files, gen_files)
    if need and not pairs:
        raise CelltoolError(
            f"no generated file pairs with a real file in {src.real.folder} by name (see "
            "`celltool evaluate --help`: same stem, or the real stem + '_'/'-'/'.' + suffix; "
            "or --pairs)",
            src.gen_dir,
        )
    if need and unpaired:
        warn(f"{len(unpaired)} generated file(s) have no real partner, e.g. {unpaired[0].name}")
    return pairs, unpaired


def _resolve_params(chosen: list[Component], given: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for c in chosen:
        mine = {k: v for k, v in given.items() if c.param(k) is not None}
        params.update(c.resolve(mine))
    return params


def _masks(
    paired: list[Component],
    spec: str,
    real_in: Path,
    gen_in: Path,
    real_labels: str | Path | None,
    generated_labels: str | Path | None,
    target: str,
) -> tuple[tuple[Path, Path] | None, list[Component]]:
    """Label masks for the metrics that need them (given, or a simulation's label part)."""
    need = [c.name for c in paired if getattr(c.info, "needs_masks", False)]
    if not need:
        return None, paired
    real_kind, gen_kind = (read_manifest(p) or {"kind": "images"} for p in (real_in, gen_in))
    rl = real_labels or (
        label_folder(real_in, target) if real_kind["kind"] == "simulation" else None
    )
    gl = generated_labels or (
        label_folder(gen_in, target) if gen_kind["kind"] == "simulation" else None
    )
    if rl is not None and gl is not None:
        return (Path(rl), Path(gl)), paired
    if "all" in spec.split(","):
        warn(f"skipping {', '.join(need)}: give --real-labels and --generated-labels")
        return None, [c for c in paired if c.name not in need]
    raise UsageError(
        f"{', '.join(need)} needs label masks: give --real-labels and --generated-labels"
    )


def _compute(
    src: Inputs,
    pairs: list[tuple[Path, Path]],
    paired: list[Component],
    distribution: tuple[Component, ...],
    params: dict[str, Any],
    dr: float | None,
    masks: tuple[Path, Path] | None,
    tracks: list[Path],
    spec: ExecutorSpec | None,
    work: Path,
    real_files: list[Path],
    gen_files: list[Path],
) -> tuple[dict[str, Any], dict[str, Any], list[dict], list[str]]:
    """Every metric's values; returns (summary, extra records, rows, files written)."""
    per_pair = tuple(c for c in paired if not isinstance(c.info, SequenceMetricInfo))
    sequence = [c for c in paired if isinstance(c.info, SequenceMetricInfo)]
    ctc = src.label_inputs and any(type(c.info).kind == "segmentation" for c in per_pair)
    rows: list[dict[str, Any]] = []
    files: list[str] = []
    if per_pair:
        job = functools.partial(
            compute.evaluate_pair, metrics=per_pair, params=params, data_range=dr,
            masks=masks, left_half=src.real.left_half, ctc=ctc,
        )  # fmt: skip
        rows = run_each(job, pairs, spec, "evaluate")
    columns = [c for c in dict.fromkeys(k for r in rows for k in r) if not c.startswith("_")]
    metric_cols = [c for c in columns if c not in ("real", "generated")]
    summary = output.summarise(rows, metric_cols)
    extra: dict[str, Any] = {}
    if ctc:
        extra["ctc"] = _ctc(rows, pairs, tracks)
    if sequence:
        values, curves = compute.evaluate_sequence(pairs, sequence, params, dr, src.real.left_half)
        extra["sequence"] = values
        summary.update({k: output.single(v) for k, v in values.items()})
        n = max((len(v) for v in curves.values()), default=0)
        curve_rows = [{"t": t, **{k: v[t] for k, v in curves.items() if t < len(v)}}
                      for t in range(n)]  # fmt: skip
        output.write_csv(work / "sequence.csv", curve_rows, ["t", *curves])
        files.append("sequence.csv")
        if curves:
            from celltool.plots import sequence_curves

            sequence_curves(curves).write(work / "plots" / "sequence")
            files.append("plots/sequence.png")
    if distribution:
        extra["distribution"] = _distribution(
            src, distribution, params, spec, real_files, gen_files
        )
        summary.update({k: output.single(v) for k, v in extra["distribution"].items()})
    if rows:
        output.write_csv(work / "pairs.csv", rows, columns)
        higher = {c.name: bool(c.info.higher_is_better) for c in per_pair}
        output.write_plots(work / "plots", rows, metric_cols, higher)
        files += ["pairs.csv", "plots/"]
    return summary, extra, rows, files


def _ctc(rows: list[dict], pairs: list[tuple[Path, Path]], tracks: list[Path]) -> dict:
    from celltool.ctc import ctc_scores, seg_det_from_counts

    if not tracks:
        return seg_det_from_counts([r["_ctc"] for r in rows])
    return ctc_scores(
        [read_image(r) for r, _ in pairs],
        [read_image(g) for _, g in pairs],
        read_tracks(tracks[0]),
        read_tracks(tracks[1]),
    )


def _distribution(
    src: Inputs,
    metrics: tuple[Component, ...],
    params: dict[str, Any],
    spec: ExecutorSpec | None,
    real_files: list[Path],
    gen_files: list[Path],
) -> dict[str, float]:
    """Distribution metrics: features of every real and every generated file, then compare."""
    real_job = functools.partial(
        compute.features_one, metrics=metrics, params=params, left_half=src.real.left_half
    )
    gen_job = functools.partial(
        compute.features_one, metrics=metrics, params=params, left_half=False
    )
    real = run_each(real_job, real_files, spec, "features (real)")
    gen = run_each(gen_job, gen_files, spec, "features (generated)")
    return compute.compare_sets(metrics, params, real, gen)


def read_tracks(path: Path) -> Any:
    """A CTC track table (``L B E P`` per line)."""
    import numpy as np

    try:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        table = np.array(rows, dtype=np.int64).reshape(-1, 4)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CelltoolError(f"not a CTC track file 'L B E P' per line ({exc})", path) from None
    return table
