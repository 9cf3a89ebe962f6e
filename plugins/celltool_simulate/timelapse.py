"""2D time-lapse of cells that move, grow and divide, with tracks (numpy in, numpy out).

Cells do a persistent random walk (constant speed, a heading that turns by a Gaussian angle
each frame, optional drift), push each other apart, grow (area doubles over a cell cycle),
round up and divide into two daughters with new ids. Frames are rendered with the optics and
camera of the 2D simulator (:func:`celltool_simulate.sim2d.render`): a cell keeps its outline,
brightness and nucleus from frame to frame and the background keeps its pattern; texture and
camera noise are new in every frame.

Tracks are in the Cell Tracking Challenge form ``L B E P``: label, first frame, last frame,
parent label (0 = none). A dividing cell's track ends in the frame before its daughters appear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from celltool.errors import UsageError
from celltool_simulate.sim2d import (
    _box,
    _largest_piece,
    _offsets,
    background_pattern,
    render,
    shape_mask,
    wobble_terms,
)

MIN_VISIBLE = 12  # px: a cell hidden below this is drawn on top of its neighbours
MAX_PIXELS = 64_000_000  # frames × height × width of one call
MAX_IDS = 60_000  # uint16 labels
ROUNDING_FRAMES = 2.0  # cells turn round over the last frames before they divide


@dataclass
class Cell:
    """One cell's state; ``cycle`` is inf for cells that never divide."""

    id: int
    parent: int
    y: float
    x: float
    heading: float
    birth_radius: float
    aspect: float
    angle: float
    terms: list
    nucleus_scale: float
    nucleus_shift: tuple[float, float]
    nucleus_terms: list
    level: float
    cycle: float
    age: float = 0.0
    frames: list[int] = field(default_factory=list)

    @property
    def radius(self) -> float:
        """Mean radius: the area doubles over one cell cycle."""
        if not math.isfinite(self.cycle):
            return self.birth_radius
        return self.birth_radius * 2.0 ** (min(self.age, self.cycle) / self.cycle / 2)

    @property
    def shape_aspect(self) -> float:
        """The cell rounds up (aspect → 1) over the last frames of its cycle."""
        left = (self.cycle - self.age) / ROUNDING_FRAMES if math.isfinite(self.cycle) else 1.0
        return 1 + (self.aspect - 1) * float(np.clip(left, 0.0, 1.0))


def _check(shape: tuple[int, int], frames: int, p: dict) -> None:
    """UsageError for parameters that make no sense or would exhaust memory or time."""
    h, w = shape
    side = min(h, w)

    def bad(text: str) -> UsageError:
        return UsageError(f"time-lapse simulator: {text}")

    if h < 16 or w < 16:
        raise bad(f"image size {h}x{w}: both sides must be at least 16")
    if not 1 <= frames <= 1000:
        raise bad(f"frames {frames}: expected 1..1000")
    if frames * h * w > MAX_PIXELS:
        raise bad(f"frames × height × width = {frames * h * w} exceeds {MAX_PIXELS}")
    if not 1 <= p["n_cells"] <= 1000:
        raise bad(f"n_cells {p['n_cells']}: expected 1..1000")
    if not p["n_cells"] <= p["max_cells"] <= 5000:
        raise bad(f"max_cells {p['max_cells']}: expected n_cells..5000")
    if not 0 <= p["speed"] <= side / 4:
        raise bad(f"speed {p['speed']}: expected 0..{side / 4:g} px/frame (a quarter of the image)")
    if len(p["drift"]) != 2 or any(abs(d) > side / 4 for d in p["drift"]):
        raise bad(f"drift {p['drift']}: expected (dy, dx), each within ±{side / 4:g} px/frame")
    if not 0 <= p["persistence"] <= 1:
        raise bad(f"persistence {p['persistence']}: expected 0..1")
    lo, hi = p["cell_radius"]
    if not 2 <= lo <= hi <= side / 4:
        raise bad(f"cell_radius {lo:g},{hi:g}: expected 2 <= lo <= hi <= {side / 4:g}")
    lo, hi = p["elongation"]
    if not 1 <= lo <= hi <= 5:
        raise bad(f"elongation {lo:g},{hi:g}: expected 1 <= lo <= hi <= 5")
    lo, hi = p["cycle"]
    if not ((lo == hi == 0) or 2 <= lo <= hi <= 10_000):
        raise bad(f"cycle {lo:g},{hi:g}: expected 0,0 (no division) or 2 <= lo <= hi <= 10000")
    lo, hi = p["nucleus_scale"]
    if not 0.1 <= lo <= hi <= 0.9:
        raise bad(f"nucleus_scale {lo:g},{hi:g}: expected 0.1 <= lo <= hi <= 0.9")
    if not 0 <= p["irregularity"] <= 0.5:
        raise bad(f"irregularity {p['irregularity']}: expected 0..0.5")
    if p["bit_depth"] not in (8, 12, 16):
        raise bad(f"bit_depth {p['bit_depth']}: expected 8, 12 or 16")
    if not 0 < p["photons"] <= 1e6 or not 0 <= p["psf_sigma"] <= 20 or p["read_noise"] < 0:
        raise bad("photons must be in (0, 1e6], psf_sigma in [0, 20], read_noise >= 0")


def _new_cell(rng: np.random.Generator, id_: int, parent: int, y: float, x: float, p: dict):
    radius = rng.uniform(*p["cell_radius"])
    lo, hi = p["cycle"]
    cycle = rng.uniform(lo, hi) if hi > 0 else math.inf
    scale = rng.uniform(*p["nucleus_scale"])
    return Cell(
        id=id_,
        parent=parent,
        y=y,
        x=x,
        heading=rng.uniform(0, 2 * np.pi),
        birth_radius=radius,
        aspect=rng.uniform(*p["elongation"]),
        angle=rng.uniform(0, np.pi),
        terms=wobble_terms(rng, p["irregularity"]),
        nucleus_scale=scale,
        nucleus_shift=tuple(rng.normal(0, radius * (1 - scale) * 0.25, size=2)),
        nucleus_terms=wobble_terms(rng, p["irregularity"] * 0.5),
        level=rng.uniform(*p["cell_intensity"]),
        cycle=cycle,
    )


def _seed_cells(shape: tuple[int, int], rng: np.random.Generator, p: dict) -> list[Cell]:
    """Initial cells at random phases of their cycle, centres at least 0.8·(r_i + r_j) apart
    (fewer than ``n_cells`` if the field is full)."""
    cells: list[Cell] = []
    for _ in range(30 * p["n_cells"]):
        if len(cells) == p["n_cells"]:
            break
        y, x = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        cell = _new_cell(rng, len(cells) + 1, 0, y, x, p)
        if math.isfinite(cell.cycle):
            cell.age = rng.uniform(0, cell.cycle)
        r = cell.radius
        if all(math.hypot(c.y - y, c.x - x) >= 0.8 * (c.radius + r) for c in cells):
            cells.append(cell)
    return cells


def _body(cell: Cell, shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray]:
    size = int(2 * cell.radius * math.sqrt(cell.shape_aspect) * 1.6) | 1
    ys, xs = _box(shape, int(round(cell.y)), int(round(cell.x)), size)
    dy, dx = _offsets(ys, xs, cell.y, cell.x)
    return (ys, xs), shape_mask(cell.terms, cell.radius, cell.shape_aspect, cell.angle, dy, dx)


def _nucleus(cell: Cell, box: tuple[slice, slice]) -> np.ndarray:
    dy, dx = _offsets(*box, cell.y + cell.nucleus_shift[0], cell.x + cell.nucleus_shift[1])
    aspect = 1 + (cell.shape_aspect - 1) * 0.5
    return shape_mask(
        cell.nucleus_terms, cell.radius * cell.nucleus_scale, aspect, cell.angle, dy, dx
    )


def draw_labels(cells: list[Cell], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cell and nucleus label maps of one frame. Cells are drawn in id order onto free pixels
    (one connected piece each); a cell left with fewer than MIN_VISIBLE px is drawn again on
    top, so that no live cell vanishes from a frame (tracks have no gaps)."""
    labels = np.zeros(shape, np.uint16)
    nuclei = np.zeros(shape, np.uint16)
    bodies = {c.id: _body(c, shape) for c in cells}
    hidden = []
    for cell in cells:
        (ys, xs), body = bodies[cell.id]
        visible = _largest_piece(body & (labels[ys, xs] == 0))
        if visible.sum() < MIN_VISIBLE:
            hidden.append(cell)
            continue
        labels[ys, xs][visible] = cell.id
    for cell in hidden:
        (ys, xs), body = bodies[cell.id]
        labels[ys, xs][_largest_piece(body)] = cell.id
    for cell in cells:
        box, _ = bodies[cell.id]
        mine = labels[box] == cell.id
        nuclei[box][_largest_piece(_nucleus(cell, box) & mine)] = cell.id
    return labels, nuclei


def _move(cells: list[Cell], shape: tuple[int, int], rng: np.random.Generator, p: dict) -> None:
    """One frame of motion: turn, step, push overlapping cells apart, reflect at the borders."""
    turn = (1 - p["persistence"]) * np.pi
    for cell in cells:
        cell.heading += rng.normal(0, turn) if turn > 0 else 0.0
        cell.y += p["speed"] * math.sin(cell.heading) + p["drift"][0]
        cell.x += p["speed"] * math.cos(cell.heading) + p["drift"][1]
    if len(cells) > 1:
        pos = np.array([[c.y, c.x] for c in cells])
        rad = np.array([c.radius for c in cells])
        for _ in range(2):
            diff = pos[:, None, :] - pos[None, :, :]
            dist = np.hypot(diff[..., 0], diff[..., 1]) + np.eye(len(cells))
            gap = 0.8 * (rad[:, None] + rad[None, :]) - dist
            np.fill_diagonal(gap, 0)
            push = np.where(gap > 0, 0.5 * gap / np.maximum(dist, 1e-6), 0.0)
            pos += (push[..., None] * diff).sum(axis=1)
        for cell, (y, x) in zip(cells, pos, strict=True):
            cell.y, cell.x = float(y), float(x)
    for cell in cells:
        for axis, size in (("y", shape[0]), ("x", shape[1])):
            v = getattr(cell, axis)
            if v < 0 or v > size - 1:
                v = -v if v < 0 else 2 * (size - 1) - v
                v = min(max(v, 0.0), size - 1.0)
                sin, cos = math.sin(cell.heading), math.cos(cell.heading)
                cell.heading = math.atan2(-sin, cos) if axis == "y" else math.atan2(sin, -cos)
            setattr(cell, axis, v)


def _grow_and_divide(cells: list[Cell], next_id: int, rng: np.random.Generator, p: dict):
    """Age every cell by one frame; cells past their cycle divide (while there is room)."""
    out: list[Cell] = []
    ended: list[Cell] = []
    for cell in cells:
        cell.age += 1
        room = len(cells) + len(ended) < p["max_cells"]  # live cells after this division
        if cell.age < cell.cycle or not room or next_id + 2 > MAX_IDS:
            out.append(cell)
            continue
        ended.append(cell)
        half = cell.radius / math.sqrt(2)
        for sign in (1, -1):
            dy = sign * 0.9 * half * math.sin(cell.angle)
            dx = sign * 0.9 * half * math.cos(cell.angle)
            child = _new_cell(rng, next_id, cell.id, cell.y + dy, cell.x + dx, p)
            child.birth_radius = half
            child.heading = cell.angle if sign > 0 else cell.angle + np.pi
            child.angle = cell.angle
            child.level = float(np.clip(cell.level * rng.normal(1, 0.05), 0.0, None))
            out.append(child)
            next_id += 1
    return out, ended, next_id


def simulate_timelapse(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    frames: int = 20,
    n_cells: int = 20,
    max_cells: int = 200,
    speed: float = 2.0,
    persistence: float = 0.8,
    drift: tuple[float, float] = (0.0, 0.0),
    cycle: tuple[float, float] = (30.0, 50.0),
    cell_radius: tuple[float, float] = (9.0, 14.0),
    elongation: tuple[float, float] = (1.0, 2.0),
    irregularity: float = 0.1,
    nucleus_scale: tuple[float, float] = (0.35, 0.55),
    background: float = 0.08,
    cell_intensity: tuple[float, float] = (0.25, 0.75),
    nucleus_gain: float = 1.5,
    texture: float = 0.25,
    vignetting: float = 0.35,
    psf_sigma: float = 1.2,
    photons: float = 120.0,
    read_noise: float = 3.0,
    bit_depth: int = 8,
) -> dict[str, np.ndarray]:
    """A time-lapse of ``frames`` frames of ``shape`` (H, W).

    Motion: ``speed`` px/frame along a heading that turns by N(0, ((1 − persistence)·π)²) each
    frame, plus ``drift`` (dy, dx) px/frame; cells closer than 0.8·(r_i + r_j) are pushed apart;
    centres reflect at the image borders. Growth: the area doubles over the cell cycle, drawn per
    cell from ``cycle`` (frames; 0,0 = no growth or division); then the cell divides along its
    long axis into two daughters with new ids (no division once ``max_cells`` live).

    Returns ``{"images": (T, H, W) uint8/uint16, "cells": (T, H, W) uint16, "nuclei": (T, H, W)
    uint16, "tracks": (L, 4) int64 rows L B E P}``; a cell's id is the same in every frame of
    its track, and nucleus i lies inside cell i.
    """
    params = dict(
        n_cells=int(n_cells),
        max_cells=int(max_cells),
        speed=float(speed),
        persistence=float(persistence),
        drift=tuple(float(d) for d in drift),
        cycle=tuple(float(c) for c in cycle),
        cell_radius=tuple(cell_radius),
        elongation=tuple(elongation),
        irregularity=float(irregularity),
        nucleus_scale=tuple(nucleus_scale),
        cell_intensity=tuple(cell_intensity),
        bit_depth=int(bit_depth),
        photons=float(photons),
        psf_sigma=float(psf_sigma),
        read_noise=float(read_noise),
    )
    shape = (int(shape[0]), int(shape[1]))
    _check(shape, int(frames), params)
    optics = dict(
        background=background,
        cell_intensity=params["cell_intensity"],
        nucleus_gain=nucleus_gain,
        texture=texture,
        vignetting=vignetting,
        psf_sigma=psf_sigma,
        photons=photons,
        read_noise=read_noise,
        bit_depth=params["bit_depth"],
    )
    cells = _seed_cells(shape, rng, params)
    field_ = background_pattern(rng, shape, background, texture)
    next_id = len(cells) + 1
    everyone = {c.id: c for c in cells}
    out = {k: [] for k in ("images", "cells", "nuclei")}
    for t in range(int(frames)):
        if t:
            _move(cells, shape, rng, params)
            cells, _, next_id = _grow_and_divide(cells, next_id, rng, params)
            everyone.update({c.id: c for c in cells})
        labels, nuclei = draw_labels(cells, shape)
        levels = np.zeros(next_id, np.float64)
        for cell in cells:
            levels[cell.id] = cell.level
            cell.frames.append(t)
        image = render(labels, nuclei, rng, levels=levels, background_field=field_, **optics)
        for key, value in (("images", image), ("cells", labels), ("nuclei", nuclei)):
            out[key].append(value)
    tracks = [(c.id, c.frames[0], c.frames[-1], c.parent) for c in everyone.values() if c.frames]
    return {
        **{k: np.stack(v) for k, v in out.items()},
        "tracks": np.array(sorted(tracks), np.int64).reshape(-1, 4),
    }


def simulate_sequence(
    shape: tuple[int, int], rng: np.random.Generator, **params: object
) -> dict[str, np.ndarray]:
    """The simulator target (celltool.contracts.SimulatorInfo with ``frames``): the
    time-lapse's parts, and its tracks under ``"_tracks"`` (written as CTC track tables)."""
    out = simulate_timelapse(shape, rng, **params)  # type: ignore[arg-type]
    return {"images": out["images"], "cells": out["cells"], "nuclei": out["nuclei"],
            "_tracks": out["tracks"]}  # fmt: skip
