"""The training loop every model shares: config, run folder, checkpoints, exact resume, logs.

RUN folder (kind ``run``)::

    RUN/celltool.json          manifest (params = the fully resolved config, facts.status)
    RUN/config.json            {"model", "data" (list of folders), "config", "data_info"}
    RUN/checkpoints/latest.pt  networks, optimizers, schedulers, grad scaler, RNG states
                               (python, numpy, torch CPU/CUDA, per process), data position
    RUN/checkpoints/epoch_NNNN.pt   every ``save_every`` epochs
    RUN/logs/losses.jsonl      {"epoch", "step", "losses", "lr", "time"} per logged step
    RUN/samples/epoch_NNNN.png input | generated | target, one row per sample
    RUN/loss_curve.png         per-epoch mean losses

Data order: epoch e visits ``default_rng([seed, e, 1]).permutation(n)``; under torchrun process
r takes every world-th item from r. The position saved is (epoch, step in epoch), so a resumed
run continues with exactly the batches, augmentations (seeded per item and epoch) and dropout
masks (torch RNG state) the uninterrupted run would have used.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celltool.components import Component
from celltool.console import info, progress_bar
from celltool.errors import CelltoolError, UsageError
from celltool.imageio import atomic_write_bytes
from celltool.manifest import make_manifest, read_manifest, write_manifest
from celltool.outputs import check_output
from celltool.training import dist
from celltool.training.api import Context, DataInfo, Trainer
from celltool.training.logs import LossLog, TensorBoard, write_grid, write_loss_curve
from celltool.training.options import FRAMEWORK_PARAMS

CONFIG_NAME = "config.json"
LATEST = "latest.pt"


# -- configuration ---------------------------------------------------------------------------
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
    """Defaults < model defaults (``info["defaults"]``) < config file < command line."""
    config = full_component(component).resolve(given, file_values)
    for key, value in component.info.get("defaults", {}).items():
        if key in config and not config[key]:
            config[key] = value
    if config["epochs"] < 1 or config["batch_size"] < 1 or config["lr"] <= 0:
        raise UsageError("--epochs, --batch-size and --lr must be positive")
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
    # accept flat keys or a [train] table
    return dict(data.get("train", data))


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
    return json.loads(path.read_text())


# -- runtime ---------------------------------------------------------------------------------
def make_context(config: Mapping[str, Any]) -> Context:
    rank, local_rank, world = dist.env_world()
    name = str(config.get("device", "auto"))
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: CUDA is not available")
        if name == "cuda":
            name = f"cuda:{local_rank}" if world > 1 else "cuda"
    elif name != "cpu":
        raise UsageError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")
    device = torch.device(name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if config.get("threads"):
        torch.set_num_threads(int(config["threads"]))
    if config.get("deterministic", True):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    precision = str(config.get("precision", "fp32"))
    if precision == "fp16" and device.type != "cuda":
        raise UsageError("--precision fp16 needs a CUDA device; use bf16 on CPU")
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    master = None
    if config.get("master_weights"):
        if precision != "bf16":
            raise UsageError("--master-weights needs --precision bf16")
        from celltool.training.master import MasterWeights

        master = MasterWeights(torch.bfloat16, fused=True)
    ctx = Context(
        device=device,
        precision=precision,
        rank=rank,
        world_size=world,
        seed=int(config.get("seed", 0)),
        scaler=scaler,
        channels_last=bool(config.get("channels_last", False)),
        gemm_convs=bool(config.get("gemm_convs", False)),
        master=master,
    )
    if world > 1:
        dist.init(device)
    return ctx


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def epoch_order(seed: int, epoch: int, n: int, rank: int = 0, world: int = 1) -> list[int]:
    """The items process ``rank`` visits in ``epoch`` (every process gets the same count)."""
    order = np.random.default_rng([seed, epoch, 1]).permutation(n)
    order = order[: n - n % world] if n >= world else np.resize(order, world)
    return [int(i) for i in order[rank::world]]


# -- checkpoints -----------------------------------------------------------------------------
def save_checkpoint(
    path: Path, trainer: Trainer, position: dict[str, int], rngs: list, extra: dict | None = None
) -> None:
    state = {
        **(extra or {}),
        "format": 1,
        "position": position,
        "networks": {k: trainer.ctx.state_dict(v) for k, v in trainer.networks.items()},
        "optimizers": {k: v.state_dict() for k, v in trainer.optimizers.items()},
        "schedulers": {k: v.state_dict() for k, v in trainer.schedulers.items()},
        "scaler": trainer.ctx.scaler.state_dict() if trainer.ctx.scaler is not None else None,
        "rng": rngs,
        "extra": trainer.extra_state(),
        "config": trainer.config,
        "data_info": trainer.info.as_dict(),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise CelltoolError("checkpoint does not exist", path) from None
    except Exception as exc:
        raise CelltoolError(f"unreadable checkpoint ({exc})", path) from None


def load_networks(trainer: Trainer, state: Mapping[str, Any], path: Path) -> None:
    for name, net in trainer.networks.items():
        if name not in state["networks"]:
            raise CelltoolError(f"checkpoint has no network '{name}'", path)
        trainer.ctx.load_state_dict(net, state["networks"][name])


def restore(trainer: Trainer, state: Mapping[str, Any], path: Path) -> dict[str, int]:
    """Load everything a checkpoint holds into a trainer; return the position."""
    load_networks(trainer, state, path)
    for name, opt in trainer.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    for name, sched in trainer.schedulers.items():
        sched.load_state_dict(state["schedulers"][name])
    if trainer.ctx.scaler is not None and state.get("scaler"):
        trainer.ctx.scaler.load_state_dict(state["scaler"])
    for sched in trainer.schedulers.values():
        resync_lr(sched)
    trainer.load_extra_state(state.get("extra") or {})
    rngs = state["rng"]
    set_rng_state(rngs[trainer.ctx.rank] if trainer.ctx.rank < len(rngs) else rngs[0])
    return dict(state["position"])


def resync_lr(sched: Any) -> None:
    """Recompute a LambdaLR's rates from its (possibly new) lambda: a resumed run with more
    --epochs has a new decay schedule, and the optimizer state holds the old rates."""
    if isinstance(sched, torch.optim.lr_scheduler.LambdaLR):
        groups = sched.optimizer.param_groups
        for group, base, lam in zip(groups, sched.base_lrs, sched.lr_lambdas, strict=True):
            group["lr"] = base * lam(sched.last_epoch)


# -- the run ---------------------------------------------------------------------------------
def start_run(run: Path, overwrite: bool) -> None:
    check_output(run, [], overwrite)
    if run.exists() and overwrite:
        import shutil

        shutil.rmtree(run)
    for sub in ("checkpoints", "logs", "samples"):
        (run / sub).mkdir(parents=True, exist_ok=True)


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
            "config": CONFIG_NAME,
            "checkpoints": "checkpoints",
            "losses": "logs/losses.jsonl",
        },
    )
    write_manifest(run, manifest)


def make_loader(dataset: Any, keys: list, config: Mapping[str, Any]) -> Any:
    from torch.utils.data import DataLoader

    workers = int(config.get("workers", 0))
    return DataLoader(
        dataset,
        batch_size=int(config["batch_size"]),
        sampler=keys,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        generator=torch.Generator().manual_seed(int(config["seed"])),  # never the global RNG
        persistent_workers=False,
    )


def train(
    component: Component,
    data: list[Path] | None,
    run: Path,
    config: dict[str, Any],
    *,
    resume: bool = False,
    overwrite: bool = False,
    stop_after_steps: int | None = None,
) -> Path:
    """Train ``component`` on the ``data`` folders into ``run`` (or continue ``run`` when
    ``resume``)."""
    cls = component.load()
    ctx = make_context(config)
    record: dict[str, Any]
    state = None
    if resume:
        record = read_run(run)
        data = data_folders(record)
        record["config"]["epochs"] = config["epochs"]
        config = record["config"]
        latest = run / "checkpoints" / LATEST
        state = load_checkpoint(latest) if latest.exists() else None
    else:
        assert data is not None
        data = [Path(d) for d in data]
        if ctx.is_main:
            check_output(run, data, overwrite)  # refuse now; create it once data loads
        record = {
            "model": component.name,
            "data": [str(d.resolve()) for d in data],
            "config": config,
        }
    seed_everything(int(config["seed"]))
    dataset = cls.make_dataset(data, "train", config, True)
    data_info = DataInfo.from_dict(dataset.info)
    record["data_info"] = data_info.as_dict()
    trainer = cls(config, data_info, ctx)
    ctx.adopt(trainer.optimizers.values())
    if not resume and ctx.is_main:
        start_run(run, overwrite)  # bad data or options leave no run folder behind
    position = {"epoch": 0, "step_in_epoch": 0, "global_step": 0}
    torch.manual_seed(int(config["seed"]) * 1000 + ctx.rank + 1)  # per-process dropout stream
    if state is not None:
        position = restore(trainer, state, run / "checkpoints" / LATEST)
    log = LossLog(run / "logs" / "losses.jsonl")
    if ctx.is_main:
        (run / CONFIG_NAME).write_text(json.dumps(record, indent=2, default=str) + "\n")
        write_run_manifest(run, component, record, "training", position["epoch"])
        log.truncate_after(position["global_step"])
    board = TensorBoard(
        run / "logs" / "tensorboard", bool(config.get("tensorboard")) and ctx.is_main
    )
    try:
        _fit(trainer, dataset, data, run, position, log, board, stop_after_steps)
    finally:
        board.close()
    if ctx.is_main:
        write_run_manifest(run, component, record, "done", int(config["epochs"]))
    if ctx.distributed:
        dist.shutdown()
    return run


def _checkpoint(trainer: Trainer, run: Path, position: dict[str, int], keep: bool) -> None:
    ctx = trainer.ctx
    extra = {}
    if ctx.distributed:
        rngs = dist.all_equal(rng_state())
        sums = dist.all_equal(weight_checksum(trainer))
        if len(set(sums)) != 1:
            raise CelltoolError(f"processes hold different weights (checksums {sums})", run)
        extra["rank_checksums"] = sums
    else:
        rngs = [rng_state()]
    if ctx.is_main:
        folder = run / "checkpoints"
        save_checkpoint(folder / LATEST, trainer, position, rngs, extra)
        if keep:
            name = f"epoch_{position['epoch']:04d}.pt"
            save_checkpoint(folder / name, trainer, position, rngs, extra)


def weight_checksum(trainer: Trainer) -> float:
    """Sum of every parameter and buffer in float64: equal across processes in data parallel
    training (checked at every checkpoint under torchrun)."""
    total = 0.0
    for net in trainer.networks.values():
        for t in list(net.parameters()) + list(net.buffers()):
            total += float(t.detach().double().sum())
    return total


def _fit(
    trainer: Trainer,
    dataset: Any,
    data: list[Path],
    run: Path,
    position: dict[str, int],
    log: LossLog,
    board: TensorBoard,
    stop_after_steps: int | None,
) -> None:
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
    with progress_bar() as bar:
        task = bar.add_task(
            "train", total=(epochs - position["epoch"]) * steps_per_epoch, status=""
        )
        bar.update(task, advance=0)
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
                position = {
                    "epoch": epoch,
                    "step_in_epoch": step_in_epoch,
                    "global_step": position["global_step"] + 1,
                }
                for k, v in losses.items():
                    running[k] = v if k not in running else 0.9 * running[k] + 0.1 * v
                if ctx.is_main and position["global_step"] % log_every == 0:
                    lr = _first_lr(trainer)
                    log.append(
                        {
                            "epoch": epoch + 1,
                            "step": position["global_step"],
                            "losses": {k: round(float(v), 6) for k, v in losses.items()},
                            "lr": lr,
                            "time": round(time.time() - t0, 3),
                        }
                    )
                    board.scalars(losses, position["global_step"])
                status = " ".join(f"{k} {v:.3f}" for k, v in running.items())
                bar.update(task, advance=1, status=f"ep {epoch + 1}/{epochs} {status}")
                done_steps += 1
                if every_steps and position["global_step"] % every_steps == 0:
                    if step_in_epoch < steps_per_epoch:
                        _checkpoint(trainer, run, position, keep=False)
                if stop_after_steps is not None and done_steps >= stop_after_steps:
                    return
            for sched in trainer.schedulers.values():
                sched.step()
            trainer.end_epoch(epoch + 1)
            position = {
                "epoch": epoch + 1,
                "step_in_epoch": 0,
                "global_step": position["global_step"],
            }
            if ctx.is_main:
                _write_samples(trainer, grid_batch, run / "samples" / f"epoch_{epoch + 1:04d}.png")
                write_loss_curve(run / "loss_curve.png", log.records())
                if not ctx.extra.get("quiet_epochs") and not bar.console.is_terminal:
                    status = " ".join(f"{k} {v:.3f}" for k, v in running.items())
                    info(f"train: epoch {epoch + 1}/{epochs} {status} ({time.time() - t0:.0f} s)")
            save_every = int(config.get("save_every") or 0)
            keep = (save_every > 0 and (epoch + 1) % save_every == 0) or epoch + 1 == epochs
            _checkpoint(trainer, run, position, keep=keep)


def _first_lr(trainer: Trainer) -> float | None:
    for opt in trainer.optimizers.values():
        return float(opt.param_groups[0]["lr"])
    return None


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
