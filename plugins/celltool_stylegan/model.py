"""StyleGAN2/3 for masks as a celltool trainer: ``celltool train stylegan MASKS -o RUN``.

One optimisation step on a batch (NVlabs' phases, in their order):

1. G: non-saturating loss softplus(−D(aug(G(z)))) (with style mixing for StyleGAN2);
2. G regularisation (StyleGAN2, every 4th step): path length penalty on half the batch;
3. D: softplus(D(aug(G(z)))) + softplus(−D(aug(x))); the ADA statistic from D(aug(x));
4. D regularisation (every ``d_reg_interval``-th step): R1 = γ/2·‖∇ₓD(aug(x))‖², lazily ×16;

then the EMA generator G_ema (half-life ``ema_kimg``, ramped up over the first 5 % of the
images seen), images seen and ADA's p. Everything that changes the numbers — networks, both
optimizers, G_ema, images seen, ADA p and its pending statistics, the path-length mean, the RNG
— is in the checkpoint, so a killed run resumes to the same weights as an uninterrupted one
(NVlabs restarts kimg, p and the EMA ramp on resume: stylegan3#538, #61).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from celltool.errors import UsageError
from celltool.training.api import Context, DataInfo, GenerateJob, Trainer, frozen
from celltool_stylegan import augment
from celltool_stylegan.networks import make_discriminator, make_generator, option
from celltool_stylegan.ops import filter2d, gaussian_filter


def check_config(config: Mapping[str, Any]) -> None:
    """What the options' bounds cannot say: the resolution is a power of two."""
    res = int(config.get("resolution", 128))
    if res & (res - 1):
        raise UsageError(f"--resolution {res} is not a power of two")


class StyleGAN(Trainer):
    defaults = {"epochs": 100, "batch_size": 8, "lr": 0.002}

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        super().__init__(config, info, ctx)
        c = self.config
        if ctx.master is not None:
            raise UsageError("stylegan keeps fp32 weights (its EMA generator needs them): "
                             "use --precision bf16 without --master-weights")  # fmt: skip
        check_config(c)
        if float(c.get("kimg") or 0) > 0:  # --kimg sets the length in images seen
            c["epochs"] = max(1, math.ceil(float(c["kimg"]) * 1000 / int(c["epoch_images"])))
        self.channels = 2 if c["instance_channel"] == "distance" else 1
        self.G = self.add_network("G", make_generator(c, self.channels))
        self.D = self.add_network("D", make_discriminator(c, self.channels))
        ema = copy.deepcopy(self.G).requires_grad_(False).eval()
        self.G_ema = self.add_network("G_ema", ema)
        self.g_reg = 4 if option(c, "pl_weight") > 0 else 0
        res, batch = int(c["resolution"]), int(c["batch_size"])
        self.gamma = float(c["gamma"]) or 0.0002 * res * res / batch  # StyleGAN2-ADA 'auto'
        self.d_reg = int(c["d_reg_interval"])
        self.optimizers["G"] = self._adam(self.G, float(option(c, "glr")), self.g_reg)
        self.optimizers["D"] = self._adam(self.D, float(c["lr"]), self.d_reg)
        self.style_mixing = float(option(c, "style_mixing"))
        self.pl_weight = float(option(c, "pl_weight"))
        self.ada = augment.AdaController(target=float(c["ada_target"]),
                                         speed_kimg=float(c["ada_kimg"]))  # fmt: skip
        if c["aug"] == "fixed":
            self.ada.p = float(c["aug_p"])
        self.nimg = 0  # images seen (all processes)
        self.steps = 0
        self.pl_mean = 0.0
        self.global_batch = int(c["batch_size"]) * ctx.world_size

    def _adam(self, net: torch.nn.Module, lr: float, reg_interval: int) -> torch.optim.Adam:
        """NVlabs' Adam (β 0, 0.99) with lr and betas corrected for lazy regularisation."""
        ratio = reg_interval / (reg_interval + 1) if reg_interval else 1.0
        return torch.optim.Adam(net.parameters(), lr=lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)

    @classmethod
    def make_dataset(cls, folders, split: str, config: Mapping[str, Any], train: bool):
        """All masks of every folder given (``split`` is ignored: a mask folder has none)."""
        from celltool_stylegan.data import MaskDataset

        folders = list(folders) if isinstance(folders, (list, tuple)) else [Path(folders)]
        return MaskDataset(folders, config, train=train)

    # -- state that is not a network or an optimizer ---------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"nimg": self.nimg, "steps": self.steps, "pl_mean": self.pl_mean,
                "ada": self.ada.state()}  # fmt: skip

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.nimg = int(state.get("nimg", 0))
        self.steps = int(state.get("steps", 0))
        self.pl_mean = float(state.get("pl_mean", 0.0))
        self.ada.load(dict(state.get("ada", {})))

    # -- losses ----------------------------------------------------------------------------
    def real_images(self, batch: Mapping[str, Any]) -> torch.Tensor:
        if self.channels == 1:
            return batch["image"]
        return torch.cat([batch["image"], batch["distance"]], dim=1)

    def latents(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.G.z_dim, device=self.ctx.device)

    def run_G(self, z: torch.Tensor, update_emas: bool = False):
        ws = self.G.mapping(z, update_emas=update_emas)
        if self.style_mixing > 0 and torch.rand([]).item() < self.style_mixing:
            cut = int(torch.randint(1, ws.shape[1], []).item())
            mixed = self.G.mapping(torch.randn_like(z))
            ws = torch.cat([ws[:, :cut], mixed[:, cut:]], dim=1)
        return self.G.synthesize(ws, update_emas=update_emas), ws

    def run_D(self, img: torch.Tensor) -> torch.Tensor:
        blur = self.blur_sigma()
        if blur > 0:
            img = filter2d(img, gaussian_filter(blur).to(img.device))
        mode = self.config["aug"]
        if mode in ("ada", "fixed"):
            img = augment.ada(img, self.ada.p)
        elif mode == "diffaug":
            img = augment.diffaugment(img)
        return self.D(img)

    def blur_sigma(self) -> float:
        """StyleGAN3-R blurs D's input (σ 10 px fading to 0 over batch·200/32 kimg)."""
        if self.config["cfg"] != "stylegan3-r":
            return 0.0
        fade = self.global_batch * 200 / 32 * 1e3
        return max(1 - self.nimg / fade, 0.0) * 10.0

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        ctx, real = self.ctx, self.real_images(batch)
        n = real.shape[0]
        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        self.steps += 1
        losses: dict[str, float] = {}
        # 1. G main
        opt_g.zero_grad(set_to_none=True)
        with frozen(self.D), ctx.autocast():
            fake, _ = self.run_G(self.latents(n))
            loss_g = F.softplus(-self.run_D(fake)).mean()
        ctx.backward(loss_g)
        self._step(opt_g)
        losses["G"] = float(loss_g.detach())
        # 2. G path length regularisation (StyleGAN2, lazy)
        if self.g_reg and self.pl_weight > 0 and self.steps % self.g_reg == 0:
            opt_g.zero_grad(set_to_none=True)
            loss_pl = self.path_length_penalty(max(1, n // 2))
            ctx.backward(loss_pl * self.g_reg)
            self._step(opt_g)
            losses["G_pl"] = float(loss_pl.detach())
        # 3. D main
        opt_d.zero_grad(set_to_none=True)
        with torch.no_grad(), ctx.autocast():
            fake, _ = self.run_G(self.latents(n), update_emas=True)
        with ctx.autocast():
            logits_fake = self.run_D(fake.detach())
            logits_real = self.run_D(real)
        loss_d = (F.softplus(logits_fake) + F.softplus(-logits_real)).mean()
        ctx.backward(loss_d)
        self._step(opt_d)
        self.ada.accumulate(logits_real)
        losses.update(D=float(loss_d.detach()), D_real=float(logits_real.detach().mean()),
                      D_fake=float(logits_fake.detach().mean()))  # fmt: skip
        # 4. D R1 regularisation (lazy, fp32)
        if self.d_reg and self.steps % self.d_reg == 0:
            opt_d.zero_grad(set_to_none=True)
            loss_r1 = self.r1_penalty(real)
            ctx.backward(loss_r1 * self.d_reg)
            self._step(opt_d)
            losses["D_r1"] = float(loss_r1.detach())
        self.nimg += self.global_batch
        self.sync_buffers()
        self.update_ema()
        if self.config["aug"] == "ada":
            reduce = self._reduce if ctx.distributed else None
            self.ada.update(self.steps, self.global_batch, reduce)
        losses["aug_p"] = self.ada.p
        return losses

    def r1_penalty(self, real: torch.Tensor) -> torch.Tensor:
        x = real.detach().float().requires_grad_(True)
        logits = self.run_D(x)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        return grad.square().sum(dim=[1, 2, 3]).mean() * (self.gamma / 2)

    def path_length_penalty(self, n: int) -> torch.Tensor:
        """(‖Jᵀy‖ − a)², y ~ N(0, I)/√(HW), a = running mean (decay 0.01)."""
        with frozen(self.D):
            img, ws = self.run_G(self.latents(n))
            noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
            (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        mean = self.pl_mean + 0.01 * (float(lengths.detach().mean()) - self.pl_mean)
        if self.ctx.distributed:
            mean = self._reduce(mean, 1)[0] / self.ctx.world_size
        self.pl_mean = mean
        return (lengths - mean).square().mean() * self.pl_weight

    def _step(self, optimizer: torch.optim.Optimizer) -> None:
        """NaN/inf gradients → finite (NVlabs), then the framework's averaged step."""
        if self.ctx.scaler is None:  # the fp16 grad scaler must see infs to skip a step
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        torch.nan_to_num_(p.grad, nan=0.0, posinf=1e5, neginf=-1e5)
        self.ctx.step(optimizer)

    def _reduce(self, total: float, count: int) -> tuple[float, int]:
        import torch.distributed as dist

        t = torch.tensor([total, float(count)], dtype=torch.float64, device=self.ctx.device)
        dist.all_reduce(t)
        return float(t[0]), int(t[1])

    @torch.no_grad()
    def sync_buffers(self) -> None:
        """Under torchrun, average G's running statistics (w_avg, magnitude EMAs), which each
        process updated from its own samples, so every process holds the same G."""
        if not self.ctx.distributed:
            return
        import torch.distributed as dist

        for b in self.G.buffers():
            if b.is_floating_point():
                dist.all_reduce(b)
                b /= self.ctx.world_size

    @torch.no_grad()
    def update_ema(self) -> None:
        ema_kimg = float(self.config["ema_kimg"]) or self.global_batch * 10 / 32
        ema_nimg = min(ema_kimg * 1000, self.nimg * float(self.config["ema_rampup"]) or math.inf)
        beta = 0.5 ** (self.global_batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    # -- outputs ---------------------------------------------------------------------------
    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """Real foreground | real distance | G_ema's foreground | distance for fixed latents."""
        n = batch["image"].shape[0]
        g = torch.Generator().manual_seed(int(self.config["seed"]))
        z = torch.randn(n, self.G_ema.z_dim, generator=g).to(self.ctx.device)
        fake = self.G_ema(z, noise_mode="const").clamp(-1, 1)
        real = self.real_images(batch)
        return [real[:, i : i + 1] for i in range(self.channels)] + [
            fake[:, i : i + 1] for i in range(self.channels)
        ]

    def generate(self, job: GenerateJob) -> dict[str, Any]:
        from celltool_stylegan.generate import generate_masks

        return generate_masks(self, job)

    def train_mode(self, flag: bool = True) -> None:
        super().train_mode(flag)
        self.G_ema.eval()
