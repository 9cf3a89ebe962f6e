"""What a model plugin implements (:class:`Trainer`) and what the framework gives it
(:class:`Context`).

A trainer component's target is a ``Trainer`` subclass. The framework calls, in this order:

1. ``Trainer.make_dataset(folders, split, config, train)`` → a data set whose items are dicts
   of tensors (+ ``"name"``), addressed by keys ``(epoch, index)`` with randomness from
   ``numpy.random.default_rng([seed, epoch, index])`` (see
   :class:`celltool.training.data.PairsDataset`), and with an ``info`` dict (``in_channels``,
   ``out_channels``, ``bit_depth``, ``size``, anything else the model needs later);
2. ``Trainer(config, info, ctx)``: build every network (``self.networks``), optimizer
   (``self.optimizers``) and per-epoch scheduler (``self.schedulers``) — they are checkpointed,
   moved to the device and made data-parallel by the framework;
3. ``train_step(batch)`` per batch → a dict of float losses; ``visuals(batch)`` for the sample
   grid of each epoch; ``generate(job)`` for ``celltool generate``;
4. ``extra_state()`` / ``load_extra_state(state)``: state that is not a network, optimizer or
   scheduler (an augmentation strength, counters) saved in and restored from every checkpoint.
   Checkpoints are loaded with ``weights_only=True``: tensors and plain Python data only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from celltool.errors import UsageError


@dataclass
class Context:
    """The runtime a trainer works in: device, precision, processes. Made by the framework."""

    device: torch.device
    precision: str = "fp32"
    rank: int = 0
    world_size: int = 1
    seed: int = 0
    scaler: Any = None  # torch.amp.GradScaler for fp16, else None
    channels_last: bool = False  # activations (inputs) channels-last; weights stay plain
    gemm_convs: bool = False  # small-map CPU convolutions as one GEMM (training.convs)
    master: Any = None  # training.master.MasterWeights with --master-weights, else None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for the forward passes (a no-op in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def to_device(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """Move every tensor of a batch to the device (channels-last for 4D when enabled)."""
        out = {}
        for key, value in batch.items():
            if isinstance(value, torch.Tensor):
                value = value.to(self.device, non_blocking=True)
                if self.channels_last and value.dim() == 4:
                    value = value.contiguous(memory_format=torch.channels_last)
            out[key] = value
        return out

    def prepare(self, net: torch.nn.Module) -> torch.nn.Module:
        """Make a freshly built network ready: synced batch norm under torchrun, on the
        device, GEMM convolutions on CPU, rank 0's initial weights on every process,
        bf16 working weights with fp32 masters with --master-weights. Call it BEFORE building
        the network's optimizer (Trainer.add_network does).

        Channels-last applies to the inputs (``to_device``) only: convolutions then run
        channels-last, while the weights keep the plain layout — channels-last weights made
        fused Adam copy every one of them each step (it steps contiguous tensors) and made
        the gradient casts strided copies (benchmarks/bench_pix2pix.py, docs/training.md)."""
        if self.distributed:
            from celltool.training.dist import broadcast_module, sync_batch_norm

            net = sync_batch_norm(net, self.device)
        net = net.to(self.device)
        if self.gemm_convs and self.device.type == "cpu":
            from celltool.training.convs import use_gemm_convs

            use_gemm_convs(net)
        if self.distributed:
            broadcast_module(net)
        if self.master is not None:
            self.master.convert(net)
        return net

    def adopt(self, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        """Point freshly built optimizers at the fp32 master weights (with --master-weights;
        the framework calls it once the trainer is built, before any checkpoint is loaded)."""
        if self.master is not None:
            for optimizer in optimizers:
                self.master.adopt(optimizer)

    def state_dict(self, net: torch.nn.Module) -> dict[str, Any]:
        """A network's weights for a checkpoint (fp32 masters with --master-weights)."""
        return net.state_dict() if self.master is None else self.master.state_dict(net)

    def load_state_dict(self, net: torch.nn.Module, state: Mapping[str, Any]) -> None:
        if self.master is None:
            net.load_state_dict(state)
        else:
            self.master.load_state_dict(net, state)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the fp16 grad scaler when there is one."""
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """Average gradients over processes (torchrun), then step (through the scaler).
        With master weights: working grads → master grads, step the masters, masters →
        working weights."""
        fusable = not self.distributed and self.scaler is None
        if self.master is not None and fusable and self.master.fused_step(optimizer):
            return
        if self.master is not None:
            self.master.grads_to_masters(optimizer)
        if self.distributed:
            from celltool.training.dist import average_gradients

            average_gradients(optimizer)
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()
        if self.master is not None:
            self.master.masters_to_weights(optimizer)


@dataclass
class DataInfo:
    """What the framework learned about the training data; stored in the run's config."""

    in_channels: int
    out_channels: int
    bit_depth: int
    size: tuple[int, ...]  # (H, W) for images, (Z, Y, X) for volumes
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dims(self) -> int:
        """2 for images, 3 for volumes."""
        return len(self.size)

    def as_dict(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "bit_depth": self.bit_depth,
            "size": list(self.size),
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataInfo:
        data = dict(data)
        return cls(
            in_channels=int(data.pop("in_channels")),
            out_channels=int(data.pop("out_channels")),
            bit_depth=int(data.pop("bit_depth")),
            size=tuple(data.pop("size")),  # type: ignore[arg-type]
            extra=data,
        )


@dataclass
class GenerateJob:
    """What ``celltool generate`` asks of a trainer.

    ``inputs``: the input folders; ``out``: the (partial) output folder to write into;
    ``options``: the resolved generate options (``tile``, ``overlap``, ``blend``,
    ``batch_size``, ``dropout``, ``steps``, ``between``, ``seed`` and the model's own
    ``info["generate_params"]``).
    """

    inputs: list[Path]
    out: Path
    options: dict[str, Any]
    ctx: Context


class Trainer:
    """Base class of model plugins. Subclasses set ``networks``/``optimizers``/``schedulers``."""

    #: component defaults for the framework options (epochs, batch_size, lr, ...)
    defaults: Mapping[str, Any] = {"epochs": 200, "batch_size": 1, "lr": 2e-4}

    def __init__(self, config: Mapping[str, Any], info: DataInfo, ctx: Context) -> None:
        self.config = dict(config)
        self.info = info
        self.ctx = ctx
        self.networks: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}

    # -- data -------------------------------------------------------------------------------
    @classmethod
    def make_dataset(
        cls, folders: list[Path], split: str, config: Mapping[str, Any], train: bool
    ) -> torch.utils.data.Dataset:
        """The data set of ``split`` from the data folders the run was given (one per data
        argument of ``celltool train``, e.g. REAL and SIM for an unpaired model);
        ``train=False`` for the sample grid (no augmentation)."""
        raise NotImplementedError

    # -- training ---------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimisation step on a batch already on the device; return float losses."""
        raise NotImplementedError

    @torch.no_grad()
    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """Columns of the sample grid (each B×C×H×W in [-1, 1]): input | generated | target."""
        raise NotImplementedError

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch (after the schedulers stepped); optional."""

    def extra_state(self) -> dict[str, Any]:
        """State to checkpoint besides networks, optimizers and schedulers (tensors and plain
        Python data only: checkpoints load with ``weights_only=True``); optional."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned; optional."""

    # -- generation -------------------------------------------------------------------------
    def generate(self, job: GenerateJob) -> dict[str, Any]:
        """Write outputs into ``job.out``; return manifest facts (``"kind"`` defaults to
        ``generated``; a sequence model returns ``"sequence"``)."""
        raise UsageError(f"{type(self).__name__} does not implement generate")

    # -- helpers ----------------------------------------------------------------------------
    def add_network(self, name: str, net: torch.nn.Module) -> torch.nn.Module:
        """Prepare a network (device, synced BN, ...) and register it for checkpoints."""
        net = self.ctx.prepare(net)
        self.networks[name] = net
        return net

    def train_mode(self, flag: bool = True) -> None:
        for net in self.networks.values():
            net.train(flag)


@contextlib.contextmanager
def frozen(*nets: torch.nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` of networks for a block (e.g. D during G's step)."""
    params = [p for net in nets for p in net.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=False):
            p.requires_grad_(flag)
