"""Run folders: the resolved config, the run record, the manifest, and atomic publication.

RUN folder (kind ``run``)::

    RUN/celltool.json          manifest (params = the fully resolved config, facts.status)
    RUN/config.json            {"model", "data" (list of folders), "config", "data_info"}
    RUN/checkpoints/latest.pt  networks, optimizers, schedulers, grad scaler, RNG states
                               (python, numpy, torch CPU/CUDA, per process), data position
    RUN/checkpoints/epoch_NNNN.pt   every ``save_every`` epochs
    RUN/logs/losses.jsonl      {"epoch", "step", "losses", "lr", "time"} per logged step
    RUN/samples/epoch_NNNN.png input | generated | target, one row per sample
    RUN/loss_curve.png         per-epoch mean losses

A new run trains in a hidden sibling ``.RUN.partial-*`` and is renamed to RUN when its first
checkpoint is written (replacing an old RUN only then, with ``--overwrite``): a run that fails
early leaves no folder and never costs the old run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from celltool.components import Component
from celltool.errors import CelltoolError, UsageError
from celltool.imageio import atomic_write_bytes, default_mode
from celltool.manifest import make_manifest, read_manifest, write_manifest
from celltool.outputs import folder_name
from celltool.training.options import FRAMEWORK_PARAMS, check_sizes

CONFIG_NAME = "config.json"
# Options that may change when a run is resumed (they do not change the numbers).
RESUMABLE = {
    "epochs", "kimg", "device", "workers", "threads", "tensorboard", "log_every", "samples",
}  # fmt: skip
LATEST = "latest.pt"
SUBFOLDERS = ("checkpoints", "logs", "samples")


def full_component(component: Component) -> Component:
    """The component with the framework's options added in front of its own."""
    own = {p.name for p in component.params}
    extra = tuple(p for p in FRAMEWORK_PARAMS if p.name not in own)
    return replace(component, params=extra + tuple(component.params))


def resolve_config(
    component: Component,
    given: Mapping[str, Any] | None = None,
    file_values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Defaults < model defaults (``info.defaults``) < config file < command line. A model
    default applies unless the option was given (an empty value, e.g. ``--epochs 0``, counts
    as not given)."""
    config = full_component(component).resolve(given, file_values)
    explicit = set(given or {}) | set(file_values or {})
    for key, value in dict(component.info.defaults).items():
        if key in config and (key not in explicit or not config[key]):
            config[key] = value
    if config["epochs"] < 1 or config["batch_size"] < 1 or config["lr"] <= 0:
        raise UsageError("--epochs, --batch-size and --lr must be positive")
    check_sizes(config)
    return config


def read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CelltoolError("config file does not exist", path) from None
    except (OSError, ValueError) as exc:
        raise CelltoolError(f"unreadable TOML ({exc})", path) from None
    data = data.get("train", data)  # flat keys or a [train] table
    if not isinstance(data, dict):
        raise CelltoolError("the [train] entry must be a table", path)
    return dict(data)


def data_folders(record: Mapping[str, Any]) -> list[Path]:
    """The data folders of a run record (runs made before multi-folder data hold one string)."""
    data = record["data"]
    return [Path(d) for d in ([data] if isinstance(data, str) else data)]


def read_run(run: Path) -> dict[str, Any]:
    """A run folder's config record; errors name the folder."""
    run = Path(run)
    manifest = read_manifest(run) if run.is_dir() else None
    if manifest is None or manifest.get("kind") != "run":
        raise CelltoolError("is not a training run folder (made by 'celltool train')", run)
    path = run / CONFIG_NAME
    if not path.is_file():
        raise CelltoolError("run has no config.json", run)
    try:
        record = json.loads(path.read_text())
        record["model"], record["config"], record["data"]  # noqa: B018 - required keys
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CelltoolError(
            f"unreadable run record ({exc.__class__.__name__}: {exc})", path
        ) from None
    return record


def write_record(run: Path, record: Mapping[str, Any]) -> None:
    atomic_write_bytes(
        run / CONFIG_NAME, (json.dumps(record, indent=2, default=str) + "\n").encode()
    )


def write_run_manifest(
    run: Path, component: Component, record: Mapping[str, Any], status: str, epochs_done: int
) -> None:
    manifest = make_manifest(
        "run",
        step="train",
        params=record["config"],
        inputs=data_folders(record),
        seed=record["config"]["seed"],
        plugin=component,
        facts={
            "model": record["model"],
            "status": status,
            "epochs_done": epochs_done,
            "data_info": record["data_info"],
            "precision": record.get("precision"),
            "config": CONFIG_NAME,
            "checkpoints": "checkpoints",
            "losses": "logs/losses.jsonl",
        },
    )
    write_manifest(run, manifest)


class RunDir:
    """Where a run writes: the run folder itself (resume), or a hidden partial sibling that
    :meth:`publish` renames to the run folder at the first checkpoint."""

    def __init__(self, target: Path, *, resume: bool = False, main: bool = True) -> None:
        self.target = Path(target)
        self.main = main
        self.published = resume
        self.path = self.target
        if not resume and main:
            name = folder_name(self.target)
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=self.target.parent))
            self.path.chmod(default_mode(directory=True))
            for sub in SUBFOLDERS:
                (self.path / sub).mkdir()

    def publish(self) -> None:
        """Move the partial run into place (an old run with ``--overwrite`` goes only now)."""
        if self.published or not self.main:
            self.published = True
            return
        old = None
        if self.target.exists():
            old = self.target.with_name(f".{folder_name(self.target)}.old-{os.getpid()}")
            os.replace(self.target, old)
        os.replace(self.path, self.target)
        self.path, self.published = self.target, True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        """Remove an unpublished partial run (the run failed before its first checkpoint)."""
        if not self.published and self.main and self.path != self.target:
            shutil.rmtree(self.path, ignore_errors=True)
