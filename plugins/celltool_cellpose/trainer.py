"""Cellpose 3.1 training as a celltool trainer: ``celltool train cellpose PAIRS -o RUN``.

The network is cellpose's own CPnet (nbase 2-32-64-128-256, 3 outputs: flow y, flow x, cell
probability), from scratch or from a cellpose 3 model file (``--pretrained FILE``). Targets are
cellpose's: per item its flows from ``cellpose.dynamics.labels_to_flows`` (computed once and
cached). The loss is cellpose 3.1's (train.py ``_loss_fn_seg``): MSE of the flows against 5×
the target flows, halved, plus BCE-with-logits of the cell probability. AdamW with weight decay
(cellpose's default optimiser) and cellpose's schedule: a linear warm-up over 10 epochs, then
constant, then halvings over the last epochs of long runs.

Differences from cellpose's ``train_seg``, all deliberate: augmentation is a seeded random crop,
one of the 8 square symmetries (flows turned with the image) and an intensity jitter, instead of
``random_rotate_and_resize`` (any rotation and a scale, drawn from numpy's global RNG); images
are not rescaled to a common cell diameter: the model learns at the data's own scale and its
``diam_mean`` and ``diam_labels`` are both set to the training masks' mean diameter, so that
cellpose's ``eval`` (diameter 0) runs at that scale and ``--diameter D`` rescales by
``diam_mean / D`` as usual; the warm-up starts at lr/10, not 0 (cellpose's first epoch does not
learn).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celltool.errors import CelltoolError, UsageError
from celltool.imageio import list_images, read_image, write_labels
from celltool.training.api import Context, DataInfo, GenerateJob, Trainer
from celltool.training.labelled import LabelledDataset

NBASE = (32, 64, 128, 256)  # cellpose 3's CPnet, so that CellposeModel loads the weights
PERCENTILES = (1.0, 99.0)  # cellpose's normalize99, as its eval uses


def flows_target(labels: np.ndarray) -> np.ndarray:
    """(3, H, W) float32: cell probability (0/1), flow y, flow x (cellpose's training labels)."""
    from cellpose import dynamics

    if labels.max() == 0:
        return np.zeros((3, *labels.shape), np.float32)
    flows = dynamics.labels_to_flows([labels.astype(np.int32)], device=torch.device("cpu"))[0]
    return np.ascontiguousarray(flows[1:4], np.float32)


def mean_diameter(labels: list[np.ndarray]) -> float:
    """Mean over images of cellpose's median object diameter (``utils.diameters``)."""
    from cellpose import utils

    values = [utils.diameters(lab)[0] for lab in labels if lab.max() > 0]
    return float(np.mean(values)) if values else 30.0


def cellpose_lr(epochs: int):
    """lr factor after ``e`` finished epochs: warm-up (e+1)/10 for 10 epochs, then 1; the last
    100 (runs > 300 epochs) or 50 (runs > 100) epochs halve every 10 or 5 (cellpose 3.1)."""

    def factor(e: int) -> float:
        if e < 10:
            return (e + 1) / 10
        tail, every = (100, 10) if epochs > 300 else ((50, 5) if epochs > 100 else (0, 1))
        start = epochs - tail
        return 1.0 if not tail or e < start else 0.5 ** (1 + (e - start) // every)

    return factor


class CellposeData(LabelledDataset):
    """Items ``{"input": 2×H×W (image, zeros: cellpose's channels [0, 0]), "target": 3×H×W}``."""

    def __init__(self, folder: Path, split: str, config: Mapping[str, Any], train: bool) -> None:
        super().__init__(folder, split, config, train, flows_target, percentiles=PERCENTILES,
                         vector=(1, 2))  # fmt: skip

    @property
    def info(self) -> dict[str, Any]:
        labels = [self.load(i)[1] for i in range(len(self.items))]
        return {
            "in_channels": 2,
            "out_channels": 3,
            "bit_depth": self.bit_depth,
            "size": [self.crop, self.crop],
            "n_train": len(self.items),
            "diam_labels": mean_diameter(labels),
        }

    def __getitem__(self, key: Any) -> dict[str, Any]:
        item = super().__getitem__(key)
        item["input"] = torch.cat([item["input"], torch.zeros_like(item["input"])])
        return item


class CellposeTrainer(Trainer):
    defaults = {"epochs": 100, "batch_size": 8, "lr": 0.005}

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        from cellpose.resnet_torch import CPnet

        super().__init__(config, info, ctx)
        c = self.config
        net = CPnet([2, *NBASE], 3, sz=3, mkldnn=False, max_pool=True, diam_mean=30.0)
        pretrained = str(c.get("pretrained") or "")
        if pretrained and Path(pretrained).is_file():  # generation loads the run's checkpoint
            net.load_model(pretrained, device=torch.device("cpu"))
        diam = float(info.extra.get("diam_labels", 30.0))
        net.diam_mean.data[:] = diam
        net.diam_labels.data[:] = diam
        self.net = self.add_network("net", net)
        self.optimizers["net"] = torch.optim.AdamW(
            self.net.parameters(), lr=float(c["lr"]), weight_decay=float(c["weight_decay"])
        )
        schedule = cellpose_lr(int(c["epochs"]))
        self.schedulers = {"net": torch.optim.lr_scheduler.LambdaLR(self.optimizers["net"],
                                                                    schedule)}  # fmt: skip

    @classmethod
    def make_dataset(cls, folders: list[Path], split: str, config: Mapping[str, Any], train: bool):
        from celltool_cellpose.adapter import cellpose_major

        if cellpose_major() >= 4:
            raise UsageError("celltool train cellpose trains cellpose 3.x networks (cellpose<4)")
        pretrained = str(config.get("pretrained") or "")
        if pretrained and not Path(pretrained).is_file():
            raise CelltoolError("cellpose model file does not exist (--pretrained)", pretrained)
        return CellposeData(folders[0], split, config, train)

    @staticmethod
    def loss(y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """cellpose 3.1's segmentation loss: MSE(flows, 5·target flows)/2 + BCE(prob)."""
        f = torch.nn.functional
        flows = f.mse_loss(y[:, :2].float(), 5.0 * target[:, 1:]) / 2
        prob = f.binary_cross_entropy_with_logits(y[:, 2].float(), (target[:, 0] > 0.5).float())
        return flows + prob

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        opt = self.optimizers["net"]
        opt.zero_grad(set_to_none=True)
        with self.ctx.autocast():
            y = self.net(batch["input"])[0]
        loss = self.loss(y, batch["target"])
        self.ctx.backward(loss)
        self.ctx.step(opt)
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        x = batch["input"][:, :1]
        y = self.net(batch["input"])[0].float()
        prob = torch.sigmoid(y[:, 2:3]) * 2 - 1
        return [x.clamp(0, 1) * 2 - 1, prob, batch["target"][:, :1] * 2 - 1]

    def cellpose_model(self, gpu: bool = False) -> Any:
        """A ``cellpose.models.CellposeModel`` that runs this trained network."""
        from cellpose import models

        model = models.CellposeModel(gpu=gpu, pretrained_model=False)
        model.net = self.net.to(model.device).eval()
        model.diam_mean = float(self.net.diam_mean.item())
        model.diam_labels = float(self.net.diam_labels.item())
        return model

    def generate(self, job: GenerateJob) -> dict[str, Any]:
        """Instance label maps of the input images (cellpose's eval with this network)."""
        from celltool.console import track

        if not job.inputs:
            raise UsageError("cellpose segments images: give INPUT folder(s) or files")
        model = self.cellpose_model(gpu=job.ctx.device.type == "cuda")
        files = [p for f in job.inputs for p in (list_images(f) if f.is_dir() else [f])]
        for path in track(files, len(files), "cellpose"):
            image = read_image(path).astype(np.float32)
            masks = model.eval(image, channels=[0, 0], diameter=None)[0]
            write_labels(job.out / f"{path.stem}.png", np.asarray(masks))
        return {"kind": "labels", "target": "cells", "count": len(files)}
