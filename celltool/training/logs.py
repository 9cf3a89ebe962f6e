"""Run logs: losses as JSON Lines, sample grids and a loss-curve PNG (numpy + cv2 drawing)."""

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


COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]  # fmt: skip


def loss_curve(records: Sequence[dict[str, Any]], size: tuple[int, int] = (480, 800)) -> np.ndarray:
    """A plot of every loss (mean per epoch, each normalised to its own maximum) as RGB."""
    import cv2

    height, width = size
    image = np.full((height, width, 3), 255, np.uint8)
    keys = sorted({k for r in records for k in r.get("losses", {})})
    epochs = sorted({r["epoch"] for r in records})
    left, right, top, bottom = 60, 160, 20, 40
    cv2.rectangle(image, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    if not keys or not epochs:
        return image
    span = max(1, epochs[-1] - epochs[0])
    for i, key in enumerate(keys):
        means = []
        for e in epochs:
            vals = [r["losses"][key] for r in records if r["epoch"] == e and key in r["losses"]]
            means.append(float(np.mean(vals)) if vals else np.nan)
        arr = np.array(means)
        peak = np.nanmax(np.abs(arr)) or 1.0
        pts = []
        for e, v in zip(epochs, arr, strict=False):
            if np.isfinite(v):
                x = left + (e - epochs[0]) / span * (width - left - right)
                y = height - bottom - (v / peak) * (height - top - bottom) * 0.95
                pts.append((int(x), int(np.clip(y, top, height - bottom))))
        colour = COLOURS[i % len(COLOURS)]
        if len(pts) > 1:
            cv2.polylines(image, [np.array(pts, np.int32)], False, colour, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(image, p, 2, colour, -1)
        label = f"{key} (max {peak:.3g})"
        cv2.putText(image, label, (width - right + 5, top + 15 + 18 * i),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.38, colour, 1, cv2.LINE_AA)  # fmt: skip
    cv2.putText(image, f"epoch {epochs[0]}..{epochs[-1]}", (left, height - 12),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    cv2.putText(image, "loss / max", (5, top + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    return image


def write_loss_curve(path: Path, records: Sequence[dict[str, Any]]) -> None:
    write_image(path, loss_curve(records))


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
