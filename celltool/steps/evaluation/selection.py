"""Which metric plugins ``--metrics`` selects for the given inputs."""

from __future__ import annotations

from typing import Any

from celltool import plugins
from celltool.components import Component
from celltool.contracts import (
    METRIC_KINDS,
    DistributionMetricInfo,
    SegmentationMetricInfo,
    SequenceMetricInfo,
    VolumeMetricInfo,
)
from celltool.errors import UsageError

FAMILIES = tuple(METRIC_KINDS)


def kind(c: Component) -> str:
    return type(c.info).kind


def fits(c: Component, label_inputs: bool, volumes: bool) -> bool:
    """Whether a metric applies to these inputs (label maps or images; volumes or 2D)."""
    info = c.info
    if isinstance(info, DistributionMetricInfo):
        return info.labels == label_inputs
    if label_inputs:
        return isinstance(info, SegmentationMetricInfo)
    if isinstance(info, SegmentationMetricInfo):
        return False
    if isinstance(info, VolumeMetricInfo):
        return volumes
    return True


def choose_metrics(spec: str, label_inputs: bool, volumes: bool) -> list[Component]:
    """Metric components from ``--metrics``: names, family names, ``default`` or ``all``."""
    every = plugins.registry().all("metrics")
    by_name = {c.name: c for c in every}
    chosen: list[Component] = []
    for token in [t.strip() for t in spec.split(",") if t.strip()]:
        if token == "default":
            found = [
                c
                for c in every
                if fits(c, label_inputs, volumes)
                and c.info.default
                and not isinstance(c.info, (SequenceMetricInfo, DistributionMetricInfo))
                and not getattr(c.info, "needs_masks", False)
            ]
        elif token == "all":
            found = [c for c in every if fits(c, label_inputs, volumes)]
        elif token in FAMILIES:
            found = [c for c in every if kind(c) == token]
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
    on_labels = [isinstance(c.info, SegmentationMetricInfo) for c in chosen]
    if not label_inputs and any(on_labels) and not all(on_labels):
        raise UsageError("segmentation metrics cannot be mixed with image metrics in one run")
    wrong = [c.name for c in chosen if not fits(c, label_inputs, volumes)]
    if wrong:
        what = "label maps" if label_inputs else ("3D stacks" if volumes else "2D images")
        raise UsageError(f"--metrics: {', '.join(wrong)} do not apply to {what}")
    return chosen


def requests_only_labels(spec: str) -> bool:
    """Whether ``--metrics`` names only metrics of label maps (then inputs are label maps)."""
    by_name = {c.name: c for c in plugins.registry().all("metrics")}
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        return False

    def on_labels(token: str) -> bool:
        if token == "segmentation":
            return True
        c = by_name.get(token)
        if c is None:
            return False
        info = c.info
        return isinstance(info, SegmentationMetricInfo) or (
            isinstance(info, DistributionMetricInfo) and info.labels
        )

    return all(on_labels(t) for t in tokens)


def call_params(component: Component, params: dict[str, Any]) -> dict[str, Any]:
    """The component's resolved parameters (empty strings mean 'not given')."""
    mine = {p.name: params.get(p.name, p.default) for p in component.params}
    return {k: v for k, v in mine.items() if v != ""}
