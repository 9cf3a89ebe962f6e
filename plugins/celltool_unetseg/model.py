"""unet-seg as a celltool trainer: a segmentation U-Net trained on images and instance labels;
instances by marker watershed on its predictions (:mod:`celltool_unetseg.targets`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celltool.errors import UsageError
from celltool.imageio import list_images, read_image, write_labels
from celltool.nn.layers import init_weights
from celltool.training.api import Context, DataInfo, GenerateJob, Trainer
from celltool.training.labelled import normalise
from celltool.training.schedules import decay_schedulers
from celltool_unetseg.data import LabelPairsDataset
from celltool_unetseg.net import SegUNet
from celltool_unetseg.targets import instances


class UnetSeg(Trainer):
    defaults = {"epochs": 40, "batch_size": 8, "lr": 1e-3}

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        super().__init__(config, info, ctx)
        c = self.config
        self.mode = str(info.extra.get("targets", c.get("targets", "boundary")))
        net = SegUNet(
            info.in_channels, info.out_channels, int(c["base_filters"]), int(c["depth"]),
            str(c["norm"]),
        )  # fmt: skip
        init_weights(net)
        self.net = self.add_network("net", net)
        self.optimizers["net"] = torch.optim.Adam(self.net.parameters(), lr=float(c["lr"]))
        self.schedulers = decay_schedulers(self.optimizers, c)
        weights = torch.tensor([1.0, 1.0, float(c["boundary_weight"])], device=ctx.device)
        self.class_weights = weights

    @classmethod
    def make_dataset(cls, folders: list[Path], split: str, config: Mapping[str, Any], train: bool):
        return LabelPairsDataset(folders[0], split, config, train)

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Weighted cross-entropy (boundary), or BCE on foreground + MSE on distance."""
        f = torch.nn.functional
        out = out.float()
        if self.mode == "boundary":
            loss = f.cross_entropy(out, target.long(), weight=self.class_weights)
            return loss, {"ce": float(loss.detach())}
        bce = f.binary_cross_entropy_with_logits(out[:, 0], target[:, 0])
        mse = f.mse_loss(torch.sigmoid(out[:, 1]), target[:, 1])
        return bce + mse, {"bce": float(bce.detach()), "mse": float(mse.detach())}

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        opt = self.optimizers["net"]
        opt.zero_grad(set_to_none=True)
        with self.ctx.autocast():
            out = self.net(batch["input"])
        loss, parts = self.loss(out, batch["target"])
        self.ctx.backward(loss)
        self.ctx.step(opt)
        return parts

    def maps(self, logits: torch.Tensor) -> torch.Tensor:
        """Per-pixel maps from logits: class probabilities, or (p_fg, distance)."""
        if self.mode == "boundary":
            return torch.softmax(logits.float(), 1)
        return torch.sigmoid(logits.float())

    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        x = batch["input"]
        pred = self.maps(self.net(x))
        if self.mode == "boundary":
            shown = pred.argmax(1, keepdim=True).float() - 1
            target = batch["target"][:, None].float() - 1  # classes 0, 1, 2 → −1, 0, 1
        else:
            shown, target = pred[:, 1:] * 2 - 1, batch["target"][:, 1:] * 2 - 1
        return [(x.clamp(0, 1) * 2 - 1), shown, target]

    # -- inference ------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, image: np.ndarray, tile: int = 512) -> np.ndarray:
        """Per-pixel maps (C, H, W) of one 2D image of any size (blended tiles)."""
        from celltool.training.tiling import tiled_apply

        if image.ndim != 2 and not (image.ndim == 3 and image.shape[-1] in (3, 4)):
            raise UsageError(f"unet-seg segments 2D images, not shape {image.shape}")
        self.train_mode(False)
        x = torch.from_numpy(normalise(image))[None].to(self.ctx.device)
        factor = self.net.factor

        def run(batch: torch.Tensor) -> torch.Tensor:
            with self.ctx.autocast():
                return self.maps(self.net(batch))

        out = tiled_apply(run, x, tile=tile, overlap=tile // 8, factor=factor, batch_size=4)
        return out.cpu().numpy()

    def segment(self, image: np.ndarray, options: Mapping[str, Any]) -> np.ndarray:
        """Instance labels of one image."""
        maps = self.predict(image, int(options.get("tile", 512)))
        return instances(
            maps,
            self.mode,
            fg_threshold=float(options.get("fg_threshold", 0.5)),
            seed_threshold=float(options.get("seed_threshold", 0.5)),
        )

    def generate(self, job: GenerateJob) -> dict[str, Any]:
        """Instance label maps of the input images (as ``celltool segment --method
        unet-seg``, without its size filters)."""
        from celltool.console import track

        if not job.inputs:
            raise UsageError("unet-seg segments images: give INPUT folder(s) or files")
        files = [p for f in job.inputs for p in (list_images(f) if f.is_dir() else [f])]
        for path in track(files, len(files), "unet-seg"):
            write_labels(job.out / f"{path.stem}.png", self.segment(read_image(path), job.options))
        return {"kind": "labels", "target": "cells", "count": len(files)}
