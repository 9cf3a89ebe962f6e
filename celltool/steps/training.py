"""``train``: train a model plugin into a run folder (or resume one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from celltool import plugins
from celltool.components import Component
from celltool.errors import UsageError
from celltool.manifest import require_kind
from celltool.outputs import default_output


def train(
    model: str | Component,
    data: Sequence[str | Path] | None,
    out: str | Path | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    resume: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Train ``model`` (a trainer plugin's name) on the ``data`` folders (one per data argument
    of the model: ``("PAIRS",)``, ``("REAL", "SIM")``, ...) into ``out`` (default
    ``DATA-train``), or continue the run ``resume``; return the run folder."""
    from celltool.training.loop import train as fit
    from celltool.training.runs import RESUMABLE, read_run, read_toml, resolve_config

    component = plugins.get("trainers", model) if isinstance(model, str) else model
    options = dict(options or {})
    file_values = read_toml(Path(config_file)) if config_file else {}
    if resume is not None:
        if out is not None and Path(out).resolve() != Path(resume).resolve():
            raise UsageError("--resume continues RUN in place; do not give another -o")
        record = read_run(Path(resume))
        if record["model"] != component.name:
            raise UsageError(f"--resume {resume}: that run trains '{record['model']}'")
        changed = sorted(k for k, v in {**file_values, **options}.items()
                         if k not in RESUMABLE and record["config"].get(k) != v)  # fmt: skip
        if changed:
            raise UsageError(f"--resume: cannot change {', '.join(changed)} of a run")
        config = dict(record["config"])
        config.setdefault("gemm_convs", False)  # runs from before the option: torch's kernels
        config.update({k: v for k, v in {**file_values, **options}.items() if k in RESUMABLE})
        config = resolve_config(component, config)
        return fit(component, None, Path(resume), config, resume=True)
    folders = [Path(d) for d in data or []]
    names = component.info.inputs
    if len(folders) != len(names):
        raise UsageError(
            f"'{component.name}' trains on {len(names)} folder(s) {' '.join(names)}; "
            f"got {len(folders)}"
        )
    config = resolve_config(component, options, file_values)  # options before the data
    for folder in folders:
        require_kind(folder, component.info.data_kinds)
    run = Path(out) if out else default_output(folders[0], "train")
    extra = [Path(config_file)] if config_file else []
    return fit(component, folders, run, config, overwrite=overwrite, reads=extra)
