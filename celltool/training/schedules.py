"""Learning-rate schedules shared by the GAN trainers (per-epoch ``LambdaLR``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from celltool.errors import UsageError


def linear_decay(epochs: int, decay_epochs: int) -> Callable[[int], float]:
    """lr multiplier after ``e`` finished epochs: 1 for the first ``epochs - decay_epochs``,
    then linearly down so that the last epoch trains at 1/(decay_epochs+1) of the rate
    (pytorch-CycleGAN-and-pix2pix's ``linear`` policy; cell_data_synthesis uses the same)."""
    constant = epochs - decay_epochs

    def factor(e: int) -> float:
        return 1.0 - max(0, e - constant + 1) / float(decay_epochs + 1)

    return factor


def decay_schedulers(optimizers: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Per-epoch LambdaLR schedulers of :func:`linear_decay` for every optimizer (``epochs``,
    ``n_epochs_decay``: -1 = half of the epochs)."""
    import torch

    epochs = int(config["epochs"])
    n = int(config["n_epochs_decay"])
    decay = n if n >= 0 else epochs // 2
    if decay > epochs:
        raise UsageError(f"--n-epochs-decay {decay} exceeds --epochs {epochs}")
    lam = linear_decay(epochs, decay)
    return {k: torch.optim.lr_scheduler.LambdaLR(opt, lam) for k, opt in optimizers.items()}
