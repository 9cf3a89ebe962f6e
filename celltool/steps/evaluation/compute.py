"""Computing metrics: per pair of images (in worker processes), over sequences, and over two
unpaired sets. Each metric convention (celltool.contracts) has one caller here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from celltool.components import Component
from celltool.contracts import (
    DistributionMetricInfo,
    ImageMetricInfo,
    SegmentationMetricInfo,
    VolumeMetricInfo,
)
from celltool.errors import CelltoolError, UsageError
from celltool.imageio import read_image
from celltool.steps.evaluation.pairing import read_real
from celltool.steps.evaluation.selection import call_params


def _image(c: Component, real, gen, kw: dict, ctx: Mapping[str, Any]) -> Any:
    return c.load()(real, gen, data_range=ctx["data_range"], **kw)


def _volume(c: Component, real, gen, kw: dict, ctx: Mapping[str, Any]) -> Any:
    if c.info.needs_masks:
        masks = ctx["masks"]
        if masks is None:
            raise UsageError(f"{c.name} needs label masks: give --real-labels/--generated-labels")
        kw = {
            **kw,
            "real_mask": read_image(masks[0] / ctx["pair"][0].name) > 0,
            "gen_mask": read_image(masks[1] / ctx["pair"][1].name) > 0,
        }
    return c.load()(real, gen, data_range=ctx["data_range"], **kw)


def _segmentation(c: Component, real, gen, kw: dict, ctx: Mapping[str, Any]) -> Any:
    return c.load()(real, gen, **kw)


PAIR_CALLERS: dict[type, Callable[..., Any]] = {
    ImageMetricInfo: _image,
    VolumeMetricInfo: _volume,
    SegmentationMetricInfo: _segmentation,
}


def scalars(name: str, value: Any) -> dict[str, float]:
    """A metric's value as named floats (dict results become ``name.key``)."""
    if isinstance(value, dict):
        return {
            f"{name}.{k}" if k != name else k: float(v)
            for k, v in value.items()
            if k != "curves" and isinstance(v, (int, float))
        }
    return {name: float(value)}


def evaluate_pair(
    pair: tuple[Path, Path],
    *,
    metrics: tuple[Component, ...],
    params: dict[str, Any],
    data_range: float | None,
    masks: tuple[Path, Path] | None,
    left_half: bool = False,
    ctc: bool = False,
) -> dict[str, Any]:
    """Read one (real, generated) pair and compute every pair metric; a row of pairs.csv."""
    real_path, gen_path = pair
    real, gen = read_real(real_path, left_half), read_image(gen_path)
    if real.shape != gen.shape:
        raise CelltoolError(
            f"shape {gen.shape} differs from the real image {real_path.name} {real.shape}",
            gen_path,
        )
    if real.dtype != gen.dtype and data_range is not None:
        raise CelltoolError(
            f"dtype {gen.dtype} differs from the real image's {real.dtype} ({real_path.name}); "
            "compare images of the same bit depth",
            gen_path,
        )
    row: dict[str, Any] = {"real": real_path.name, "generated": gen_path.name}
    ctx = {"data_range": data_range, "masks": masks, "pair": pair}
    for c in metrics:
        caller = PAIR_CALLERS[type(c.info)]
        try:
            value = caller(c, real, gen, call_params(c, params), ctx)
        except ValueError as exc:  # a metric that cannot take these inputs
            raise CelltoolError(f"{c.name}: {exc}", gen_path) from None
        row.update(scalars(c.name, value))
    if ctc:
        from celltool.ctc import frame_counts, vertex_ops

        row["_ctc"] = frame_counts(vertex_ops(real, gen))
    return row


def evaluate_sequence(
    pairs: list[tuple[Path, Path]],
    metrics: list[Component],
    params: dict[str, Any],
    data_range: float | None,
    left_half: bool = False,
) -> tuple[dict[str, float], dict[str, list]]:
    """Sequence metrics over the paired frames in order (step k ↔ k-th real frame): scalars
    and curves over time."""
    real = [read_real(r, left_half) for r, _ in pairs]
    gen = [read_image(g) for _, g in pairs]
    values: dict[str, float] = {}
    curves: dict[str, list] = {}
    for c in metrics:
        try:
            result = c.load()(real, gen, data_range=data_range, **call_params(c, params))
        except ValueError as exc:
            raise CelltoolError(f"{c.name}: {exc}", pairs[0][1].parent) from None
        curves.update(result.get("curves", {}))
        values.update({k: float(v) for k, v in result.items() if k != "curves"})
    return values, curves


def features_one(
    path: Path, *, metrics: tuple[Component, ...], params: dict[str, Any], left_half: bool
) -> dict[str, Any]:
    """Per-image features of every distribution metric (one side of the comparison)."""
    image = read_real(path, left_half)
    out = {}
    for c in metrics:
        try:
            out[c.name] = c.load().features(image, **call_params(c, params))
        except ValueError as exc:
            raise CelltoolError(f"{c.name}: {exc}", path) from None
    return out


def compare_sets(
    metrics: tuple[Component, ...],
    params: dict[str, Any],
    real: list[dict[str, Any]],
    gen: list[dict[str, Any]],
) -> dict[str, float]:
    """Set-level scores of the distribution metrics from both sides' features."""
    out: dict[str, float] = {}
    for c in metrics:
        result = c.load().compare(
            [r[c.name] for r in real], [g[c.name] for g in gen], **call_params(c, params)
        )
        out.update(scalars(c.name, result))
    return out


def is_distribution(c: Component) -> bool:
    return isinstance(c.info, DistributionMetricInfo)
