"""``celltool generate``: load a trained model from its RUN folder and let it write outputs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celltool import plugins
from celltool.errors import CelltoolError
from celltool.manifest import kind_of, make_manifest, require_kind
from celltool.outputs import OutputFolder
from celltool.training.api import DataInfo, GenerateJob, Trainer
from celltool.training.checkpoints import load_checkpoint, load_networks
from celltool.training.runs import LATEST, read_run
from celltool.training.runtime import make_context


def option_inputs(component: Any, options: Mapping[str, Any]) -> list[Path]:
    """Paths the model's generate options read (``Param(input=True)``, e.g. start sketches)."""
    out: list[Path] = []
    for p in component.info.generate_params:
        value = options.get(p.name)
        if p.input and value:
            out += [Path(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    return out


def load_trainer(
    run: Path,
    *,
    device: str = "auto",
    precision: str = "fp32",
    checkpoint: Path | None = None,
) -> tuple[Trainer, dict[str, Any]]:
    """The trained model of a run, in eval mode, on ``device``; and the run record."""
    record = read_run(run)
    component = plugins.get("trainers", record["model"])
    # generation runs the fp32 weights a checkpoint holds (masters included) at --precision
    config = {**record["config"], "device": device, "precision": precision}
    config["master_weights"] = False
    ctx = make_context({**config, "deterministic": True})
    ctx.world_size, ctx.rank = 1, 0  # generation is one process
    trainer = component.load()(config, DataInfo.from_dict(record["data_info"]), ctx)
    path = Path(checkpoint) if checkpoint else Path(run) / "checkpoints" / LATEST
    load_networks(trainer, load_checkpoint(path), path)
    trainer.train_mode(False)
    return trainer, record


def generate_folder(
    run: Path,
    inputs: list[Path],
    out: Path,
    *,
    options: Mapping[str, Any],
    device: str = "auto",
    precision: str = "fp32",
    checkpoint: Path | None = None,
    overwrite: bool = False,
    seed: int = 0,
) -> Path:
    """Generate with the model of ``run`` from ``inputs`` (folders or files; what they mean is
    the model's business) into ``out`` (published atomically with its manifest)."""
    require_kind(run, ["run"])
    for path in inputs:
        if not Path(path).exists():
            raise CelltoolError("does not exist", path)
        if Path(path).is_dir() and kind_of(path) in ("run", "metrics", "report"):
            raise CelltoolError(f"is a '{kind_of(path)}' folder, not input images", path)
    import torch

    torch.manual_seed(seed)
    trainer, record = load_trainer(run, device=device, precision=precision, checkpoint=checkpoint)
    component = plugins.get("trainers", record["model"])
    extra = option_inputs(component, options)
    reads = [*inputs, *([checkpoint] if checkpoint else []), *extra]
    folder = OutputFolder(out, inputs=[run, *reads], overwrite=overwrite)
    with folder as work:
        job = GenerateJob(
            inputs=list(inputs), out=work, options={**options, "seed": seed}, ctx=trainer.ctx
        )
        facts = dict(trainer.generate(job))
        kind = facts.pop("kind", "generated")
        folder.manifest = make_manifest(
            kind,
            step="generate",
            params={
                **options,
                "precision": trainer.ctx.precision,
                "checkpoint": str(checkpoint or LATEST),
                "input_files": [
                    str(Path(p).resolve()) for p in [*inputs, *extra] if not Path(p).is_dir()
                ],
            },
            inputs=[run, *[p for p in [*inputs, *extra] if Path(p).is_dir()]],
            seed=seed,
            plugin=component,
            facts=facts,
        )
    return out
