"""``generate``: run a trained model (a run folder) on input folders, or from noise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from celltool import plugins
from celltool.components import Component, Param
from celltool.errors import CelltoolError, UsageError
from celltool.outputs import default_output

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def model_of(run: str | Path) -> Component:
    """The trainer component of a run folder."""
    from celltool.training.runs import read_run

    return plugins.get("trainers", read_run(Path(run))["model"])


def generate_params(component: Component) -> tuple[Param, ...]:
    """The generate options a model declares."""
    return tuple(component.info.generate_params)


def resolve_options(component: Component, given: Mapping[str, Any]) -> dict[str, Any]:
    """The model's generate options: defaults overridden by ``given`` (checked)."""
    params = {p.name: p for p in generate_params(component)}
    values = {name: p.default for name, p in params.items()}
    for name, value in given.items():
        if name not in params:
            known = ", ".join(p.flag for p in params.values()) or "none"
            raise UsageError(
                f"--{name.replace('_', '-')} is not a generate option of '{component.name}' "
                f"(its options: {known})"
            )
        if value is not None:
            values[name] = params[name].convert(value, owner=component.name)
    return values


def generate(
    run: str | Path,
    inputs: Sequence[str | Path] = (),
    out: str | Path | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    device: str = "auto",
    precision: str = "auto",
    checkpoint: str | Path | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Generate with the model of ``run`` from ``inputs`` (folders or files; what they mean is
    the model's business; none for models that generate from noise) into ``out`` (default
    ``INPUT-generate``, or ``RUN-generate``); return ``out``."""
    from celltool.training.generate import generate_folder

    run = Path(run)
    component = model_of(run)
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}: expected {', '.join(PRECISIONS)}")
    opts = resolve_options(component, options or {})
    folders = [Path(p) for p in inputs]
    for path in folders:
        if not path.exists():
            raise CelltoolError("does not exist", path)
    if folders and not component.info.generate_inputs:
        raise UsageError(f"'{component.name}' generates from noise and takes no INPUT folders")
    out = Path(out) if out else default_output(folders[0] if folders else run, "generate")
    return generate_folder(
        run, folders, out, options=opts, device=device, precision=precision,
        checkpoint=Path(checkpoint) if checkpoint else None, overwrite=overwrite, seed=seed,
    )  # fmt: skip
