"""pix2pixHD as a celltool trainer: label maps (one-hot + edge map) → image.

One step (as the original): G makes the fake; the multi-scale discriminator scores (input, fake)
and (input, real); G's loss = LSGAN + λ·feature matching + λ·VGG perceptual loss, D's loss =
½(fake + real); G steps, then D, both from the same discriminator pass.

``--netG local`` trains coarse to fine in one run: the global generator alone on half-resolution
crops for ``niter_global`` epochs (the original trains it as a separate run first), then the
local enhancer(s) alone with the global generator fixed for ``niter_fix_global`` epochs (the
original's option of that name), then everything jointly. The stage follows from the epoch
(the schedulers' epoch count, so a resumed run continues in its stage).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from celltool.errors import CelltoolError, UsageError
from celltool.imageio import write_image
from celltool.nn.layers import init_weights
from celltool.nn.losses import GANLoss
from celltool.training.api import Context, DataInfo, GenerateJob, Trainer, frozen
from celltool.training.data import from_unit
from celltool.training.schedules import decay_schedulers
from celltool.training.tiling import tiled_apply
from celltool_pix2pixhd.data import LabelPairsDataset
from celltool_pix2pixhd.networks import (
    GlobalGenerator,
    LocalEnhancer,
    MultiscaleDiscriminator,
    avg_down,
    feature_matching_loss,
)


def stages(config: Mapping[str, Any]) -> tuple[int, int]:
    """(epochs of the global stage, epochs of the enhancer-only stage); (0, 0) for global."""
    if config["netG"] != "local":
        return 0, 0
    epochs = int(config["epochs"])
    n_global = int(config["niter_global"])
    n_fix = int(config["niter_fix_global"])
    n_global = epochs // 4 if n_global < 0 else n_global
    n_fix = epochs // 10 if n_fix < 0 else n_fix
    return n_global, n_fix


class Pix2PixHD(Trainer):
    defaults = {"epochs": 200, "batch_size": 1, "lr": 2e-4}

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        super().__init__(config, info, ctx)
        c = self.config
        if c["netG"] == "local":
            gen: nn.Module = LocalEnhancer(
                info.in_channels, info.out_channels, c["ngf"], c["n_downsample_global"],
                c["n_blocks_global"], c["n_local_enhancers"], c["n_blocks_local"], c["norm"],
            )  # fmt: skip
        else:
            gen = GlobalGenerator(
                info.in_channels, info.out_channels, c["ngf"], c["n_downsample_global"],
                c["n_blocks_global"], c["norm"],
            )  # fmt: skip
        self.factor = int(gen.factor)
        self._check_crop(int(c["crop_size"]))
        disc = MultiscaleDiscriminator(
            info.in_channels + info.out_channels, c["ndf"], c["n_layers_D"], c["num_D"], c["norm"]
        )
        init_weights(gen)
        init_weights(disc)
        self.G = self.add_network("G", gen)
        self.D = self.add_network("D", disc)
        betas = (c["beta1"], 0.999)
        self.optimizers["G"] = torch.optim.Adam(self.G.parameters(), lr=c["lr"], betas=betas)
        self.optimizers["D"] = torch.optim.Adam(self.D.parameters(), lr=c["lr"], betas=betas)
        self.schedulers = decay_schedulers(self.optimizers, c)
        self.gan = GANLoss(c["gan_mode"])
        self.lambda_feat = float(c["lambda_feat"])
        self.n_global, self.n_fix = stages(c)
        self.down = avg_down()
        self.vgg: nn.Module | None = None  # built at the first step (generate needs none)

    def perceptual(self) -> nn.Module | None:
        """The frozen VGG16 loss (None with --no-vgg-loss), loaded once, on the device."""
        if self.vgg is None and not self.config["no_vgg_loss"]:
            from celltool.nn.perceptual import VGGPerceptualLoss

            self.vgg = VGGPerceptualLoss(self.config.get("vgg_weights") or None)
            self.vgg = self.vgg.to(self.ctx.device)
        return self.vgg

    def _check_crop(self, crop: int) -> None:
        need = 2 * self.factor * (2 if self.config["netG"] == "local" else 1)
        if crop % self.factor or crop < need:
            raise UsageError(
                f"--crop-size {crop}: use a multiple of {self.factor} of at least {need} "
                f"(the generator down-samples by {self.factor}; instance norm needs 2×2 maps)"
            )

    @classmethod
    def make_dataset(cls, folders: list[Path], split: str, config: Mapping[str, Any], train: bool):
        """The split's label/image pairs. Opening the training data also checks that the
        perceptual loss's weights exist, so a missing file stops training before it starts."""
        if train and not config.get("no_vgg_loss"):
            from celltool.nn.perceptual import find_vgg16_weights

            try:
                find_vgg16_weights(config.get("vgg_weights") or None)
            except CelltoolError as exc:
                message = f"{exc.message} (or train with --no-vgg-loss)"
                raise CelltoolError(message, exc.path) from None
        return LabelPairsDataset(folders[0], split, config, train=train)

    # -- training ---------------------------------------------------------------------------
    def stage(self) -> str:
        """``global`` | ``fix`` | ``joint`` for the epoch being trained."""
        epoch = int(self.schedulers["G"].last_epoch)
        if epoch < self.n_global:
            return "global"
        if epoch < self.n_global + self.n_fix:
            return "fix"
        return "joint"

    def _gan(self, preds: list[list[torch.Tensor]], real: bool, for_d: bool) -> torch.Tensor:
        return sum(self.gan(p[-1], real, for_discriminator=for_d) for p in preds)

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        ctx, x, y = self.ctx, batch["input"], batch["target"]
        stage = self.stage()
        if stage == "global":  # coarse stage: the global generator on half-resolution crops
            x, y = self.down(x), self.down(y)
        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        fixed = [self.G.global_net] if stage == "fix" else []
        with frozen(*fixed):
            with ctx.autocast():
                fake = self.G.forward_global(x) if stage == "global" else self.G(x)
                pred_fake_d = self.D(torch.cat([x, fake.detach()], 1))
                pred_real = self.D(torch.cat([x, y], 1))
            loss_d_fake = self._gan(pred_fake_d, False, True)
            loss_d_real = self._gan(pred_real, True, True)
            losses: dict[str, torch.Tensor] = {}
            with frozen(self.D):
                with ctx.autocast():
                    pred_fake = self.D(torch.cat([x, fake], 1))
                losses["G_GAN"] = self._gan(pred_fake, True, False)
                if not self.config["no_gan_feat_loss"]:
                    fm = feature_matching_loss(pred_fake, pred_real, self.config["n_layers_D"])
                    losses["G_GAN_Feat"] = self.lambda_feat * fm
                vgg = self.perceptual()
                if vgg is not None:
                    with ctx.autocast():
                        losses["G_VGG"] = self.lambda_feat * vgg(fake, y)
                loss_g = sum(losses.values())
                opt_g.zero_grad(set_to_none=True)
                ctx.backward(loss_g)
            ctx.step(opt_g)
        opt_d.zero_grad(set_to_none=True)
        ctx.backward(0.5 * (loss_d_fake + loss_d_real))
        ctx.step(opt_d)
        out = {k: float(v.detach()) for k, v in losses.items()}
        out.update(D_real=float(loss_d_real.detach()), D_fake=float(loss_d_fake.detach()))
        return out

    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        x = batch["input"]
        if self.stage() == "global":
            small = self.G.forward_global(self.down(x)).float()
            fake = nn.functional.interpolate(small, size=x.shape[-2:], mode="nearest")
        else:
            fake = self.G(x).float()
        return [batch["view"], fake, batch["target"]]

    # -- generation -------------------------------------------------------------------------
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Generator forward for inference (B×C×H×W, sizes a multiple of the factor)."""
        x = x.to(self.ctx.device)
        if self.ctx.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self.ctx.autocast():
            return self.G(x).float()

    def translate(self, x: np.ndarray, options: Mapping[str, Any]) -> np.ndarray:
        """One encoded input (C, H, W) → the generated image (output bit depth)."""
        tile = int(options.get("tile") or self.config["crop_size"])
        overlap = int(options.get("overlap") or tile // 4)
        y = tiled_apply(
            self.predict,
            torch.from_numpy(x),
            tile=tile,
            overlap=overlap,
            factor=self.factor,
            blend=str(options.get("blend", "cosine")),
            batch_size=int(options.get("batch_size", 4)),
        )
        out = from_unit(y.cpu().numpy(), self.info.bit_depth)
        return out[0] if out.shape[0] == 1 else out.transpose(1, 2, 0)

    def generate(self, job: GenerateJob) -> dict[str, Any]:
        from celltool.console import track
        from celltool_pix2pixhd.generate import encoded_inputs

        opts = job.options
        self.train_mode(False)
        items = list(encoded_inputs(job.inputs, self.info, opts.get("instances") or None))
        edges: dict[str, int] = {}
        for name, load in track(items, len(items), "generate"):
            x, source = load()
            edges[source] = edges.get(source, 0) + 1
            write_image(job.out / f"{name}.png", self.translate(x, opts))
        return {
            "bit_depth": self.info.bit_depth,
            "count": len(items),
            "dtype": "uint8" if self.info.bit_depth <= 8 else "uint16",
            "label_nc": self.info.extra.get("label_nc", 0),
            "edges": edges,
        }
