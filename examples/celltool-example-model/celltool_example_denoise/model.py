"""The denoiser's trainer: data, network, one step, generation. The framework does the rest."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from celltool.errors import CelltoolError
from celltool.imageio import list_images, write_image
from celltool.manifest import part
from celltool.nn.layers import conv
from celltool.training.api import Context, DataInfo, GenerateJob, Trainer
from celltool.training.data import from_unit
from celltool.training.datasets import ImageSetDataset
from celltool.training.tiling import tiled_apply
from celltool.volumes import read_volume, write_volume


def network(dims: int, channels: int, width: int, depth: int) -> nn.Module:
    """Convolutions (3-wide, same size) predicting the noise, subtracted from the input."""
    layers: list[nn.Module] = []
    c_in = channels
    for _ in range(depth - 1):
        layers += [conv(dims)(c_in, width, 3, padding=1), nn.ReLU(inplace=True)]
        c_in = width
    layers.append(conv(dims)(c_in, channels, 3, padding=1))
    return Residual(nn.Sequential(*layers))


class Residual(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x - self.body(x), -1, 1)


class Denoise(Trainer):
    @classmethod
    def make_dataset(cls, folders: list[Path], split: str, config: Mapping[str, Any], train: bool):
        return ImageSetDataset(folders[0], config, train=train)

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        super().__init__(config, info, ctx)
        c = self.config
        self.net = self.add_network(
            "net", network(info.dims, info.in_channels, c["width"], c["depth"])
        )
        self.optimizers["net"] = torch.optim.Adam(self.net.parameters(), lr=c["lr"])

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        clean = batch["image"]
        noisy = clean + float(self.config["noise"]) * torch.randn_like(clean)
        opt = self.optimizers["net"]
        opt.zero_grad(set_to_none=True)
        with self.ctx.autocast():
            out = self.net(noisy)
        loss = nn.functional.l1_loss(out.float(), clean.float())
        self.ctx.backward(loss)
        self.ctx.step(opt)
        return {"L1": float(loss.detach())}

    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        clean = batch["image"]
        noisy = clean + float(self.config["noise"]) * torch.randn_like(clean)
        columns = [noisy, self.net(noisy), clean]
        if self.info.dims == 3:  # the sample grid shows the middle z-slice
            columns = [c[:, :, c.shape[2] // 2] for c in columns]
        return columns

    def generate(self, job: GenerateJob) -> dict[str, Any]:
        """Denoise every image (or stack) of the input folders, any size, with blended tiles."""
        if not job.inputs:
            raise CelltoolError("give INPUT folder(s) of images or stacks to denoise")
        opts, info = job.options, self.info
        tile = tuple(opts.get("tile") or info.extra.get("crop") or info.size)
        overlap = int(opts.get("overlap") or max(1, min(tile) // 4))
        count = 0
        for folder in job.inputs:
            for path in list_images(part(folder, "images")):
                volume = read_volume(path)
                if volume.dims != info.dims:
                    raise CelltoolError(f"is {volume.dims}D; this run denoises {info.dims}D", path)
                x = torch.from_numpy(to_model(volume.channels_first(), info.bit_depth))
                y = tiled_apply(self._forward, x, tile=tile, overlap=overlap,
                                blend=opts["blend"], batch_size=opts["batch_size"])  # fmt: skip
                out = from_unit(y.cpu().numpy(), info.bit_depth)
                out = out[0] if out.shape[0] == 1 else np.moveaxis(out, 0, -1)
                if info.dims == 3:
                    write_volume(job.out / f"{path.stem}.tif", out, voxel_size=volume.voxel_size)
                else:
                    write_image(job.out / f"{path.stem}.png", out)
                count += 1
        return {"count": count, "bit_depth": info.bit_depth, "dims": info.dims, "tile": list(tile)}

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        with self.ctx.autocast():
            return self.net(x.to(self.ctx.device)).float()


def to_model(data: np.ndarray, bit_depth: int) -> np.ndarray:
    from celltool.training.data import to_unit

    return np.ascontiguousarray(to_unit(data, bit_depth), dtype=np.float32)
