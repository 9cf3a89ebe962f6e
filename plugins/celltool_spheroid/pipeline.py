"""The whole spheroid simulation of one volume (§3.1–3.4 of cell_data_synthesis): phantom on
the simulation grid → depth attenuation → depth-variant PSF blur → resampling to the output
grid → camera; labels at the output resolution."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from celltool_spheroid.camera import Camera, acquire
from celltool_spheroid.prototypes import Prototype

SIM_VOXEL = (0.9002694, 0.1221902, 0.1221902)  # µm (z, y, x): cell_data_synthesis' grid
OUTPUT_VOXEL = (1.5001311, 0.488759, 0.488759)  # µm: its px_size_desired
MAX_SIM_VOXELS = 2_000_000_000  # ~8 bytes each: emitter, labels, occupancy, mask


def default_z_append(prototype_voxel: Sequence[float], sim_voxel: Sequence[float]) -> int:
    """cell_data_synthesis' z_append: round(30 · prototype z / simulation z) slices."""
    return int(round(30 * prototype_voxel[0] / sim_voxel[0]))


def simulation_grid(
    mask_shape: Sequence[int],
    output_voxel: Sequence[float],
    sim_voxel: Sequence[float],
    z_append: int,
) -> tuple[int, int, int]:
    """The simulation grid's shape: the mask (at output resolution) on the simulation voxel
    size, plus ``z_append`` slices at the deep end."""
    from celltool_spheroid.resample import output_size

    core = [
        output_size(n, a, b) for n, a, b in zip(mask_shape, output_voxel, sim_voxel, strict=True)
    ]
    return core[0] + z_append, core[1], core[2]


def _mask_on_grid(mask, output_voxel, sim_voxel, shape, z_append) -> np.ndarray:
    """Nearest-neighbour up-sampling of the output-resolution mask, edge-padded in z."""
    from celltool_spheroid.resample import resample

    core = (shape[0] - z_append, shape[1], shape[2])
    sim = resample(mask, output_voxel, sim_voxel, ("nearest",) * 3, core)
    return np.pad(sim, ((0, z_append), (0, 0), (0, 0)), mode="edge")


def _render(emitter, psfs, keep, out_shape, sim_voxel, output_voxel, options, clock):
    """Blur rows 0:keep and resample them to ``out_shape`` (xy: pixel area, z: focal planes),
    a chunk of output slices at a time so memory stays bounded."""
    from celltool_spheroid.optics import Blur
    from celltool_spheroid.resample import axis_weights, resample_axis

    t0 = time.perf_counter()
    blur = Blur(emitter, psfs, **options)
    clock["convolution"] += time.perf_counter() - t0
    ratios = [b / a for a, b in zip(sim_voxel, output_voxel, strict=True)]
    idx, w = axis_weights(keep, out_shape[0], ratios[0], "linear")
    image = np.empty(out_shape, np.float32)
    step = max(1, int(16 / max(ratios[0], 1e-9)))
    for o0 in range(0, out_shape[0], step):
        o1 = min(o0 + step, out_shape[0])
        r0, r1 = int(idx[:, o0:o1].min()), int(idx[:, o0:o1].max()) + 1
        t0 = time.perf_counter()
        rows = blur.rows(r0, r1)
        t1 = time.perf_counter()
        rows = resample_axis(rows, 1, out_shape[1], ratios[1], "area")
        rows = resample_axis(rows, 2, out_shape[2], ratios[2], "area")
        for o in range(o0, o1):
            image[o] = w[0, o] * rows[idx[0, o] - r0] + w[1, o] * rows[idx[1, o] - r0]
        clock["convolution"] += t1 - t0
        clock["resampling"] += time.perf_counter() - t1
    return np.maximum(image, 0, out=image)  # FFT round-off leaves ~1e-8 negatives


def simulate_volume(
    rng: np.random.Generator,
    prototypes: Sequence[Prototype],
    mask: np.ndarray,
    psfs: Sequence[np.ndarray],
    *,
    prototype_voxel: Sequence[float],
    sim_voxel: Sequence[float] = SIM_VOXEL,
    output_voxel: Sequence[float] = OUTPUT_VOXEL,
    z_append: int | None = None,
    max_overlap: float = 0.0,
    min_dist: int = 0,
    break_criterion: int = 1000,
    rotate_probability: float = 0.5,
    max_rotation: int = 45,
    mirror: bool = True,
    subcultures: int = 0,
    subculture_prototypes: Sequence[Prototype] = (),
    subculture_voxel: Sequence[float] | None = None,
    subculture_radii: Sequence[float] = (4.5, 10.4),
    subculture_min_dist: int = 0,
    attenuation: str = "f2p",
    attenuation_b: float = 150.0,
    photons: float = 1000.0,
    background: float = 10.0,
    camera: Camera | None = None,
    label_threshold: float | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Simulate one spheroid volume; returns ``image`` (camera output, uint8/uint16, the
    mask's shape), ``labels`` (uint16 instance ids 1..N at the output resolution),
    ``expected`` (float32 expected photons per voxel, noise-free) and ``facts`` (counts,
    grid, per-stage seconds in ``facts["seconds"]``).

    ``mask``: where nuclei may lie, at the *output* voxel size (as in the original; the
    output has its shape). ``psfs``: one or more PSFs on the simulation grid, front to back
    (``psf.prepare_psf`` / ``psf.psf_from_optics``), normalised. ``photons``: expected
    photons per voxel of a unit-intensity region at the surface; ``background``: photons per
    voxel everywhere. Voxel sizes are µm (z, y, x); see docs/spheroid.md for every parameter.
    """
    from celltool_spheroid.optics import apply_attenuation, grow_labels
    from celltool_spheroid.placement import Canvas, place_nuclei, place_subcultures
    from celltool_spheroid.psf import resample_psf
    from celltool_spheroid.resample import resample
    from celltool_spheroid.variants import prepare_sources

    camera = camera or Camera()
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3 or not mask.any():
        raise ValueError(f"the spheroid mask must be a non-empty 3D volume, got {mask.shape}")
    if not (0 <= photons <= 1e7 and 0 <= background <= 1e7):
        raise ValueError(f"photons and background must lie in 0..1e7, got {photons}, {background}")
    if not prototypes:
        raise ValueError("no nucleus prototypes")
    clock = dict.fromkeys(
        ("prototypes", "placement", "attenuation", "convolution", "resampling", "labels"), 0.0
    )
    clock["camera"] = 0.0
    t0 = time.perf_counter()
    if z_append is None:
        z_append = default_z_append(prototype_voxel, sim_voxel)
    shape = simulation_grid(mask.shape, output_voxel, sim_voxel, int(z_append))
    if np.prod(shape, dtype=float) > MAX_SIM_VOXELS:
        raise ValueError(
            f"the simulation grid {shape} has over {MAX_SIM_VOXELS:.0e} voxels (~8 bytes "
            "each): use a smaller mask or a coarser simulation voxel size"
        )
    sources = prepare_sources(prototypes, prototype_voxel, sim_voxel)
    sub_sources = prepare_sources(
        subculture_prototypes, subculture_voxel or prototype_voxel, sim_voxel
    )
    sim_mask = _mask_on_grid(mask, output_voxel, sim_voxel, shape, int(z_append))
    clock["prototypes"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    canvas = Canvas.empty(shape)
    placing = dict(
        max_overlap=max_overlap,
        rotate_probability=rotate_probability,
        max_rotation=max_rotation,
        mirror=mirror,
        break_criterion=break_criterion,
    )
    radii = [subculture_radii[0] / sim_voxel[0]] + [subculture_radii[1] / v for v in sim_voxel[1:]]
    in_subcultures = place_subcultures(
        canvas,
        sim_mask,
        sub_sources,
        rng,
        count=subcultures if sub_sources else 0,
        radii=radii,
        z_limit=shape[0] - int(z_append),
        min_dist=subculture_min_dist,
        **placing,
    )
    placed = place_nuclei(canvas, sim_mask, sources, rng, min_dist=min_dist, **placing)
    del canvas.occupied, canvas.cache
    clock["placement"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    slices_per_output = output_voxel[0] / sim_voxel[0]
    apply_attenuation(
        canvas.emitter,
        sim_mask,
        law=attenuation,
        b=attenuation_b,
        slices_per_unit=slices_per_output,
    )
    del sim_mask
    clock["attenuation"] = time.perf_counter() - t0

    keep = shape[0] - int(z_append)
    options = dict(workers=workers)
    image = _render(canvas.emitter, psfs, keep, mask.shape, sim_voxel, output_voxel, options, clock)
    del canvas.emitter

    t0 = time.perf_counter()
    labels = resample(canvas.labels[:keep], sim_voxel, output_voxel, ("nearest",) * 3, mask.shape)
    if label_threshold is not None:
        out_psfs = [resample_psf(p, sim_voxel, output_voxel) for p in psfs]
        labels = grow_labels(labels, out_psfs, label_threshold)
    labels = _sequential(labels)
    clock["labels"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    expected = image * np.float32(photons) + np.float32(background)
    counts = acquire(expected, camera, rng)
    clock["camera"] = time.perf_counter() - t0
    facts = {
        "nuclei": int(labels.max()),
        "placed": int(placed + in_subcultures),
        "placed_in_subcultures": int(in_subcultures),
        "attempts": int(canvas.attempts),
        "sim_shape": list(shape),
        "z_append": int(z_append),
        "output_shape": list(mask.shape),
        "seconds": {k: round(v, 4) for k, v in clock.items()},
    }
    return {"image": counts, "labels": labels, "expected": expected, "facts": facts}


def _sequential(labels: np.ndarray) -> np.ndarray:
    """Ids 1..N in the order of the old ids (nuclei lost by the resampling leave no gap)."""
    present = np.unique(labels)
    present = present[present > 0]
    lookup = np.zeros(int(labels.max()) + 1, np.uint16)
    lookup[present] = np.arange(1, present.size + 1, dtype=np.uint16)
    return lookup[labels]
