"""Run logs: losses as JSON Lines, sample grids and the loss-curve plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from celltool.imageio import atomic_write_bytes, write_image


class LossLog:
    """``logs/losses.jsonl``: one record per logged step (``epoch``, ``step``, losses, ``lr``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (written after the checkpoint a resume starts from)."""
        if not self.path.exists():
            return
        kept = [r for r in self.records() if r["step"] <= step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write_bytes(self.path, text.encode())

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # a line cut by a kill
                continue
        return out


def grid_image(columns: Sequence[Any], bit_depth: int = 8) -> np.ndarray:
    """Columns of B×C×H×W tensors in [-1, 1] → one uint8 image, rows = samples."""
    rows = []
    for b in range(columns[0].shape[0]):
        tiles = []
        for col in columns:
            t = col[b].detach().float().cpu().numpy()
            t = np.repeat(t, 3, axis=0) if t.shape[0] == 1 else t[:3]
            tiles.append(np.rint((np.clip(t, -1, 1) + 1) * 127.5).astype(np.uint8))
            tiles.append(np.full((3, t.shape[1], 2), 255, np.uint8))
        rows.append(np.concatenate(tiles[:-1], axis=2))
        rows.append(np.full((3, 2, rows[-1].shape[2]), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=1).transpose(1, 2, 0)


def write_grid(path: Path, columns: Sequence[Any]) -> None:
    write_image(path, grid_image(columns))


def write_loss_curve(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """``loss_curve.png`` (per-epoch mean losses, matplotlib) and ``loss_curve.csv`` beside it."""
    from celltool.plots import loss_curves

    if records:
        loss_curves(records).write(path)


class TensorBoard:
    """Optional TensorBoard writer: a no-op when disabled or when tensorboard is missing."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            from celltool.console import warn

            warn("--tensorboard: the tensorboard package is not installed; not logging to it")
            return
        self.writer = SummaryWriter(str(folder))

    def scalars(self, losses: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in losses.items():
                self.writer.add_scalar(f"loss/{key}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
