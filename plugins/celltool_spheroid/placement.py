"""Random sequential adsorption of nucleus prototypes inside a spheroid mask (§3.2 of
cell_data_synthesis): pick a prototype, maybe rotate it about z, maybe mirror it, draw a
centre in the mask's bounding box, and keep it when it lies fully inside the mask and overlaps
earlier nuclei by at most ``max_overlap``; stop after ``break_criterion`` failures in a row.

Speed (the original spent ~14 ms per attempt on coordinate lists): orientations are rendered
once and cached (``variants``); an attempt then tests, from cheapest to dearest and each exact
(a failed pre-test implies a failed full test): the centroid voxel, ~48 surface voxels, and
only then the candidate's bounding box against an occupancy map and the mask. Random numbers
are drawn in blocks. No step touches more than the candidate's bounding box.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from celltool_spheroid.errors import BadParameter
from celltool_spheroid.variants import Source, Variant, make_variant, orient, render_image

MAX_BREAK = 1_000_000
CACHE_BYTES = 256 * 2**20
BLOCK = 512  # attempts per block of random numbers


@dataclass(frozen=True)
class Placed:
    """One placed nucleus: its id, prototype set (``main``/``subculture``) and index, rotation
    (degrees), mirror (swap, flip_y, flip_x), centroid voxel on the simulation grid, voxels,
    and voxels of its grown shape that lay on earlier nuclei."""

    id: int
    prototypes: str
    prototype: int
    angle: int
    mirror: tuple[bool, bool, bool]
    centre: tuple[int, int, int]
    voxels: int
    overlap: int


@dataclass
class Canvas:
    """The growing phantom: instance ``labels`` (uint16), ``emitter`` intensities (float32) and
    a boolean ``occupied`` map, all on the simulation grid; ``records`` lists what was placed
    (``Placed``), ``attempts`` counts the attempts."""

    labels: np.ndarray
    emitter: np.ndarray
    occupied: np.ndarray
    next_id: int = 1
    attempts: int = 0
    cache: OrderedDict = field(default_factory=OrderedDict)
    cache_bytes: int = 0
    records: list = field(default_factory=list)

    @classmethod
    def empty(cls, shape: Sequence[int]) -> Canvas:
        shape = tuple(int(s) for s in shape)
        return cls(np.zeros(shape, np.uint16), np.zeros(shape, np.float32), np.zeros(shape, bool))

    def variant(self, key, source: Source, angle: float, min_dist: int) -> Variant | None:
        """``make_variant`` through a byte-bounded LRU cache."""
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        variant = make_variant(source, angle, min_dist)
        cost = 0 if variant is None else variant.nbytes
        self.cache[key] = variant
        self.cache_bytes += cost
        while self.cache_bytes > CACHE_BYTES and len(self.cache) > 1:
            _, old = self.cache.popitem(last=False)
            if old is not None:
                self.cache_bytes -= old.nbytes
        return variant


def _bounds(mask: np.ndarray) -> tuple[list[int], list[int]] | None:
    """The first and last index of ``mask`` along each axis, None when it is empty."""
    low, high = [], []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        if hit.size == 0:
            return None
        low.append(int(hit[0]))
        high.append(int(hit[-1]))
    return low, high


def _check(
    max_overlap: float,
    min_dist: int,
    break_criterion: int,
    max_rotation: int,
    rotate_probability: float,
) -> None:
    if not 0.0 <= rotate_probability <= 1.0:
        raise BadParameter(f"rotate_probability must lie in [0, 1], got {rotate_probability}")
    if not 0 <= break_criterion <= MAX_BREAK:
        raise BadParameter(f"break_criterion must lie in 0..{MAX_BREAK}, got {break_criterion}")
    if not 0.0 <= max_overlap <= 1.0:
        raise BadParameter(f"max_overlap must lie in [0, 1], got {max_overlap}")
    if not 0 <= min_dist <= 50:
        raise BadParameter(f"min_dist must lie in 0..50 voxels, got {min_dist}")
    if not 0 <= max_rotation <= 180:
        raise BadParameter(f"max_rotation must lie in 0..180 degrees, got {max_rotation}")


def _fits(canvas: Canvas, mask: np.ndarray, pose, variant: Variant, centre, limit: float):
    """The occupied voxels under the posed nucleus's grown shape at ``centre`` when the nucleus
    lies in ``mask`` and they are at most ``limit``, else None: cheap exact pre-tests first,
    then the bounding boxes."""
    shape = mask.shape
    at = (centre[0] * shape[1] + centre[1]) * shape[2] + centre[2]
    inside, taken = mask.reshape(-1), canvas.occupied.reshape(-1)
    strict = limit < 1
    if variant.core and (not inside[at] or (strict and taken[at])):
        return None  # the centroid voxel, part of the nucleus, is outside or taken
    body_flat, grown_flat = pose.flat_probes(shape)
    if not inside[at + body_flat].all() or (strict and taken[at + grown_flat].any()):
        return None
    corner = [c - a for c, a in zip(centre, pose.grown_anchor, strict=True)]
    g_box = tuple(slice(c, c + n) for c, n in zip(corner, pose.grown.shape, strict=True))
    overlap = int(np.count_nonzero(np.logical_and(pose.grown, canvas.occupied[g_box])))
    if overlap > limit:
        return None
    corner = [c - a for c, a in zip(centre, pose.anchor, strict=True)]
    box = tuple(slice(c, c + n) for c, n in zip(corner, pose.body.shape, strict=True))
    return None if np.any(np.greater(pose.body, mask[box])) else overlap


def place_nuclei(
    canvas: Canvas,
    mask: np.ndarray,
    sources: Sequence[Source],
    rng: np.random.Generator,
    *,
    max_overlap: float = 0.0,
    min_dist: int = 0,
    break_criterion: int = 1000,
    rotate_probability: float = 0.5,
    max_rotation: int = 45,
    mirror: bool = True,
    cache_tag: str = "main",
) -> int:
    """Place nuclei into ``canvas`` inside ``mask`` (C-contiguous bool, the canvas's shape)
    until ``break_criterion`` consecutive attempts fail; returns how many were placed
    (``canvas.attempts`` counts the attempts).

    One attempt: a prototype uniformly at random; with ``rotate_probability`` a rotation
    about z by a random whole angle in [−max_rotation, max_rotation]°; if ``mirror``, y↔x swap,
    y flip and x flip each with p = 0.5; a centre drawn uniformly in the mask's bounding box,
    limited so that the nucleus (grown by ``min_dist``) fits in the volume. Kept when every
    voxel lies in ``mask`` and (voxels of the nucleus grown by ``min_dist`` steps of the
    6-neighbourhood on earlier nuclei) / (its voxels) ≤ ``max_overlap``.
    """
    _check(max_overlap, min_dist, break_criterion, max_rotation, rotate_probability)
    mask = np.ascontiguousarray(mask, dtype=bool)
    bounds = _bounds(mask)
    if bounds is None or not sources:
        return 0
    low, high = bounds
    shape = mask.shape
    id_limit = np.iinfo(canvas.labels.dtype).max
    placed = failures = 0
    draws, row = None, BLOCK
    while failures < break_criterion and canvas.next_id <= id_limit:
        if row == BLOCK:
            draws, row = rng.random((BLOCK, 9)), 0
        u = draws[row]
        row += 1
        canvas.attempts += 1
        index = int(u[0] * len(sources))
        angle = 0
        if u[1] < rotate_probability:
            angle = int(u[2] * (2 * max_rotation + 1)) - max_rotation
        variant = canvas.variant((cache_tag, index, angle), sources[index], angle, min_dist)
        if variant is None:
            failures += 1
            continue
        pose = variant.pose(*(bool(c < 0.5) and mirror for c in u[3:6]))
        centre = []
        for axis in range(3):
            a, n = pose.grown_anchor[axis], pose.grown.shape[axis]
            lo, hi = max(a, low[axis]), min(shape[axis] - (n - a), high[axis])
            if hi < lo:
                break
            centre.append(lo + int(u[6 + axis] * (hi - lo + 1)))
        limit = max_overlap * variant.area
        overlap = _fits(canvas, mask, pose, variant, centre, limit) if len(centre) == 3 else None
        if overlap is None:
            failures += 1
            continue
        image, _ = orient(render_image(sources[index], variant), variant.anchor, *pose.key)
        corner = [c - a for c, a in zip(centre, pose.anchor, strict=True)]
        box = tuple(slice(c, c + n) for c, n in zip(corner, pose.body.shape, strict=True))
        canvas.labels[box][pose.body] = canvas.next_id
        canvas.emitter[box][pose.body] = image[pose.body]
        canvas.occupied[box] |= pose.body
        canvas.records.append(
            Placed(
                canvas.next_id,
                cache_tag,
                index,
                angle,
                pose.key,
                tuple(centre),
                variant.area,
                overlap,
            )
        )
        canvas.next_id += 1
        placed += 1
        failures = 0
    return placed


def place_subcultures(
    canvas: Canvas,
    mask: np.ndarray,
    sources: Sequence[Source],
    rng: np.random.Generator,
    *,
    count: int,
    radii: Sequence[float],
    z_limit: int,
    max_overlap: float = 0.0,
    min_dist: int = 0,
    break_criterion: int = 1000,
    tries: int = 100,
    **options,
) -> int:
    """Dense sub-clusters of other prototypes (cell_data_synthesis' subcultures): for each of
    ``count``, up to ``tries`` random ellipsoids of semi-axes ``radii`` (simulation voxels,
    z, y, x) within slices 0..``z_limit``; the first with > 90% of its volume in ``mask`` and
    earlier nuclei covering ≤ ``max_overlap`` of it is filled by ``place_nuclei`` (inside the
    ellipsoid *and* the mask, so no nucleus leaves the spheroid). Returns the nuclei placed."""
    from celltool_spheroid.masks import ellipsoid_mask

    if not 0 <= count <= 1000:
        raise BadParameter(f"the number of subcultures must lie in 0..1000, got {count}")
    size = np.array([2 * int(np.ceil(r)) + 1 for r in radii])
    room = np.array([z_limit, *canvas.labels.shape[1:]]) - size
    if count == 0 or np.any(room < 0):
        return 0  # none asked for, or the ellipsoid does not fit the grid
    blob = ellipsoid_mask(radii)
    volume = blob.sum()
    placed = 0
    for _ in range(count):
        for _ in range(tries):
            corner = rng.integers(0, room + 1)
            box = tuple(slice(c, c + n) for c, n in zip(corner, blob.shape, strict=True))
            inside = np.count_nonzero(blob & mask[box]) / volume
            taken = np.count_nonzero(blob & canvas.occupied[box]) / volume
            if inside > 0.9 and taken <= max_overlap:
                region = np.zeros_like(mask)
                region[box] = blob & mask[box]
                placed += place_nuclei(
                    canvas,
                    region,
                    sources,
                    rng,
                    max_overlap=max_overlap,
                    min_dist=min_dist,
                    break_criterion=break_criterion,
                    cache_tag="subculture",
                    **options,
                )
                break
    return placed
