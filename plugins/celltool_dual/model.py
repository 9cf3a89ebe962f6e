"""The temporal dual model as a celltool trainer (see docs/dual.md).

Networks (one instance each): ``render`` R, ``sketch`` S, ``motion`` M (variant dual only) and
one discriminator ``D``.

- variant ``dual``: M(s_t, x_t) → ŝ_{t+1}; R(s_{t+1}, x_t) → x_{t+1}; S(x) → s. D is temporal:
  it sees (x_t, x_{t+1}, s_{t+1}). Generator loss per roll-out step: λ_L1·|R − x_{t+1}| +
  λ_GAN·GAN(D(x_t, R, s)) + λ_motion·|M − s_{t+1}| + λ_cycle·|S(R(s, x_t)) − s| +
  λ_sketch·|S(x_{t+1}) − s_{t+1}|. Roll-outs feed the model its own outputs (scheduled
  sampling: real frames with a chance falling linearly from ``teacher_start`` to
  ``teacher_end`` over the epochs); the sketch state of a roll-out moves through M.
- variant ``sequence-generation`` (Sequence-Generation's model): R(s_t) → x_t with a
  conditional PatchGAN on (s_t, x_t) and λ_L1·L1; S on R's detached output → s_t with L1
  (its Model 2). Generation iterates s ← S(R(s)).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from celltool.errors import CelltoolError, UsageError
from celltool.imageio import list_images, read_image, write_image
from celltool.nn.discriminators import make_discriminator
from celltool.nn.generators import make_generator
from celltool.nn.layers import init_weights
from celltool.nn.losses import GANLoss
from celltool.training.api import Context, DataInfo, GenerateJob, Trainer, frozen
from celltool.training.data import channels_first, check_input, from_unit, to_unit
from celltool.training.options import tile_options
from celltool.training.schedules import decay_schedulers
from celltool.training.tiling import tiled_apply
from celltool_dual.data import SequenceDataset

ORIGINAL = "sequence-generation"  # the variant that is Sequence-Generation's model


def interpolate_masks(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """Shape interpolation of two boolean masks: the zero level of the signed distance maps
    blended ``(1 − weight)·d_a + weight·d_b`` (weight 0 → a, 1 → b)."""
    from celltool_dual.motion import signed_distance

    return ((1 - weight) * signed_distance(a) + weight * signed_distance(b)) < 0


class Dual(Trainer):
    defaults = {"epochs": 200, "batch_size": 1, "lr": 2e-4}

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        super().__init__(config, info, ctx)
        c = self.config
        self.variant = str(c.get("variant", "dual"))
        if self.variant == "seed":  # the option's old name
            self.variant = ORIGINAL
        cs, ci = info.in_channels, info.out_channels
        self.cs, self.ci = cs, ci

        def generator(n_in: int, n_out: int) -> torch.nn.Module:
            net = make_generator(c["netG"], n_in, n_out, c["ngf"], c["norm"], c["dropout"])
            init_weights(net)
            return net

        dual = self.variant == "dual"
        self.R = self.add_network("render", generator(cs + ci if dual else cs, ci))
        self.S = self.add_network("sketch", generator(ci, cs))
        gens = [self.R, self.S]
        if dual:
            self.M = self.add_network("motion", generator(cs + ci, cs))
            gens.append(self.M)
        d_in = ci + ci + cs if dual else cs + ci  # temporal (x_t, x_t+1, s_t+1) | (s_t, x_t)
        disc = make_discriminator("basic", d_in, c["ndf"], 3, c["norm"])
        init_weights(disc)
        self.D = self.add_network("D", disc)
        self.factor = int(getattr(self.R, "factor", 1))
        betas = (c["beta1"], 0.999)
        params = itertools.chain.from_iterable(g.parameters() for g in gens)
        self.optimizers["G"] = torch.optim.Adam(params, lr=c["lr"], betas=betas)
        self.optimizers["D"] = torch.optim.Adam(self.D.parameters(), lr=c["lr"], betas=betas)
        self.schedulers = decay_schedulers(self.optimizers, c)
        self.gan = GANLoss(c["gan_mode"])

    @classmethod
    def make_dataset(cls, folders: list[Path], split: str, config: Mapping[str, Any], train: bool):
        return SequenceDataset(folders[0], split, config, train=train)

    # -- training ---------------------------------------------------------------------------
    def teacher_chance(self) -> float:
        """Scheduled sampling: the chance of feeding a real frame in the current epoch (from
        the checkpointed scheduler, so a resumed run continues the schedule exactly)."""
        c = self.config
        done = self.schedulers["G"].last_epoch
        span = max(1, int(c["epochs"]) - 1)
        start, end = float(c["teacher_start"]), float(c["teacher_end"])
        return start + (end - start) * min(1.0, done / span)

    def _coin(self, n: int, chance: float, like: torch.Tensor) -> torch.Tensor:
        """Per-sample booleans (True with ``chance``), from torch's checkpointed CPU RNG."""
        return (torch.rand(n) < chance).to(like.device).view(n, 1, 1, 1)

    def generator_losses(self, batch: dict[str, Any]):
        """The generator terms (unweighted means over roll-out steps) and the detached
        (real, fake) discriminator inputs."""
        xs, ss = batch["images"], batch["sketches"]
        if self.variant == ORIGINAL:
            return self._seed_losses(xs, ss)
        steps = xs.shape[1] - 1
        chance = self.teacher_chance()
        terms = {k: xs.new_zeros(()) for k in ("l1", "gan", "motion", "cycle", "sketch")}
        reals, fakes = [], []
        x, s = xs[:, 0], ss[:, 0]
        n = xs.shape[0]
        with self.ctx.autocast():
            for k in range(steps):
                x1, s1 = xs[:, k + 1], ss[:, k + 1]
                pred_s = self.M(torch.cat([s, x], 1)).float()
                terms["motion"] = terms["motion"] + F.l1_loss(pred_s, s1)
                s_in = torch.where(self._coin(n, chance, s1), s1, pred_s)
                fake = self.R(torch.cat([s_in, x], 1)).float()
                terms["l1"] = terms["l1"] + F.l1_loss(fake, x1)
                with frozen(self.D):
                    pred = self.D(torch.cat([x, fake, s_in], 1))
                terms["gan"] = terms["gan"] + self.gan(pred, True, for_discriminator=False)
                fake_s = self.S(fake).float()
                terms["cycle"] = terms["cycle"] + F.l1_loss(fake_s, s_in.detach())
                terms["sketch"] = terms["sketch"] + F.l1_loss(self.S(x1).float(), s1)
                reals.append(torch.cat([xs[:, k], x1, s1], 1))
                fakes.append(torch.cat([x, fake, s_in], 1).detach())
                real_next = self._coin(n, chance, x1)
                x = torch.where(real_next, x1, fake.detach())
                s = torch.where(real_next, s1, s_in.detach())  # sketches move through M
        return {k: v / steps for k, v in terms.items()}, reals, fakes

    def _seed_losses(self, xs: torch.Tensor, ss: torch.Tensor):
        """Sequence-Generation's Model 1 (s_t → x_t, conditional GAN + L1) and Model 2 (S on R's
        detached output → s_t, L1) on every frame of the window."""
        x, s = xs.flatten(0, 1), ss.flatten(0, 1)
        with self.ctx.autocast():
            fake = self.R(s)
            with frozen(self.D):
                pred = self.D(torch.cat([s, fake], 1))
            terms = {
                "l1": F.l1_loss(fake.float(), x),
                "gan": self.gan(pred, True, for_discriminator=False),
                "sketch": F.l1_loss(self.S(fake.detach()).float(), s),
            }
        return terms, [torch.cat([s, x], 1)], [torch.cat([s, fake], 1).detach()]

    def weighted(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        c = self.config
        weights = {
            "l1": c["lambda_l1"],
            "gan": c["lambda_gan"],
            "motion": c["lambda_motion"],
            "cycle": c["lambda_cycle"],
            "sketch": c["lambda_sketch"],
        }
        return sum(float(weights[k]) * v for k, v in terms.items())

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        ctx = self.ctx
        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        opt_g.zero_grad(set_to_none=True)
        terms, reals, fakes = self.generator_losses(batch)
        ctx.backward(self.weighted(terms))
        ctx.step(opt_g)
        opt_d.zero_grad(set_to_none=True)
        with ctx.autocast():
            pred_real = self.D(torch.cat(reals, 0))
            pred_fake = self.D(torch.cat(fakes, 0))
        loss_real = self.gan(pred_real, True)
        loss_fake = self.gan(pred_fake, False)
        ctx.backward(0.5 * (loss_real + loss_fake))
        ctx.step(opt_d)
        out = {f"G_{k}": float(v.detach()) for k, v in terms.items()}
        out.update(D_real=float(loss_real.detach()), D_fake=float(loss_fake.detach()))
        if self.variant == "dual":
            out["teacher"] = self.teacher_chance()
        return out

    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """sketch_t+1 | image_t | generated image_t+1 | real image_t+1 (sequence-generation:
        sketch | R | real)."""
        xs, ss = batch["images"], batch["sketches"]
        show = lambda t: t[:, :1]  # noqa: E731  first channel, gray columns
        if self.variant == ORIGINAL:
            return [show(ss[:, 0]), show(self.R(ss[:, 0])), show(xs[:, 0])]
        x, s = xs[:, 0], ss[:, 0]
        pred_s = self.M(torch.cat([s, x], 1))
        fake = self.R(torch.cat([pred_s, x], 1))
        return [show(pred_s), show(x), show(fake), show(xs[:, 1])]

    # -- generation -------------------------------------------------------------------------
    def _net(self, net: torch.nn.Module, x: torch.Tensor, options: Mapping[str, Any]):
        """One network on a (C, H, W) tensor of any size (tiled like pix2pix's generate)."""
        tile, overlap = tile_options(options, int(self.config["crop_size"]))

        def fn(t: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode(), self.ctx.autocast():
                return net(t.to(self.ctx.device)).float()

        return tiled_apply(
            fn,
            x,
            tile=tile,
            overlap=overlap,
            factor=self.factor,
            blend=str(options.get("blend", "cosine")),
            batch_size=int(options.get("batch_size", 4)),
        ).cpu()

    def step(self, x: torch.Tensor, s: torch.Tensor, options: Mapping[str, Any]):
        """One recursion step with the motion network from (image_t, sketch_t) →
        (image_t+1, sketch_t+1). dual: s ← M(s, x), x ← R(s, x);
        sequence-generation: s ← S(R(s)), x ← R(s)."""
        if self.variant == ORIGINAL:
            s = self._net(self.S, self._net(self.R, s, options), options)
            return self._net(self.R, s, options), s
        s = self._net(self.M, torch.cat([s, x]), options)
        return self._net(self.R, torch.cat([s, x]), options), s

    def motion_mode(self, options: Mapping[str, Any]) -> str:
        """``fitted`` or ``net`` for dual (``--motion``; auto = fitted when the run has a fitted
        motion model), ``sequence-generation`` for Sequence-Generation's variant."""
        if self.variant == ORIGINAL:
            return ORIGINAL
        wanted = str(options.get("motion") or "auto")
        has_fitted = bool(self.info.extra.get("motion_model"))
        if wanted == "fitted" and not has_fitted:
            raise UsageError(
                "--motion fitted: this run has no fitted motion model (it needs binary mask "
                "sketches and 1-channel frames); use --motion net"
            )
        if wanted == "auto":
            return "fitted" if has_fitted else "net"
        return wanted

    def rollout(
        self,
        image: np.ndarray,
        steps: int,
        options: Mapping[str, Any],
        sketch: np.ndarray | None = None,
        index: int = 0,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``steps`` generated (image, sketch) pairs from a start image (as stored) and its
        sketch (as stored; default: the sketch model's). Each sketch is the one its image was
        rendered from. ``index`` numbers the sequence (fitted motion draws from
        ``numpy.random.default_rng([seed, index])``)."""
        x = self._to_tensor(image, self.ci, self.info.bit_depth)
        s = (
            self._net(self.S, x, options)
            if sketch is None
            else self._to_tensor(sketch, self.cs, self._sketch_depth(sketch))
        )
        if self.motion_mode(options) == "fitted":
            rng = np.random.default_rng([int(options.get("seed", 0)), index])
            frames = self._rollout_fitted(x, s, steps, options, rng)
        else:
            frames = []
            for _ in range(steps):
                x, s = self.step(x, s, options)
                frames.append((x, s))
        return [(self._to_array(x, self.info.bit_depth), self._to_array(s, 8)) for x, s in frames]

    def _rollout_fitted(
        self, x: torch.Tensor, s: torch.Tensor, steps: int, options: Mapping[str, Any], rng
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Sketches move under the fitted stochastic motion model; each frame is
        R(sketch_t+1, the start frame carried along by the motion so far). Carrying the start
        frame rather than feeding R its own last output keeps the real frame's texture and
        does not pile up R's smoothing (docs/dual.md has the measured comparison)."""
        from celltool_dual.motion import MotionModel, MotionSampler

        model = MotionModel.from_dict(self.info.extra["motion_model"])
        sampler = MotionSampler(model, s[0].numpy() > 0, rng)
        start = x[0].numpy()
        frames = []
        for _ in range(steps):
            mask = sampler.step()
            s = torch.from_numpy(np.where(mask, 1.0, -1.0).astype(np.float32)[None])
            carried = torch.from_numpy(sampler.warp(start)[None])
            frames.append((self._net(self.R, torch.cat([s, carried]), options), s))
        return frames

    def sketch_of(self, image: np.ndarray, options: Mapping[str, Any]) -> np.ndarray:
        """The sketch model's sketch of one image (as stored) → uint8."""
        x = self._to_tensor(image, self.ci, self.info.bit_depth)
        return self._to_array(self._net(self.S, x, options), 8)

    def between(
        self, a: np.ndarray, b: np.ndarray, steps: int, options: Mapping[str, Any]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``steps`` frames between real frames a and b: sketches interpolate the two frames'
        sketch-model masks (signed distances), images are rendered recursively from a."""
        xa = self._to_tensor(a, self.ci, self.info.bit_depth)
        xb = self._to_tensor(b, self.ci, self.info.bit_depth)
        if xa.shape != xb.shape:
            sizes = f"{tuple(xa.shape)} vs {tuple(xb.shape)}"
            raise UsageError(f"--between: the two frames differ in size {sizes}")
        ma = self._net(self.S, xa, options).numpy() > 0
        mb = self._net(self.S, xb, options).numpy() > 0
        x, out = xa, []
        for k in range(1, steps + 1):
            mask = interpolate_masks(ma, mb, k / (steps + 1))
            s = torch.from_numpy(np.where(mask, 1.0, -1.0).astype(np.float32))
            inp = s if self.variant == ORIGINAL else torch.cat([s, x])
            x = self._net(self.R, inp, options)
            out.append((self._to_array(x, self.info.bit_depth), self._to_array(s, 8)))
        return out

    def _sketch_depth(self, sketch: np.ndarray) -> int:
        return 8 if sketch.dtype == np.uint8 else int(self.info.extra.get("in_bit_depth", 16))

    @staticmethod
    def _to_tensor(array: np.ndarray, channels: int, bit_depth: int) -> torch.Tensor:
        x = torch.from_numpy(to_unit(channels_first(array, channels), bit_depth))
        return x.expand(channels, -1, -1).contiguous() if x.shape[0] != channels else x

    @staticmethod
    def _to_array(x: torch.Tensor, bit_depth: int) -> np.ndarray:
        out = from_unit(x.numpy(), bit_depth)
        return out[0] if out.shape[0] == 1 else out.transpose(1, 2, 0)

    def _image(self, path: Path) -> np.ndarray:
        """A start frame, checked against the training images (one line naming the file)."""
        info = self.info
        return check_input(_read(path), path, channels=info.out_channels, bit_depth=info.bit_depth)

    def _sketch(self, path: Path) -> np.ndarray:
        """A start sketch, checked against the training sketches."""
        depth = self.info.extra.get("in_bit_depth")
        return check_input(_read(path), path, channels=self.info.in_channels, bit_depth=depth)

    def generate(self, job: GenerateJob) -> dict[str, Any]:
        """A ``sequence`` folder: ``images/<seq>_stepNNNN.png`` and ``sketches/...`` for
        steps 1..N of every start image (or of the --between pair)."""
        opts = job.options
        steps = int(opts.get("steps") or 0)
        if steps < 1:
            raise UsageError("dual generates sequences: give --steps N (N ≥ 1)")
        self.train_mode(False)
        if opts.get("dropout"):  # test-time noise: dropout layers (--dropout at training) stay on
            for net in self.networks.values():
                for m in net.modules():
                    if isinstance(m, torch.nn.Dropout):
                        m.train(True)
        (job.out / "images").mkdir()
        (job.out / "sketches").mkdir()
        sequences = {}
        if opts.get("between"):
            a, b = (Path(p) for p in opts["between"])
            name = f"{a.stem}-{b.stem}"
            sequences[name] = self.between(self._image(a), self._image(b), steps, opts)
        else:
            sketch_dir = Path(opts["start_sketches"]) if opts.get("start_sketches") else None
            from celltool.console import track

            if not job.inputs:
                raise UsageError("give start frames as INPUT folder(s), or --between A B")
            starts = [p for folder in job.inputs for p in list_images(folder)]
            if not starts:
                raise CelltoolError("holds no start images", job.inputs[0])
            for index, path in enumerate(track(starts, len(starts), "generate")):
                if path.stem in sequences:
                    raise CelltoolError(f"two start images named '{path.stem}'", path.parent)
                sketch = self._sketch(_sketch_of(path, sketch_dir)) if sketch_dir else None
                sequences[path.stem] = self.rollout(self._image(path), steps, opts, sketch, index)
        width = max(4, len(str(steps)))
        for name, frames in sequences.items():
            for k, (image, sketch) in enumerate(frames, start=1):
                write_image(job.out / "images" / f"{name}_step{k:0{width}d}.png", image)
                write_image(job.out / "sketches" / f"{name}_step{k:0{width}d}.png", sketch)
        return {
            "kind": "sequence",
            "variant": self.variant,
            "sequences": sorted(sequences),
            "steps": steps,
            "mode": "between" if opts.get("between") else "rollout",
            "motion": self.motion_mode(opts),
            "parts": {"images": "images", "sketches": "sketches"},
            "names": f"<sequence>_step<{width} digits>.png, steps 1..N after the start frame",
            "bit_depth": self.info.bit_depth,
        }


def _read(path: Path) -> np.ndarray:
    if not path.is_file():
        raise CelltoolError("file does not exist", path)
    return read_image(path)


def _sketch_of(image: Path, folder: Path) -> Path:
    found = [p for p in list_images(folder) if p.stem == image.stem]
    if not found:
        raise CelltoolError(f"no sketch named '{image.stem}' for start image {image.name}", folder)
    return found[0]
