"""The runtime a run trains or generates in: device, precision, threads, determinism, seeds."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from celltool.errors import UsageError
from celltool.training import dist
from celltool.training.api import Context
from celltool.training.hardware import resolve_precision, warn_slow_bf16


def pick_device(name: str, local_rank: int, world: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: CUDA is not available")
        if name == "cuda":
            name = f"cuda:{local_rank}" if world > 1 else "cuda"
    elif name != "cpu":
        raise UsageError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UsageError(f"--device {name}: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def auto_precision(component: Any, config: dict[str, Any]) -> tuple[dict, dict[str, Any]]:
    """Resolve ``--precision auto`` for a new run of ``component`` (bf16 with the model's fast
    CPU options where the CPU has AVX-512 BF16/AMX; see celltool.training.hardware): the
    config with the choice (fast-path options replace options left at their defaults) and
    the record of the choice (what, why, on which machine)."""
    from celltool.console import warn
    from celltool.training.hardware import cpu_amx, describe
    from celltool.training.runs import full_component

    _, local_rank, world = dist.env_world()
    device = pick_device(str(config.get("device", "auto")), local_rank, world)
    volumes = 3 in component.info.dims
    precision, fast, reason = resolve_precision(
        str(config.get("precision", "auto")), device, component.info.cpu_bf16, volumes
    )
    if precision == "bf16" and volumes and device.type == "cpu" and not cpu_amx():
        warn(
            f"--precision bf16 for {component.name} on a CPU without AMX: bf16 3D "
            "convolution gradients can be wrong here (docs/training.md); auto picks fp32"
        )
    defaults = {p.name: p.default for p in full_component(component).params}
    config = {**config, "precision": precision}
    for key, value in fast.items():
        if key in config and config[key] == defaults.get(key):
            config[key] = value
    record = {"chosen": precision, "from": reason, "options": fast, "hardware": describe(device)}
    return config, record


def make_context(config: Mapping[str, Any]) -> Context:
    rank, local_rank, world = dist.env_world()
    device = pick_device(str(config.get("device", "auto")), local_rank, world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if config.get("threads"):
        torch.set_num_threads(int(config["threads"]))
    if config.get("deterministic", True):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    precision, _, _ = resolve_precision(str(config.get("precision", "auto")), device)
    if precision == "bf16":
        warn_slow_bf16(device)
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
