"""Random sequential adsorption of nucleus prototypes inside a spheroid mask (§3.2 of
cell_data_synthesis): pick a prototype, maybe rotate it about z, maybe mirror it, draw a
centre in the mask's bounding box, and keep it when it lies fully inside the mask and overlaps
earlier nuclei by at most ``max_overlap``; stop after ``break_criterion`` failures in a row.

Speed (the original spent ~14 ms per attempt): a prototype's orientation is rendered once on the
simulation grid from its prototype-resolution crop (one OpenCV affine warp of all slices,
rotation and up-sampling in one interpolation) and cached; an attempt then only tests the
bounding box of the candidate against the mask and an occupancy map (two boolean passes over
the box, no coordinate lists, no full-volume work); intensities are rendered only for the
nuclei that are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from celltool_spheroid.prototypes import Prototype

MAX_BREAK = 1_000_000
CACHE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Source:
    """A prototype with z on the simulation grid and xy still at prototype resolution, stored
    (Y, X, Z) so that OpenCV warps every slice at once."""

    image: np.ndarray  # float32 (Y, X, Z)
    mask: np.ndarray  # float32 (Y, X, Z), 0..1
    centre: tuple[float, float, float]  # (z, y, x) centroid, z in simulation slices
    scale: tuple[float, float]  # (y, x) simulation voxels per prototype voxel


def prepare_sources(
    prototypes: Sequence[Prototype],
    prototype_voxel: Sequence[float],
    sim_voxel: Sequence[float],
) -> list[Source]:
    """Resample the prototypes' z axis to the simulation grid (area mean when shrinking,
    linear when growing); xy is rendered per orientation later. Prototypes finer than the
    grid in xy are blurred (σ = (1/s − 1)/2 voxels) against aliasing."""
    from scipy import ndimage

    from celltool_spheroid.resample import output_size, resample_axis

    ratio_z = sim_voxel[0] / prototype_voxel[0]
    scale = (prototype_voxel[1] / sim_voxel[1], prototype_voxel[2] / sim_voxel[2])
    sources = []
    for p in prototypes:
        nz = output_size(p.image.shape[0], prototype_voxel[0], sim_voxel[0])
        mode = "area" if ratio_z > 1 else "linear"
        image = resample_axis(p.image.astype(np.float32), 0, nz, ratio_z, mode)
        mask = resample_axis(p.mask.astype(np.float32), 0, nz, ratio_z, mode)
        sigma = [0.0] + [max(0.0, (1.0 / s - 1.0) / 2.0) for s in scale]
        if max(sigma) > 0:
            image = ndimage.gaussian_filter(image, sigma, mode="constant")
            mask = ndimage.gaussian_filter(mask, sigma, mode="constant")
        cz, cy, cx = ndimage.center_of_mass(mask >= 0.5) if (mask >= 0.5).any() else (0, 0, 0)
        sources.append(
            Source(
                np.ascontiguousarray(image.transpose(1, 2, 0)),
                np.ascontiguousarray(mask.transpose(1, 2, 0)),
                (float(cz), float(cy), float(cx)),
                scale,
            )
        )
    return sources


@dataclass
class Variant:
    """One orientation of a source on the simulation grid: ``mask`` (Z, Y, X) bool cropped to
    the nucleus, ``anchor`` the centroid's index in it, ``dilated``/``dilated_anchor`` the
    mask grown by ``min_dist`` (the same arrays when 0), and what re-renders the image."""

    mask: np.ndarray
    anchor: np.ndarray
    dilated: np.ndarray
    dilated_anchor: np.ndarray
    area: int
    warp: np.ndarray
    size: tuple[int, int]
    box: tuple[slice, slice, slice]
    core: bool  # the anchor voxel belongs to the nucleus (a one-voxel pre-test is exact)


def _warp(volume: np.ndarray, warp: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Warp a (Y, X, Z) stack with the 2×3 affine ``warp`` into (Z, Y', X')."""
    import cv2

    out = cv2.warpAffine(
        volume, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return out.reshape(size[1], size[0], -1).transpose(2, 0, 1)


def make_variant(source: Source, angle: float, min_dist: int) -> Variant | None:
    """Render ``source`` rotated by ``angle`` degrees about z (about its centroid) on the
    simulation grid; its largest piece when the rotation split it. None if nothing is left."""
    from scipy import ndimage

    theta = np.deg2rad(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    linear = rot @ np.diag([source.scale[1], source.scale[0]])  # (x, y) order for OpenCV
    cz, cy, cx = source.centre
    h, w = source.mask.shape[:2]
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]])
    moved = (corners - [cx, cy]) @ linear.T
    anchor_xy = np.ceil(-moved.min(axis=0)).astype(int) + 1
    size = tuple(int(v) for v in anchor_xy + np.ceil(moved.max(axis=0)).astype(int) + 2)
    warp = np.hstack([linear, (anchor_xy - linear @ [cx, cy])[:, None]]).astype(np.float32)
    mask = _warp(source.mask, warp, size) >= 0.5
    box = _crop_box(mask)
    if box is None:
        return None
    mask = np.ascontiguousarray(mask[box])
    pieces, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count > 1:
        sizes = np.bincount(pieces.ravel())
        sizes[0] = 0
        mask = pieces == int(np.argmax(sizes))
        inner = _crop_box(mask)
        mask = np.ascontiguousarray(mask[inner])
        box = tuple(
            slice(b.start + i.start, b.start + i.stop) for b, i in zip(box, inner, strict=True)
        )
    anchor = np.array([round(cz), anchor_xy[1], anchor_xy[0]]) - [s.start for s in box]
    if min_dist > 0:
        padded = np.pad(mask, min_dist)
        dilated = ndimage.binary_dilation(
            padded, ndimage.generate_binary_structure(3, 1), iterations=min_dist
        )
        dilated_anchor = anchor + min_dist
    else:
        dilated, dilated_anchor = mask, anchor
    inside = bool(np.all(anchor >= 0) and np.all(anchor < mask.shape) and mask[tuple(anchor)])
    area = int(mask.sum())
    return Variant(mask, anchor, dilated, dilated_anchor, area, warp, size, box, inside)


def render_image(source: Source, variant: Variant) -> np.ndarray:
    """The variant's intensities (float32, the variant mask's box)."""
    return _warp(source.image, variant.warp, variant.size)[variant.box]


def _orient(array: np.ndarray, anchor: np.ndarray, swap: bool, flip_y: bool, flip_x: bool):
    """Mirror a (Z, Y, X) box (a view) and move its anchor with it."""
    anchor = anchor.copy()
    if swap:
        array = array.transpose(0, 2, 1)
        anchor[[1, 2]] = anchor[[2, 1]]
    if flip_y:
        array = array[:, ::-1, :]
        anchor[1] = array.shape[1] - 1 - anchor[1]
    if flip_x:
        array = array[:, :, ::-1]
        anchor[2] = array.shape[2] - 1 - anchor[2]
    return array, anchor


@dataclass
class Canvas:
    """The growing phantom: instance ``labels`` (uint16), ``emitter`` intensities (float32) and
    a boolean ``occupied`` map, all on the simulation grid."""

    labels: np.ndarray
    emitter: np.ndarray
    occupied: np.ndarray
    next_id: int = 1
    attempts: int = 0
    cache: OrderedDict = field(default_factory=OrderedDict)
    cache_bytes: int = 0

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
        cost = 0 if variant is None else variant.mask.nbytes + variant.dilated.nbytes
        self.cache[key] = variant
        self.cache_bytes += cost
        while self.cache_bytes > CACHE_BYTES and len(self.cache) > 1:
            _, old = self.cache.popitem(last=False)
            if old is not None:
                self.cache_bytes -= old.mask.nbytes + old.dilated.nbytes
        return variant


def _crop_box(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """Slices of the bounding box of a 3D boolean array, None when it is empty."""
    bounds = _bounding_box(mask)
    if bounds is None:
        return None
    return tuple(slice(int(a), int(b) + 1) for a, b in zip(*bounds, strict=True))


def _bounding_box(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    spans = []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        if hit.size == 0:
            return None
        spans.append((hit[0], hit[-1]))
    return np.array([s[0] for s in spans]), np.array([s[1] for s in spans])


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
    """Place nuclei into ``canvas`` inside ``mask`` until ``break_criterion`` consecutive
    attempts fail; returns how many were placed (``canvas.attempts`` counts attempts).

    One attempt: a prototype uniformly at random; with ``rotate_probability`` a rotation
    about z by a random whole angle in [−max_rotation, max_rotation]°; if ``mirror``, y↔x swap,
    y flip and x flip each with p = 0.5; a centre drawn uniformly in the mask's bounding box,
    limited so that the nucleus (grown by ``min_dist``) fits in the volume. Kept when every
    voxel lies in ``mask`` and (voxels of the nucleus grown by ``min_dist`` steps of the
    6-neighbourhood on earlier nuclei) / (its voxels) ≤ ``max_overlap``.
    """
    if not 0 <= break_criterion <= MAX_BREAK:
        raise ValueError(f"break_criterion must lie in 0..{MAX_BREAK}, got {break_criterion}")
    if not 0.0 <= max_overlap <= 1.0:
        raise ValueError(f"max_overlap must lie in [0, 1], got {max_overlap}")
    if not 0 <= min_dist <= 50:
        raise ValueError(f"min_dist must lie in 0..50 voxels, got {min_dist}")
    if not 0 <= max_rotation <= 180:
        raise ValueError(f"max_rotation must lie in 0..180 degrees, got {max_rotation}")
    bounds = _bounding_box(mask)
    if bounds is None or not sources:
        return 0
    low, high = bounds
    shape = np.array(canvas.labels.shape)
    id_limit = np.iinfo(canvas.labels.dtype).max
    placed = failures = 0
    while failures < break_criterion and canvas.next_id <= id_limit:
        canvas.attempts += 1
        index = int(rng.integers(len(sources)))
        coins = rng.random(4)
        angle = (
            int(rng.integers(-max_rotation, max_rotation + 1))
            if coins[0] < rotate_probability
            else 0
        )
        swap, flip_y, flip_x = (coins[1:] < 0.5) if mirror else (False, False, False)
        variant = canvas.variant((cache_tag, index, angle), sources[index], angle, min_dist)
        if variant is None:
            failures += 1
            continue
        grown, grown_anchor = _orient(variant.dilated, variant.dilated_anchor, swap, flip_y, flip_x)
        lo = np.maximum(grown_anchor, low)
        hi = np.minimum(shape - (np.array(grown.shape) - grown_anchor), high)
        if np.any(hi < lo):
            failures += 1
            continue
        centre = rng.integers(lo, hi + 1)
        at = tuple(centre)
        if variant.core and (
            not mask[at] or (canvas.occupied[at] and max_overlap * variant.area < 1)
        ):
            failures += 1  # the centroid voxel, part of the nucleus, is outside or taken
            continue
        body, anchor = _orient(variant.mask, variant.anchor, swap, flip_y, flip_x)
        corner = centre - anchor
        box = tuple(slice(c, c + n) for c, n in zip(corner, body.shape, strict=True))
        if np.any(body & ~mask[box]):
            failures += 1
            continue
        g_corner = centre - grown_anchor
        g_box = tuple(slice(c, c + n) for c, n in zip(g_corner, grown.shape, strict=True))
        overlap = np.count_nonzero(grown & canvas.occupied[g_box])
        if overlap > max_overlap * variant.area:
            failures += 1
            continue
        image, _ = _orient(
            render_image(sources[index], variant), variant.anchor, swap, flip_y, flip_x
        )
        canvas.labels[box][body] = canvas.next_id
        canvas.emitter[box][body] = image[body]
        canvas.occupied[box] |= body
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
    z, y, x) above slice ``z_limit``; the first with > 90% of its volume in ``mask`` and
    earlier nuclei covering ≤ ``max_overlap`` of it is filled by ``place_nuclei`` (inside the
    ellipsoid *and* the mask, so no nucleus leaves the spheroid). Returns the nuclei placed."""
    from celltool_spheroid.masks import ellipsoid_mask

    if not 0 <= count <= 1000:
        raise ValueError(f"the number of subcultures must lie in 0..1000, got {count}")
    blob = ellipsoid_mask(radii)
    shape = np.array(canvas.labels.shape)
    room = np.array([z_limit, shape[1], shape[2]]) - blob.shape
    placed = 0
    for _ in range(count if np.all(room >= 0) else 0):
        for _ in range(tries):
            corner = rng.integers(0, room + 1)
            box = tuple(slice(c, c + n) for c, n in zip(corner, blob.shape, strict=True))
            volume = blob.sum()
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
