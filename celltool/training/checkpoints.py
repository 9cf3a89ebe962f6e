"""Checkpoints: everything a run needs to continue exactly, in tensors and plain data only.

Checkpoints are loaded with ``torch.load(weights_only=True)``: a shared run folder cannot run
code on the machine that loads it. What is not a tensor is stored as plain Python data
(numpy's RNG state as a list of ints). Checkpoints written before this rule held numpy arrays;
those load too (numpy's array reconstruction is allow-listed: it builds data, never calls
code).
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celltool.errors import CelltoolError
from celltool.imageio import atomic_write_bytes
from celltool.training.api import Trainer

FORMAT = 2


def rng_state() -> dict[str, Any]:
    """The global RNG states (python, numpy, torch, CUDA) as tensors and plain data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "kind": str(kind),
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },  # fmt: skip
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy = state["numpy"]
    if isinstance(numpy, Mapping):
        keys = np.asarray(numpy["keys"], dtype=np.uint32)
        numpy = (numpy["kind"], keys, numpy["pos"], numpy["has_gauss"], numpy["cached"])
    np.random.set_state(numpy)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def plain(value: Any) -> Any:
    """A config as plain JSON data (paths → strings, tuples → lists)."""
    return json.loads(json.dumps(value, default=str))


def save_checkpoint(
    path: Path, trainer: Trainer, position: dict[str, int], rngs: list, extra: dict | None = None
) -> None:
    state = {
        **(extra or {}),
        "format": FORMAT,
        "position": position,
        "networks": {k: trainer.ctx.state_dict(v) for k, v in trainer.networks.items()},
        "optimizers": {k: v.state_dict() for k, v in trainer.optimizers.items()},
        "schedulers": {k: v.state_dict() for k, v in trainer.schedulers.items()},
        "scaler": trainer.ctx.scaler.state_dict() if trainer.ctx.scaler is not None else None,
        "rng": rngs,
        "extra": trainer.extra_state(),
        "config": plain(trainer.config),
        "data_info": plain(trainer.info.as_dict()),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _legacy_numpy_globals() -> list[Any]:
    """What checkpoints of celltool <= 0.1.0 need besides tensors: numpy arrays and dtypes
    (their RNG state). Data constructors only."""
    from numpy.core.multiarray import _reconstruct

    dtypes = [type(np.dtype(t)) for t in ("uint32", "float64", "int64")]
    return [_reconstruct, np.ndarray, np.dtype, *dtypes]


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's contents; anything but tensors and plain data is refused (one line)."""
    import pickle
    import warnings

    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(_legacy_numpy_globals()):
            warnings.simplefilter("ignore")  # numpy.core deprecation inside the allow-list
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CelltoolError("checkpoint does not exist", path) from None
    except pickle.UnpicklingError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "not a plain-data checkpoint"
        raise CelltoolError(
            "refused: the checkpoint holds objects other than tensors and plain data, and "
            f"loading it could run code ({reason[:160]})",
            path,
        ) from None
    except Exception as exc:
        raise CelltoolError(f"unreadable checkpoint ({exc.__class__.__name__})", path) from None
    if not isinstance(state, dict) or "networks" not in state:
        raise CelltoolError("not a celltool checkpoint (no networks)", path)
    return state


def load_networks(trainer: Trainer, state: Mapping[str, Any], path: Path) -> None:
    for name, net in trainer.networks.items():
        if name not in state["networks"]:
            raise CelltoolError(f"checkpoint has no network '{name}'", path)
        try:
            trainer.ctx.load_state_dict(net, state["networks"][name])
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise CelltoolError(
                f"network '{name}' does not fit this model ({first})", path
            ) from None


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


def weight_checksum(trainer: Trainer) -> float:
    """Sum of every parameter and buffer in float64: equal across processes in data parallel
    training (checked at every checkpoint under torchrun)."""
    total = 0.0
    for net in trainer.networks.values():
        for t in list(net.parameters()) + list(net.buffers()):
            total += float(t.detach().double().sum())
    return total
