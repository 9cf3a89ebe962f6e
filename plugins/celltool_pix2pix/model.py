"""pix2pix as a celltool trainer: conditional GAN + λ·L1, PatchGAN, Adam, linear decay."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celltool.errors import CelltoolError, UsageError
from celltool.imageio import list_images, read_image, write_image
from celltool.manifest import read_manifest
from celltool.nn.discriminators import make_discriminator
from celltool.nn.generators import make_generator
from celltool.nn.layers import init_weights
from celltool.nn.losses import GANLoss
from celltool.training.api import Context, DataInfo, GenerateJob, Trainer, frozen
from celltool.training.data import (
    PairsDataset,
    channels_first,
    check_input,
    from_unit,
    pair_files,
    split_side_by_side,
    to_unit,
)
from celltool.training.options import tile_options
from celltool.training.schedules import decay_schedulers
from celltool.training.tiling import tiled_apply


class Pix2Pix(Trainer):
    defaults = {"epochs": 200, "batch_size": 1, "lr": 2e-4}

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        super().__init__(config, info, ctx)
        c = self.config
        gen = make_generator(
            c["netG"], info.in_channels, info.out_channels, c["ngf"], c["norm"], c["dropout"]
        )
        disc = make_discriminator(
            c["netD"], info.in_channels + info.out_channels, c["ndf"], c["n_layers_D"], c["norm"]
        )
        init_weights(gen)
        init_weights(disc)
        self.factor = int(getattr(gen, "factor", 1))
        self.G = self.add_network("G", gen)
        self.D = self.add_network("D", disc)
        betas = (c["beta1"], 0.999)
        # default on (measured faster on CPU, docs/training.md); a run recorded before that
        # default (no key) keeps torch's default Adam on resume
        fused = {"fused": True} if c.get("fused_adam", False) else {}
        self.optimizers["G"] = torch.optim.Adam(
            self.G.parameters(), lr=c["lr"], betas=betas, **fused
        )
        self.optimizers["D"] = torch.optim.Adam(
            self.D.parameters(), lr=c["lr"], betas=betas, **fused
        )
        self.schedulers = decay_schedulers(self.optimizers, c)
        self.gan = GANLoss(c["gan_mode"])
        self.lambda_l1 = float(c["lambda_l1"])
        self.forward_G, self.forward_D = self.G, self.D
        if c.get("compile"):
            self.forward_G, self.forward_D = torch.compile(self.G), torch.compile(self.D)
        self.compile_inference = bool(c.get("compile"))
        self._infer_G, self._infer_batch, self._infer_dtype = None, 0, torch.float32

    @classmethod
    def make_dataset(cls, folders: list[Path], split: str, config: Mapping[str, Any], train: bool):
        return PairsDataset(folders[0], split, config, train=train)

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        ctx, A, B = self.ctx, batch["input"], batch["target"]
        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        with ctx.autocast():
            fake = self.forward_G(A)
        # discriminator: real pairs (A, B) vs fake pairs (A, G(A))
        opt_d.zero_grad(set_to_none=True)
        with ctx.autocast():
            pred_fake = self.forward_D(torch.cat([A, fake.detach()], 1))
            pred_real = self.forward_D(torch.cat([A, B], 1))
        loss_d_fake = self.gan(pred_fake, False)
        loss_d_real = self.gan(pred_real, True)
        loss_d = 0.5 * (loss_d_fake + loss_d_real)
        ctx.backward(loss_d)
        ctx.step(opt_d)
        # generator: fool D (D frozen) + λ·L1
        opt_g.zero_grad(set_to_none=True)
        with frozen(self.D):
            with ctx.autocast():
                pred = self.forward_D(torch.cat([A, fake], 1))
            loss_g_gan = self.gan(pred, True, for_discriminator=False)
            loss_l1 = torch.nn.functional.l1_loss(fake.float(), B.float())
            loss_g = loss_g_gan + self.lambda_l1 * loss_l1
            ctx.backward(loss_g)
        ctx.step(opt_g)
        return {
            "G_GAN": float(loss_g_gan.detach()),
            "G_L1": float(loss_l1.detach()),
            "D_real": float(loss_d_real.detach()),
            "D_fake": float(loss_d_fake.detach()),
        }

    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return [batch["input"], self.G(batch["input"]), batch["target"]]

    # -- generation -------------------------------------------------------------------------
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Model forward for inference (B×C×H×W in [-1, 1], sizes a multiple of the factor).

        ``--precision bf16`` runs a bf16 copy of the generator (weights and activations: on
        a CPU with AVX-512 BF16 this is faster than autocast, which casts every weight on
        every call); ``--compile`` compiles it with frozen weights (inductor folds batch norm
        into the convolutions and pre-packs the weights for oneDNN once)."""
        x = x.to(self.ctx.device)
        if self.ctx.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        net, dtype = self._inference_net(x.shape[0])
        if not self.compile_inference:
            with torch.inference_mode(), self._inference_autocast():
                return net(x.to(dtype)).float()
        import torch._inductor.config as inductor

        n = x.shape[0]  # pad a short last batch of tiles: one compiled shape, no recompiles
        if n < self._infer_batch:
            x = torch.cat([x, x[:1].expand(self._infer_batch - n, -1, -1, -1)])
        with torch.no_grad(), self._inference_autocast(), inductor.patch(freezing=True):
            return net(x.to(dtype)).float()[:n]

    def _inference_net(self, batch: int) -> tuple[torch.nn.Module, torch.dtype]:
        """The generator as inference runs it (built once: weights are constants from here on,
        in eval mode or with the dropout generate asked for) and its input dtype."""
        if self._infer_G is None:
            import copy

            net, dtype = self.G, torch.float32
            if self.ctx.precision == "bf16":
                net, dtype = copy.deepcopy(self.G).to(torch.bfloat16), torch.bfloat16
            if self.compile_inference:
                from celltool.training.convs import use_gemm_convs

                # frozen, pre-packed oneDNN kernels beat the GEMM path once compiled (4.8x vs
                # 4.4x fp32 eager, bench_pix2pix.py): torch's kernels throughout
                net = use_gemm_convs(copy.deepcopy(net) if net is self.G else net, 0)
                net = torch.compile(net, dynamic=False)
            self._infer_G, self._infer_dtype, self._infer_batch = net, dtype, batch
        return self._infer_G, self._infer_dtype

    def _inference_autocast(self):
        """Autocast for fp16 only (bf16 runs a bf16 copy, fp32 nothing)."""
        import contextlib

        return self.ctx.autocast() if self.ctx.precision == "fp16" else contextlib.nullcontext()

    def translate(self, array: np.ndarray, options: Mapping[str, Any]) -> np.ndarray:
        """One input image (as stored) → the generated image (output bit depth)."""
        info = self.info
        in_depth = int(info.extra.get("in_bit_depth", 8 if array.dtype == np.uint8 else 16))
        x = torch.from_numpy(to_unit(channels_first(array, info.in_channels), in_depth))
        if x.shape[0] != info.in_channels:
            x = x.expand(info.in_channels, -1, -1).contiguous()
        tile, overlap = tile_options(options, int(self.config["crop_size"]))
        y = tiled_apply(
            self.predict,
            x,
            tile=tile,
            overlap=overlap,
            factor=self.factor,
            blend=str(options.get("blend", "cosine")),
            batch_size=int(options.get("batch_size", 4)),
        )
        y = y.cpu().numpy()
        out = from_unit(y, info.bit_depth)
        return out[0] if out.shape[0] == 1 else out.transpose(1, 2, 0)

    def generate(self, job: GenerateJob) -> dict[str, Any]:
        opts = job.options
        if not job.inputs:
            raise UsageError("pix2pix translates images: give INPUT folder(s) or files")
        self.train_mode(False)
        self.compile_inference = self.compile_inference or bool(opts.get("compile"))
        if opts.get("dropout"):  # the paper's test-time noise: dropout stays on
            for m in self.G.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.train(True)
        from celltool.console import track

        items = list(self._inputs(job.inputs))
        depth = self.info.extra.get("in_bit_depth")
        for name, read, path in track(items, len(items), "generate"):
            array = check_input(read(), path, channels=self.info.in_channels, bit_depth=depth)
            write_image(job.out / f"{name}.png", self.translate(array, opts))
        return {
            "bit_depth": self.info.bit_depth,
            "count": len(items),
            "direction": self.config["direction"],
            "dtype": "uint8" if self.info.bit_depth <= 8 else "uint16",
        }

    def _inputs(self, folders: list[Path]):
        """(stem, loader) for every input image: image files, image folders, or a pairs
        folder's test split (the input side, by the run's direction)."""
        seen: set[str] = set()
        for folder in folders:
            manifest = read_manifest(folder) if folder.is_dir() else None
            if not folder.is_dir():
                entries = [(folder.stem, _file_loader(folder), folder)]
            elif manifest and manifest.get("kind") == "pairs":
                layout, items = pair_files(folder, "test")
                entries = [(_stem(i), _pair_loader(i, layout, self.config), _path(i, self.config))
                           for i in items]  # fmt: skip
            else:
                entries = [(p.stem, _file_loader(p), p) for p in list_images(folder)]
            for stem, loader, path in entries:
                if stem in seen:
                    raise CelltoolError(f"two inputs named '{stem}'", folder)
                seen.add(stem)
                yield stem, loader, path


def _path(item: Any, config: Mapping[str, Any]) -> Path:
    """The file of a pairs item that holds the model's input (side-by-side: the pair)."""
    if not isinstance(item, tuple):
        return Path(item)
    return Path(item[1] if config["direction"] == "sketch2image" else item[0])


def _stem(item: Any) -> str:
    return Path(item[0] if isinstance(item, tuple) else item).stem


def _file_loader(path: Path):
    return lambda: read_image(path)


def _pair_loader(item: Any, layout: str, config: Mapping[str, Any]):
    def load() -> np.ndarray:
        if layout == "folders":
            image, sketch = read_image(item[0]), read_image(item[1])
        else:
            image, sketch = split_side_by_side(read_image(item), item)
        return sketch if config["direction"] == "sketch2image" else image

    return load
