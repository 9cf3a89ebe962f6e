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

For a plain ``torch.optim.Adam`` outside torchrun, ``fused_step`` does the three arrows in one
torch.compile'd pass per tensor (bf16 gradient in; master, moments and bf16 weight out): 30
bytes of memory traffic per parameter instead of 40, ~4 % of a pix2pix step. It compiles on
the first step (~20 s on 2 cores, cached by inductor across runs) and falls back to the copies,
with a warning, where it cannot compile.
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

    def __init__(self, dtype: torch.dtype, fused: bool = False) -> None:
        self.dtype = dtype
        self.fused = fused  # fused_step: Adam through one compiled pass (needs a C++ compiler)
        self._fused_ran = False
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

    def fused_step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Step a plain ``torch.optim.Adam`` in one compiled pass per tensor: read the bf16
        gradient, update the fp32 master and moments, write the bf16 weight. Returns False
        (nothing done) where it does not apply or cannot compile; the caller then takes the
        copy-step-copy path. The optimizer's state keeps torch's layout (checkpoints and
        resume do not care which path ran)."""
        if not self.fused or not _plain_adam(optimizer):
            return False
        work = []
        for group in optimizer.param_groups:
            items = [(self.low_of[m], m) for m in group["params"] if m in self.low_of]
            items = [(low, m) for low, m in items if low.grad is not None]
            if items:
                work.append((group, items))
        try:
            for group, items in work:
                self._adam_group(optimizer, group, items)
        except Exception as exc:  # no C++ compiler, an inductor limitation, ...
            if self._fused_ran:
                raise
            import warnings

            # nothing was updated (compilation failed before the first update; the state it
            # created is torch's fresh state): the copy path takes over
            warnings.warn(f"fused master step unavailable ({exc}); using copies", stacklevel=2)
            self.fused = False
            return False
        self._fused_ran = True
        optimizer.step()  # the parameters without masters (norm layers), as usual
        return True

    def _adam_group(self, optimizer, group: dict, items: list) -> None:
        beta1, beta2 = group["betas"]
        states = []
        for _, master in items:
            state = optimizer.state[master]
            if not state:
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(master)
                state["exp_avg_sq"] = torch.zeros_like(master)
            states.append(state)
        step = float(states[0]["step"]) + 1
        if any(float(s["step"]) + 1 != step for s in states):
            raise RuntimeError("parameters of one group at different steps")
        with torch.no_grad():
            _compiled_adam()(
                [low for low, _ in items],
                [low.grad for low, _ in items],
                [m for _, m in items],
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                torch.tensor(group["lr"] / (1 - beta1**step)),
                torch.tensor((1 - beta2**step) ** 0.5),
                float(beta1),
                float(beta2),
                float(group["eps"]),
                float(group["weight_decay"]),
            )
        for (low, master), state in zip(items, states, strict=True):
            state["step"] += 1
            low.grad = None
            master.grad = None

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


def _plain_adam(optimizer: torch.optim.Optimizer) -> bool:
    d = optimizer.defaults
    return (
        type(optimizer) is torch.optim.Adam
        and not d.get("amsgrad")
        and not d.get("maximize")
        and not d.get("decoupled_weight_decay")
        and not d.get("capturable")
        and not d.get("differentiable")
    )


def _adam_update(lows, grads, masters, exp_avgs, exp_avg_sqs, step_size, bc2_sqrt, beta1, beta2,
                 eps, weight_decay):  # fmt: skip
    """torch.optim.Adam's update (as its fused CPU kernel computes it) on fp32 masters from bf16
    gradients, writing the rounded weights: one loop per tensor once compiled."""
    for low, grad, master, exp_avg, exp_avg_sq in zip(
        lows, grads, masters, exp_avgs, exp_avg_sqs, strict=True
    ):
        g = grad.float()
        if weight_decay:
            g = g + weight_decay * master
        exp_avg.copy_(exp_avg + (g - exp_avg) * (1 - beta1))
        exp_avg_sq.copy_(exp_avg_sq * beta2 + g * g * (1 - beta2))
        master.copy_(master - step_size * exp_avg / (exp_avg_sq.sqrt() / bc2_sqrt + eps))
        low.copy_(master)


@functools.cache
def _compiled_adam():
    return torch.compile(_adam_update, fullgraph=True, dynamic=False)
