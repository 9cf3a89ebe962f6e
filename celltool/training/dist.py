"""Data parallelism under ``torchrun``: process group, weight broadcast, gradient averaging,
synchronised batch norm.

Every process builds the same networks, rank 0's weights are broadcast, each process trains on
its shard of every epoch's order, and before each optimizer step the gradients of that
optimizer's parameters are averaged over all processes (one flattened all-reduce). This is DDP's
arithmetic, made explicit so that GAN steps (several forward passes through D, D frozen during
G's step) need no ``find_unused_parameters`` tricks. Batch norm statistics are computed over the
global batch: ``torch.nn.SyncBatchNorm`` on CUDA, :class:`GlobalBatchNorm` (all-reduce with
autograd, works with gloo) elsewhere.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def env_world() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's environment (0, 0, 1 without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def init(device: torch.device) -> None:
    """Join the process group that torchrun set up (nccl on CUDA, gloo otherwise)."""
    if dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module) -> None:
    """Give every process rank 0's parameters and buffers."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(optimizer: torch.optim.Optimizer) -> None:
    """All-reduce (mean) the gradients of an optimizer's parameters in one flat buffer."""
    grads = [
        p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None
    ]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def all_equal(value: object) -> list[object]:
    """Gather a picklable value from every process (rank order)."""
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


class GlobalBatchNorm(torch.nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are taken over all processes (gloo-friendly)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = (0, 2, 3)
        count = torch.tensor(float(x.numel() // x.shape[1]), device=x.device)
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), count.view(1)])
        stats = all_reduce(stats)
        c = x.shape[1]
        total = stats[-1]
        mean = stats[:c] / total
        var = stats[c : 2 * c] / total - mean * mean
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                unbiased = var * total / (total - 1).clamp(min=1)
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * unbiased)
                self.num_batches_tracked += 1
        shape = (1, c, 1, 1)
        y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def sync_batch_norm(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Replace every BatchNorm2d by a synchronised one (keeping its weights and statistics)."""
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, torch.nn.BatchNorm2d) and not isinstance(child, GlobalBatchNorm):
            new = GlobalBatchNorm(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            sync_batch_norm(child, device)
    return module
