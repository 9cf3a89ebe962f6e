"""GAN losses and the image pool (Shrivastava et al. 2017, as pix2pix/CycleGAN use it)."""

from __future__ import annotations

import torch
from torch import nn

GAN_MODES = ("vanilla", "lsgan", "hinge")


class GANLoss(nn.Module):
    """``vanilla`` (BCE with logits), ``lsgan`` (MSE) or ``hinge``; one mode for D and G."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"unknown gan mode {mode!r}")
        self.mode = mode

    def forward(self, pred: torch.Tensor, real: bool, for_discriminator: bool = True):
        pred = pred.float()
        if self.mode == "hinge":
            if for_discriminator:
                return torch.relu(1 - pred).mean() if real else torch.relu(1 + pred).mean()
            return -pred.mean()
        target = torch.full_like(pred, 1.0 if real else 0.0)
        if self.mode == "lsgan":
            return nn.functional.mse_loss(pred, target)
        return nn.functional.binary_cross_entropy_with_logits(pred, target)


class ImagePool:
    """A buffer of ``size`` earlier generated images: each query returns, per image, either
    the new image (and stores it while the pool fills) or, with probability 0.5 once the pool
    is full, a stored one (swapped for the new one). ``size`` 0 returns the input.

    Randomness comes from ``generator`` (a torch.Generator), so a resumed run continues the
    same stream when the generator's state is checkpointed (:meth:`state_dict`).
    """

    def __init__(self, size: int, generator: torch.Generator | None = None) -> None:
        if size < 0:
            raise ValueError("pool size must be 0 or more")
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = generator or torch.Generator().manual_seed(0)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
                continue
            draws = torch.rand(2, generator=self.generator)
            if draws[0] < 0.5:
                k = int(draws[1] * self.size) % self.size
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"images": [t.cpu() for t in self.images], "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict, device: torch.device | None = None) -> None:
        self.images = [t.to(device) if device else t for t in state["images"]]
        self.generator.set_state(state["rng"])
