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
    """A plot of every loss over the steps (means over at most 200 bins of steps), each
    normalised to its own maximum, as RGB."""
    import cv2

    height, width = size
    image = np.full((height, width, 3), 255, np.uint8)
    keys = sorted({k for r in records for k in r.get("losses", {})})
    left, right, top, bottom = 60, 160, 20, 40
    cv2.rectangle(image, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    if not keys or not records:
        return image
    steps = np.array([r["step"] for r in records], float)
    n_bins = min(200, len(records))
    edges = np.linspace(steps.min(), steps.max() + 1e-9, n_bins + 1)
    which = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, n_bins - 1)
    span = max(1.0, steps.max() - steps.min())
    for i, key in enumerate(keys):
        vals = np.array([r["losses"].get(key, np.nan) for r in records], float)
        xs, ys = [], []
        for b in range(n_bins):
            sel = (which == b) & np.isfinite(vals)
            if sel.any():
                xs.append(steps[sel].mean())
                ys.append(vals[sel].mean())
        if not ys:
            continue
        ys_arr = np.array(ys)
        peak = float(np.max(np.abs(ys_arr))) or 1.0
        pts = [
            (
                int(left + (x - steps.min()) / span * (width - left - right)),
                int(np.clip(height - bottom - (y / peak) * (height - top - bottom) * 0.95,
                            top, height - bottom)),
            )
            for x, y in zip(xs, ys_arr, strict=True)
        ]  # fmt: skip
        colour = COLOURS[i % len(COLOURS)]
        if len(pts) > 1:
            cv2.polylines(image, [np.array(pts, np.int32)], False, colour, 2, cv2.LINE_AA)
        else:
            cv2.circle(image, pts[0], 3, colour, -1)
        label = f"{key} (max {peak:.3g})"
        cv2.putText(image, label, (width - right + 5, top + 15 + 18 * i),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.38, colour, 1, cv2.LINE_AA)  # fmt: skip
    epochs = (records[0].get("epoch", 0), records[-1].get("epoch", 0))
    text = f"step {int(steps.min())}..{int(steps.max())} (epoch {epochs[0]}..{epochs[1]})"
    cv2.putText(image, text, (left, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
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
