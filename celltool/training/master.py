"""Low-precision working weights with fp32 master weights (``--master-weights``).

Under plain autocast every forward pass casts each fp32 weight to bf16 and every backward pass
casts each bf16 weight gradient back to fp32: for pix2pix's 57 M parameters that is ~0.7 GB of
memory traffic per step, plus fresh 32 MB gradient buffers that the OS must page in. Here the
networks hold bf16 weights (normalisation layers stay fp32), and the optimizers step fp32
*master* copies:

    backward → bf16 grads ─copy→ persistent fp32 master grads → optimizer.step(masters)
             → masters ─copy→ bf16 weights

The numbers are autocast's — the same bf16 weight values enter the convolutions and the same
bf16 gradients reach the optimizer, which keeps fp32 weights and state — with the casts moved
from every use to once per step. Checkpoints hold the fp32 masters, so resuming is exact and
``generate`` loads fp32 weights.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


class MasterWeights:
    """The master copies of the low-precision parameters of every prepared network."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self.master_of: dict[nn.Parameter, nn.Parameter] = {}  # working (low) → master
        self.low_of: dict[nn.Parameter, nn.Parameter] = {}  # master → working
        self.grads: dict[nn.Parameter, torch.Tensor] = {}  # persistent fp32 master grads

    def convert(self, net: nn.Module) -> nn.Module:
        """Give ``net`` low-precision weights (in place) and keep fp32 masters of them."""
        for module in net.modules():
            if isinstance(module, NORMS):
                continue
            for param in module.parameters(recurse=False):
                if param.dtype != torch.float32 or param in self.master_of:
                    continue
                master = nn.Parameter(param.detach().clone(), requires_grad=param.requires_grad)
                param.data = param.data.to(self.dtype)
                self.master_of[param] = master
                self.low_of[master] = param
        return net

    def adopt(self, optimizer: torch.optim.Optimizer) -> None:
        """Make a freshly built optimizer step the masters instead of the working weights."""
        if getattr(optimizer, "_celltool_masters", False):
            return
        if optimizer.state:
            raise RuntimeError("adopt an optimizer before its first step")
        for group in optimizer.param_groups:
            group["params"] = [self.master_of.get(p, p) for p in group["params"]]
        plain_zero_grad = optimizer.zero_grad
        optimizer.zero_grad = functools.partial(self._zero_grad, optimizer, plain_zero_grad)
        optimizer._celltool_masters = True

    def _zero_grad(self, optimizer, plain_zero_grad, set_to_none: bool = True) -> None:
        for master in self._masters(optimizer):
            self.low_of[master].grad = None
        plain_zero_grad(set_to_none=set_to_none)

    def _masters(self, optimizer: torch.optim.Optimizer) -> list[nn.Parameter]:
        return [p for g in optimizer.param_groups for p in g["params"] if p in self.low_of]

    @torch.no_grad()
    def grads_to_masters(self, optimizer: torch.optim.Optimizer) -> None:
        """Copy the working weights' gradients into the masters' (before optimizer.step)."""
        dst, src = [], []
        for master in self._masters(optimizer):
            low = self.low_of[master]
            if low.grad is None:
                master.grad = None
                continue
            buffer = self.grads.get(master)
            if buffer is None:
                buffer = self.grads[master] = torch.empty_like(master)
            master.grad = buffer
            dst.append(buffer)
            src.append(low.grad)
            low.grad = None  # consumed: the next backward starts from nothing, as after zero_grad
        if dst:
            torch._foreach_copy_(dst, src)

    @torch.no_grad()
    def masters_to_weights(self, optimizer: torch.optim.Optimizer) -> None:
        """Round the stepped masters into the working weights (after optimizer.step)."""
        masters = self._masters(optimizer)
        if masters:
            torch._foreach_copy_([self.low_of[m] for m in masters], masters)

    def state_dict(self, net: nn.Module) -> dict[str, Any]:
        """``net.state_dict()`` with the fp32 masters in place of the working weights."""
        state = net.state_dict()
        for name, param in net.named_parameters():
            if param in self.master_of:
                state[name] = self.master_of[param].detach()
        return state

    @torch.no_grad()
    def load_state_dict(self, net: nn.Module, state: Mapping[str, Any]) -> None:
        """Load fp32 weights into the masters and their rounding into the working weights."""
        net.load_state_dict(state)
        for name, param in net.named_parameters():
            if param in self.master_of:
                self.master_of[param].copy_(state[name])
