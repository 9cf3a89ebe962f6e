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


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPUs."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


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
    precision = resolve_precision(str(config.get("precision", "fp32")), device)
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
