"""CycleGAN as a celltool trainer, 2D or 3D (the dimensionality of the data decides).

Domains: A = REAL (first data argument), B = SIM (second). G_A: A → B, G_B: B → A;
D_A judges B-domain images (real B vs G_A(A)), D_B judges A-domain images (pytorch-CycleGAN's
and cell_data_synthesis' naming). ``--direction sim2real`` (default) drives each epoch over
SIM and translates with G_B at generate time; ``real2sim`` drives over REAL and uses G_A.

One step: generators first (LSGAN + λ·cycle + λ·λ_id·identity, D frozen), then — every
``d_every``-th step — both discriminators on real images vs fakes drawn through the image
pools (loss × 0.5). The pools' contents and random streams are checkpointed (exact resume);
under torchrun the fakes of all processes go through one shared pool (identical on every
process, so rank 0's checkpoint holds it).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from celltool.errors import UsageError
from celltool.nn.discriminators import make_discriminator
from celltool.nn.generators import make_generator
from celltool.nn.layers import init_weights
from celltool.nn.losses import GANLoss, ImagePool
from celltool.training.api import Context, DataInfo, GenerateJob, Trainer, frozen
from celltool.training.datasets import UnpairedDataset
from celltool.training.nd import crop_axes
from celltool.training.schedules import decay_schedulers


def build_generator(config: Mapping[str, Any], channels: int, dims: int) -> torch.nn.Module:
    """A generator of ``config`` (ResNet: biases on, as cell_data_synthesis; U-Net)."""
    from celltool.nn.generators import ResnetGenerator

    name, pad = str(config["netG"]), str(config["pad"])
    pad = ("replicate" if dims == 3 else "reflect") if pad == "auto" else pad
    norm, ngf, dropout = config["norm"], int(config["ngf"]), bool(config["dropout"])
    try:
        if name.startswith("resnet_") and name.endswith("blocks"):
            blocks = int(name[len("resnet_") : -len("blocks")])
            if not 0 <= blocks <= 64:
                raise ValueError("resnet_<n>blocks takes 0..64 blocks")
            return ResnetGenerator(channels, channels, ngf, norm, dropout, blocks, dims=dims,
                                   pad=pad, bias=True)  # fmt: skip
        if name.startswith("unet_") and int(name.split("_")[1]) > 2**10:
            raise ValueError("unet_<n> takes n ≤ 1024")
        return make_generator(name, channels, channels, ngf, norm, dropout, dims=dims, pad=pad)
    except ValueError as exc:
        raise UsageError(f"--netG {name}: {exc}") from None


class CycleGAN(Trainer):
    defaults = {"epochs": 200, "batch_size": 1, "lr": 2e-4}
    G_A: torch.nn.Module  # REAL → SIM
    G_B: torch.nn.Module  # SIM → REAL
    D_A: torch.nn.Module  # judges SIM-domain images
    D_B: torch.nn.Module  # judges REAL-domain images

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        super().__init__(config, info, ctx)
        c = self.config
        dims = int(info.extra.get("dims", len(info.size)))
        self.dims = dims
        self.crop = crop_axes(info.extra.get("crop") or c["crop_size"], dims)
        channels = info.in_channels
        init = {"auto": "default" if dims == 3 else "normal"}.get(c["init"], c["init"])
        nets = {}
        for name in ("G_A", "G_B"):
            nets[name] = build_generator(c, channels, dims)
        for name in ("D_A", "D_B"):
            nets[name] = make_discriminator(c["netD"], channels, int(c["ndf"]),
                                            int(c["n_layers_D"]), c["norm"], dims=dims,
                                            z_stride_once=dims == 3)  # fmt: skip
        for net in nets.values():
            if init == "normal":
                init_weights(net, 0.02)
        self.factor = int(getattr(nets["G_A"], "factor", 1))
        self._check_crop(nets["D_A"], channels)
        for name, net in nets.items():
            setattr(self, name, self.add_network(name, net))
        betas = (float(c["beta1"]), 0.999)
        lr = float(c["lr"])
        self.optimizers["G"] = torch.optim.Adam(
            itertools.chain(self.G_A.parameters(), self.G_B.parameters()), lr=lr, betas=betas
        )
        self.optimizers["D"] = torch.optim.Adam(
            itertools.chain(self.D_A.parameters(), self.D_B.parameters()), lr=lr, betas=betas
        )
        self.schedulers = decay_schedulers(self.optimizers, c)
        self.gan = GANLoss(c["gan_mode"])
        seed = int(c["seed"])
        self.pool_A = ImagePool(int(c["pool_size"]), torch.Generator().manual_seed(seed + 1))
        self.pool_B = ImagePool(int(c["pool_size"]), torch.Generator().manual_seed(seed + 2))
        self.steps = 0  # optimisation steps done (for --d-every), checkpointed

    def _check_crop(self, disc: torch.nn.Module, channels: int) -> None:
        """Crops must be multiples of the generator's factor and leave the PatchGAN an
        output (checked on the meta device: no computation)."""
        if any(s % self.factor for s in self.crop):
            raise UsageError(
                f"--crop-size {'×'.join(map(str, self.crop))}: every size must be a multiple "
                f"of {self.factor} for --netG {self.config['netG']}"
            )
        import copy

        try:
            with torch.no_grad():
                out = copy.deepcopy(disc).to("meta")(torch.empty(1, channels, *self.crop,
                                                                  device="meta"))  # fmt: skip
            ok = min(out.shape[2:]) > 0
        except (RuntimeError, ValueError):  # a map of 0 voxels, or 1 voxel in instance norm
            ok = False
        if not ok:
            raise UsageError(
                f"--crop-size {'×'.join(map(str, self.crop))} is too small for --netD "
                f"{self.config['netD']} (3D PatchGAN: at least 10×24×24; 2D: 24×24)"
            )

    @classmethod
    def make_dataset(cls, folders: list[Path], split: str, config: Mapping[str, Any], train: bool):
        if len(folders) != 2:
            raise UsageError(f"cyclegan trains on two folders REAL SIM; got {len(folders)}")
        driving = "B" if config.get("direction", "sim2real") == "sim2real" else "A"
        return UnpairedDataset(folders[0], folders[1], config, train, driving=driving)

    # -- training ---------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        ctx, c = self.ctx, self.config
        real_A, real_B = batch["A"], batch["B"]
        lam_a, lam_b = float(c["lambda_A"]), float(c["lambda_B"])
        lam_idt = float(c["lambda_identity"])
        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        opt_g.zero_grad(set_to_none=True)
        with frozen(self.D_A, self.D_B):
            with ctx.autocast():
                fake_B = self.G_A(real_A)
                rec_A = self.G_B(fake_B)
                fake_A = self.G_B(real_B)
                rec_B = self.G_A(fake_A)
                pred_B, pred_A = self.D_A(fake_B), self.D_B(fake_A)
            losses = {
                "G_A": self.gan(pred_B, True, for_discriminator=False),
                "G_B": self.gan(pred_A, True, for_discriminator=False),
                "cycle_A": l1(rec_A, real_A) * lam_a,
                "cycle_B": l1(rec_B, real_B) * lam_b,
            }
            if lam_idt > 0:
                with ctx.autocast():
                    idt_A, idt_B = self.G_A(real_B), self.G_B(real_A)
                losses["idt_A"] = l1(idt_A, real_B) * lam_b * lam_idt
                losses["idt_B"] = l1(idt_B, real_A) * lam_a * lam_idt
            ctx.backward(sum(losses.values()))
        ctx.step(opt_g)
        out = {k: float(v.detach()) for k, v in losses.items()}
        if self.steps % int(c["d_every"]) == 0:
            out.update(self._discriminator_step(opt_d, real_A, real_B, fake_A, fake_B))
        self.steps += 1
        return out

    def _discriminator_step(self, opt_d, real_A, real_B, fake_A, fake_B) -> dict[str, float]:
        ctx = self.ctx
        fake_B = self._pooled(self.pool_B, fake_B.detach())
        fake_A = self._pooled(self.pool_A, fake_A.detach())
        opt_d.zero_grad(set_to_none=True)
        with ctx.autocast():
            real_b, fake_b = self.D_A(real_B), self.D_A(fake_B)
            real_a, fake_a = self.D_B(real_A), self.D_B(fake_A)
        loss_a = 0.5 * (self.gan(real_b, True) + self.gan(fake_b, False))
        loss_b = 0.5 * (self.gan(real_a, True) + self.gan(fake_a, False))
        ctx.backward(loss_a + loss_b)
        ctx.step(opt_d)
        return {"D_A": float(loss_a.detach()), "D_B": float(loss_b.detach())}

    def _pooled(self, pool: ImagePool, fakes: torch.Tensor) -> torch.Tensor:
        """Fakes through the pool; under torchrun all processes' fakes through one shared
        pool (same contents and stream everywhere), each process keeping its own slice."""
        if not self.ctx.distributed:
            return pool.query(fakes)
        import torch.distributed as dist

        parts = [torch.empty_like(fakes) for _ in range(self.ctx.world_size)]
        dist.all_gather(parts, fakes.contiguous())
        pooled = pool.query(torch.cat(parts))
        n = fakes.shape[0]
        return pooled[self.ctx.rank * n : (self.ctx.rank + 1) * n]

    def extra_state(self) -> dict[str, Any]:
        return {
            "pool_A": self.pool_A.state_dict(),
            "pool_B": self.pool_B.state_dict(),
            "steps": self.steps,
        }

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        self.pool_A.load_state_dict(state["pool_A"], self.ctx.device)
        self.pool_B.load_state_dict(state["pool_B"], self.ctx.device)
        self.steps = int(state["steps"])

    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """SIM | G_B(SIM) | cycle, REAL | G_A(REAL) | cycle (mid z-slice of volumes)."""
        real_A, real_B = batch["A"], batch["B"]
        fake_A, fake_B = self.G_B(real_B), self.G_A(real_A)
        columns = [real_B, fake_A, self.G_A(fake_A), real_A, fake_B, self.G_B(fake_B)]
        if self.dims == 3:
            columns = [c[:, :, c.shape[2] // 2] for c in columns]
        return [c.float() for c in columns]

    # -- generation -------------------------------------------------------------------------
    @property
    def generator(self) -> torch.nn.Module:
        """The network generate runs: G_B (SIM → REAL) for sim2real, else G_A."""
        return self.G_B if self.config["direction"] == "sim2real" else self.G_A

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×(Z)×Y×X in [-1, 1] → the translation (float32, on the device)."""
        with torch.inference_mode(), self.ctx.autocast():
            return self.generator(x.to(self.ctx.device)).float()

    def generate(self, job: GenerateJob) -> dict[str, Any]:
        from celltool_cyclegan.translate import generate_translations

        self.train_mode(False)
        if job.options.get("dropout"):
            for m in self.generator.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.train(True)
        return generate_translations(self, job)


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.l1_loss(a.float(), b.float())
