"""The training loop every model shares: data order, steps, logs, checkpoints, exact resume.

Data order: epoch e visits ``default_rng([seed, e, 1]).permutation(n)``; under torchrun process
r takes every world-th item from r. The position saved is (epoch, step in epoch), so a resumed
run continues with exactly the batches, augmentations (seeded per item and epoch) and dropout
masks (torch RNG state) the uninterrupted run would have used. The run folder's layout is in
:mod:`celltool.training.runs`, the checkpoint format in :mod:`celltool.training.checkpoints`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celltool.components import Component
from celltool.console import info, progress_bar
from celltool.errors import CelltoolError, UsageError
from celltool.outputs import check_output
from celltool.training import dist
from celltool.training.api import DataInfo, Trainer
from celltool.training.checkpoints import (
    load_checkpoint,
    restore,
    rng_state,
    save_checkpoint,
    weight_checksum,
)
from celltool.training.logs import LossLog, TensorBoard, write_grid, write_loss_curve
from celltool.training.runs import (
    LATEST,
    RESUMABLE,
    RunDir,
    data_folders,
    read_run,
    write_record,
    write_run_manifest,
)
from celltool.training.runtime import auto_precision, make_context, seed_everything

__all__ = ["LATEST", "epoch_order", "read_run", "train"]


def epoch_order(seed: int, epoch: int, n: int, rank: int = 0, world: int = 1) -> list[int]:
    """The items process ``rank`` visits in ``epoch`` (every process gets the same count)."""
    order = np.random.default_rng([seed, epoch, 1]).permutation(n)
    order = order[: n - n % world] if n >= world else np.resize(order, world)
    return [int(i) for i in order[rank::world]]


def make_loader(dataset: Any, keys: list, config: dict[str, Any]) -> Any:
    from torch.utils.data import DataLoader

    return DataLoader(
        dataset,
        batch_size=int(config["batch_size"]),
        sampler=keys,
        num_workers=int(config.get("workers", 0)),
        pin_memory=torch.cuda.is_available(),
        generator=torch.Generator().manual_seed(int(config["seed"])),  # never the global RNG
        persistent_workers=False,
    )


class Run:
    """One training run in progress: the trainer, its folder, record, log and position."""

    def __init__(self, component: Component, trainer: Trainer, folder: RunDir, record: dict):
        self.component, self.trainer, self.folder, self.record = component, trainer, folder, record
        self.position = {"epoch": 0, "step_in_epoch": 0, "global_step": 0}

    @property
    def path(self) -> Path:
        return self.folder.path

    def log(self) -> LossLog:
        return LossLog(self.path / "logs" / "losses.jsonl")

    def write_status(self, status: str) -> None:
        if self.trainer.ctx.is_main:
            write_record(self.path, self.record)
            write_run_manifest(
                self.path, self.component, self.record, status, self.position["epoch"]
            )

    def checkpoint(self, keep: bool) -> None:
        """Write the latest checkpoint (and a kept copy); the first one publishes the run."""
        trainer, position = self.trainer, self.position
        extra = {}
        if trainer.ctx.distributed:
            rngs = dist.all_equal(rng_state())
            sums = dist.all_equal(weight_checksum(trainer))
            if len(set(sums)) != 1:
                raise CelltoolError(f"processes hold different weights (checksums {sums})")
            extra["rank_checksums"] = sums
        else:
            rngs = [rng_state()]
        if trainer.ctx.is_main:
            folder = self.path / "checkpoints"
            save_checkpoint(folder / LATEST, trainer, position, rngs, extra)
            if keep:
                name = f"epoch_{position['epoch']:04d}.pt"
                save_checkpoint(folder / name, trainer, position, rngs, extra)
        self.folder.publish()
        self.write_status("training")


def train(
    component: Component,
    data: list[Path] | None,
    run: Path,
    config: dict[str, Any],
    *,
    resume: bool = False,
    overwrite: bool = False,
    stop_after_steps: int | None = None,
    reads: list[Path] | None = None,
) -> Path:
    """Train ``component`` on the ``data`` folders into ``run`` (or continue ``run`` when
    ``resume``); ``reads``: other files the run reads (protected from ``run``)."""
    cls = component.load()
    state = None
    if resume:  # the run's own config (its resolved precision included); new --epochs only
        record = read_run(run)
        data = data_folders(record)
        record["config"].update({k: v for k, v in config.items() if k in RESUMABLE})
        config = record["config"]
        latest = Path(run) / "checkpoints" / LATEST
        state = load_checkpoint(latest) if latest.exists() else None
        done = int((state or {}).get("position", {}).get("epoch", 0))
        if state is not None and done >= int(config["epochs"]):
            raise UsageError(
                f"--resume: {run} has trained {done} epochs already; raise --epochs to continue"
            )
        ctx = make_context(config)
    else:  # --precision auto is resolved once, recorded, and kept on resume
        assert data is not None
        data = [Path(d) for d in data]
        config, precision = auto_precision(component, config)
        ctx = make_context(config)
        if ctx.is_main:
            check_output(Path(run), [*data, *(reads or [])], overwrite)
        record = {"model": component.name, "data": [str(d.resolve()) for d in data]}
        record["config"] = config
        record["precision"] = precision
    seed_everything(int(config["seed"]))
    dataset = cls.make_dataset(data, "train", config, True)
    data_info = DataInfo.from_dict(dataset.info)
    record["data_info"] = data_info.as_dict()
    trainer = cls(config, data_info, ctx)
    ctx.adopt(trainer.optimizers.values())
    folder = RunDir(Path(run), resume=resume, main=ctx.is_main)  # after data and model built
    job = Run(component, trainer, folder, record)
    try:
        torch.manual_seed(int(config["seed"]) * 1000 + ctx.rank + 1)  # per-process dropout
        if state is not None:
            job.position = restore(trainer, state, Path(run) / "checkpoints" / LATEST)
        if ctx.is_main:
            job.log().truncate_after(job.position["global_step"])
        job.write_status("training")
        board = TensorBoard(job.path / "logs" / "tensorboard",
                            bool(config.get("tensorboard")) and ctx.is_main)  # fmt: skip
        try:
            _fit(job, dataset, data, board, stop_after_steps)
        finally:
            board.close()
    except BaseException as exc:
        folder.discard()  # before the first checkpoint: the run leaves no folder
        if folder.published:  # after it: the last checkpoint is kept, the status says why
            job.write_status("failed" if isinstance(exc, Exception) else "interrupted")
        raise
    if stop_after_steps is None or job.position["epoch"] >= int(config["epochs"]):
        job.write_status("done")
    if ctx.distributed:
        dist.shutdown()
    return Path(run)


def _fit(
    job: Run, dataset: Any, data: list[Path], board: TensorBoard, stop_after_steps: int | None
) -> None:
    trainer = job.trainer
    ctx, config = trainer.ctx, trainer.config
    epochs, bs = int(config["epochs"]), int(config["batch_size"])
    seed = int(config["seed"])
    n_local = len(epoch_order(seed, 0, len(dataset), ctx.rank, ctx.world_size))
    steps_per_epoch = math.ceil(n_local / bs)
    grid_batch = _grid_batch(trainer, data)
    every_steps = int(config.get("checkpoint_steps") or 0)
    log_every = max(1, int(config.get("log_every", 1)))
    running: dict[str, float] = {}
    t0 = time.time()
    done_steps = 0
    position = job.position
    with progress_bar() as bar:
        task = bar.add_task("train", total=(epochs - position["epoch"]) * steps_per_epoch,
                            status="")  # fmt: skip
        for epoch in range(position["epoch"], epochs):
            keys = epoch_order(seed, epoch, len(dataset), ctx.rank, ctx.world_size)
            start = position["step_in_epoch"] if epoch == position["epoch"] else 0
            loader = make_loader(dataset, [(epoch, i) for i in keys[start * bs :]], config)
            trainer.train_mode(True)
            step_in_epoch = start
            for batch in loader:
                losses = trainer.train_step(ctx.to_device(batch))
                if ctx.scaler is not None:
                    ctx.scaler.update()
                step_in_epoch += 1
                position = {"epoch": epoch, "step_in_epoch": step_in_epoch,
                            "global_step": position["global_step"] + 1}  # fmt: skip
                job.position = position
                _check_finite(losses, position, job)
                for k, v in losses.items():
                    running[k] = v if k not in running else 0.9 * running[k] + 0.1 * v
                if ctx.is_main and position["global_step"] % log_every == 0:
                    job.log().append(_log_record(trainer, losses, position, t0))
                    board.scalars(losses, position["global_step"])
                status = " ".join(f"{k} {v:.3f}" for k, v in running.items())
                bar.update(task, advance=1, status=f"ep {epoch + 1}/{epochs} {status}")
                done_steps += 1
                if every_steps and position["global_step"] % every_steps == 0:
                    if step_in_epoch < steps_per_epoch:
                        job.checkpoint(keep=False)
                if stop_after_steps is not None and done_steps >= stop_after_steps:
                    return
            for sched in trainer.schedulers.values():
                sched.step()
            trainer.end_epoch(epoch + 1)
            position = {"epoch": epoch + 1, "step_in_epoch": 0,
                        "global_step": position["global_step"]}  # fmt: skip
            job.position = position
            if ctx.is_main:
                _write_samples(
                    trainer, grid_batch, job.path / "samples" / f"epoch_{epoch + 1:04d}.png"
                )
                write_loss_curve(job.path / "loss_curve.png", job.log().records())
                if not ctx.extra.get("quiet_epochs") and not bar.console.is_terminal:
                    status = " ".join(f"{k} {v:.3f}" for k, v in running.items())
                    info(f"train: epoch {epoch + 1}/{epochs} {status} ({time.time() - t0:.0f} s)")
            save_every = int(config.get("save_every") or 0)
            keep = (save_every > 0 and (epoch + 1) % save_every == 0) or epoch + 1 == epochs
            job.checkpoint(keep=keep)


def _check_finite(losses: dict[str, float], position: dict[str, int], job: Run) -> None:
    """Stop a diverged run with one line naming the step and the loss."""
    for name, value in losses.items():
        if not math.isfinite(float(value)):
            raise CelltoolError(
                f"training diverged: loss {name} is {value} at step {position['global_step']} "
                f"(epoch {position['epoch'] + 1}); lower --lr or check the data. The last "
                "checkpoint is kept",
                job.folder.target,
            )


def _log_record(
    trainer: Trainer, losses: dict[str, float], position: dict[str, int], t0: float
) -> dict[str, Any]:
    lr = next((float(o.param_groups[0]["lr"]) for o in trainer.optimizers.values()), None)
    return {
        "epoch": position["epoch"] + 1,
        "step": position["global_step"],
        "losses": {k: round(float(v), 6) for k, v in losses.items()},
        "lr": lr,
        "time": round(time.time() - t0, 3),
    }


def _grid_batch(trainer: Trainer, data: list[Path]) -> dict[str, Any] | None:
    """A fixed, un-augmented batch for the sample grids (val split if there is one)."""
    config = trainer.config
    if not trainer.ctx.is_main or int(config.get("samples", 0)) < 1:
        return None
    val = data[0] / "val"
    split = "val" if val.is_dir() and any(val.iterdir()) else "train"
    try:
        dataset = type(trainer).make_dataset(data, split, config, False)
    except CelltoolError:
        dataset = type(trainer).make_dataset(data, "train", config, False)
    n = min(int(config["samples"]), len(dataset))
    from torch.utils.data import default_collate

    return default_collate([dataset[(0, i)] for i in range(n)])


@torch.no_grad()
def _write_samples(trainer: Trainer, batch: dict[str, Any] | None, path: Path) -> None:
    if batch is None:
        return
    trainer.train_mode(False)
    with trainer.ctx.autocast():
        columns = trainer.visuals(trainer.ctx.to_device(batch))
    trainer.train_mode(True)
    write_grid(path, columns)
