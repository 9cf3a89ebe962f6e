"""What each plugin family promises: the typed ``info`` of its components and the signature of
its target. One place for every family (docs/plugins.md renders this module's contracts).

A :class:`~celltool.components.Component` carries ``info``, an instance of its family's class
below. A third-party plugin may still pass a plain dict; the registry turns it into the
family's class and refuses unknown keys with one line.

- segmenters, :class:`SegmenterInfo`: ``make(**params) -> segment`` with
  ``segment(image, nuclei=None) -> {"cells": labels, ["nuclei": labels]}``;
- sketchers, :class:`SketcherInfo`: ``make(**params) -> Sketcher`` (:class:`Sketcher`);
- splitters, :class:`SplitterInfo`: ``f(shape, rng, **params) -> [(row, col, h, w), ...]``,
  raising :class:`celltool.errors.InfeasibleError` when the windows cannot be placed;
- simulators, :class:`SimulatorInfo`: ``f(shape, rng, **params) -> {"images": array,
  part: labels, ...}``;
- metrics, a :class:`MetricInfo` subclass (its calling convention): see each subclass;
- trainers, :class:`TrainerInfo`: a :class:`celltool.training.api.Trainer` subclass.

Nothing here imports numpy or torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from celltool.errors import CelltoolError


@dataclass(frozen=True)
class SegmenterInfo:
    """``targets``: the label parts the segmenter returns ("cells" always; "nuclei" optional).
    ``dims``: the image dimensionalities it segments (2 = (Y, X), 3 = (Z, Y, X) stacks)."""

    targets: tuple[str, ...] = ("cells",)
    dims: tuple[int, ...] = (2,)


class SketchItem(Protocol):
    """One item a sketcher sees: the image and its label maps."""

    image: Any  # (Y, X) or (Y, X, C) array as stored
    cells: Any  # instance map, or a binary mask (0/1) when ``binary``
    nuclei: Any  # instance map or None
    binary: bool  # cells is a binary mask (``celltool sketch --masks``)


class Sketcher(Protocol):
    """What a sketcher's ``make(**params)`` returns. ``celltool sketch`` calls, in order:

    1. ``stats(item)`` for every item when ``needs_stats`` (pass 1, in worker processes):
       small picklable statistics of one item (e.g. per-cell mean intensities);
    2. ``fit(all_stats)`` once → a JSON-able ``state`` (e.g. layer bounds) recorded in the
       manifest (``fit([])`` when ``needs_stats`` is false);
    3. ``render(item, state)`` per item (pass 2) → ``(index_map, item_facts)``: a uint8
       class-index map of the image's shape and a small JSON-able dict;
    4. ``classes(state)`` → the class table ``[{"index", "name", "gray"}, ...]``: the gray
       sketch is ``gray[index]``; ``facts(state, item_facts)`` → extra manifest facts.
    """

    needs_stats: bool

    def stats(self, item: SketchItem) -> Any: ...
    def fit(self, stats: Sequence[Any]) -> dict[str, Any]: ...
    def render(self, item: SketchItem, state: Mapping[str, Any]) -> tuple[Any, dict]: ...
    def classes(self, state: Mapping[str, Any]) -> list[dict[str, Any]]: ...
    def facts(self, state: Mapping[str, Any], items: Sequence[dict]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SketcherInfo:
    """``binary_input``: the sketcher also accepts binary cell masks (``--masks``)."""

    binary_input: bool = False


@dataclass(frozen=True)
class SplitterInfo:
    """``samples_param``: the parameter that counts samples per frame (for name widths)."""

    samples_param: str | None = None


@dataclass(frozen=True)
class SimulatorInfo:
    """``parts``: what the target returns ("images" and label parts such as "cells").
    ``dims``: 2 (shape (H, W), written as PNG) or 3 (shape (Z, Y, X), written as TIFF).
    ``frames``: the target returns time-lapses, every part with a leading time axis; each
    item becomes a sequence folder ``part/sim_NNNN/tTTT.png``. The target may also return
    ``"_facts"`` (a dict of JSON-able facts, e.g. voxel_size) and ``"_tracks"`` (a Cell
    Tracking Challenge table ``L B E P`` per row, written as ``tracks/sim_NNNN.txt``).
    ``default_size``: the shape when ``--size`` is not given; None lets the target decide
    (it gets ``shape=None``, e.g. a 3D simulator that takes the shape of its mask)."""

    parts: tuple[str, ...] = ("images",)
    dims: int = 2
    frames: bool = False
    default_size: tuple[int, ...] | None = (512, 512)  # None: the target decides (shape None)


@dataclass(frozen=True)
class MetricInfo:
    """Base of the metric conventions. ``higher_is_better`` sets the table's arrow;
    ``default`` whether ``--metrics default`` includes it."""

    higher_is_better: bool = True
    default: bool = True
    kind: ClassVar[str] = ""
    scope: ClassVar[str] = "pair"  # pair | sequence | distribution


@dataclass(frozen=True)
class ImageMetricInfo(MetricInfo):
    """``f(real, gen, *, data_range, **params) -> float | dict`` per pair of images."""

    kind: ClassVar[str] = "image"


@dataclass(frozen=True)
class VolumeMetricInfo(MetricInfo):
    """``f(real, gen, *, data_range, [real_mask, gen_mask,] **params) -> dict`` per pair of
    (Z, Y, X) stacks; ``needs_masks``: the masks are passed (``--real-labels`` ...)."""

    needs_masks: bool = False
    kind: ClassVar[str] = "volume"


@dataclass(frozen=True)
class SegmentationMetricInfo(MetricInfo):
    """``f(gt_labels, pred_labels, **params) -> float | dict`` per pair of instance maps."""

    kind: ClassVar[str] = "segmentation"


@dataclass(frozen=True)
class SequenceMetricInfo(MetricInfo):
    """``f(real_frames, gen_frames, *, data_range, **params) -> dict`` over whole sequences
    (scalars, plus ``"curves"``: name → list over time)."""

    kind: ClassVar[str] = "sequence"
    scope: ClassVar[str] = "sequence"


@dataclass(frozen=True)
class DistributionMetricInfo(MetricInfo):
    """Compares two sets that need not be paired (e.g. generated masks against real ones).
    The target is an object with ``features(image, **params) -> partial`` (per image, in
    worker processes; small and picklable) and ``compare(real_partials, gen_partials,
    **params) -> dict`` (set-level scores). ``labels``: the inputs are label maps."""

    labels: bool = True
    kind: ClassVar[str] = "distribution"
    scope: ClassVar[str] = "distribution"


METRIC_KINDS: dict[str, type[MetricInfo]] = {
    c.kind: c
    for c in (
        ImageMetricInfo,
        VolumeMetricInfo,
        SegmentationMetricInfo,
        SequenceMetricInfo,
        DistributionMetricInfo,
    )
}


@dataclass(frozen=True)
class TrainerInfo:
    """What a model trains on and how it generates.

    ``inputs``: names of the data folders ``celltool train MODEL`` takes, in order (("DATA",)
    for paired or unconditional models; ("REAL", "SIM") for an unpaired one).
    ``data_kinds``: folder kinds each accepts. ``data``: paired | unpaired | unconditional |
    temporal (documentation, and the data sets the framework offers). ``dims``: 2 and/or 3.
    ``defaults``: model defaults of the framework options (epochs, batch_size, lr).
    ``generate_params``: the options of ``celltool generate RUN`` for this model.
    ``generate_inputs``: generate reads input folders (False: from noise, ``--count``).
    ``cpu_bf16``: the options of the model's measured fast bf16 path on CPUs with AVX-512
    BF16/AMX (e.g. ``{"master_weights": True}``), which ``--precision auto`` applies there
    (for a model with 3 in ``dims``: only with AMX, docs/training.md); None: auto stays fp32
    on CPUs (bf16 not measured faster for this model)."""

    inputs: tuple[str, ...] = ("DATA",)
    data_kinds: tuple[str, ...] = ("pairs", "images")
    data: str = "paired"
    dims: tuple[int, ...] = (2,)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    generate_params: tuple[Any, ...] = ()
    generate_inputs: bool = True
    cpu_bf16: Mapping[str, Any] | None = None


FAMILY_INFO: dict[str, type] = {
    "segmenters": SegmenterInfo,
    "sketchers": SketcherInfo,
    "splitters": SplitterInfo,
    "simulators": SimulatorInfo,
    "metrics": MetricInfo,
    "trainers": TrainerInfo,
}


def typed_info(family: str, info: Any, where: str) -> Any:
    """``info`` as the family's class: instances pass; a dict is converted (for metrics its
    ``kind`` picks the convention); unknown keys are a one-line error naming ``where``."""
    base = FAMILY_INFO.get(family)
    if base is None:  # a family without a contract (none today)
        return info
    if isinstance(info, base):
        return info
    if info is None:
        info = {}
    if not isinstance(info, Mapping):
        raise CelltoolError(f"{where}: info must be a {base.__name__} (or a dict), not {info!r}")
    data = dict(info)
    cls = base
    if family == "metrics":
        kind = data.pop("kind", None)
        if kind not in METRIC_KINDS:
            raise CelltoolError(
                f"{where}: metric kind {kind!r} is not one of {', '.join(METRIC_KINDS)}"
            )
        cls = METRIC_KINDS[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise CelltoolError(
            f"{where}: unknown info key(s) {', '.join(unknown)} for {cls.__name__} "
            f"(its keys: {', '.join(sorted(names)) or 'none'})"
        )
    for key, value in data.items():  # lists from JSON-ish dicts become tuples
        if isinstance(value, list):
            data[key] = tuple(value)
    return cls(**data)
