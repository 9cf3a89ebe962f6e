"""The ``spheroid`` simulator target: ``celltool simulate --method spheroid``.

Per volume (its own random stream): the spheroid mask (a file, or an ellipsoid/shell from
``--radii``), the prototypes, the PSFs (files, or computed from the optics) — all shared by
every volume of a run and cached per process — then :func:`simulate_volume`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError, UsageError
from celltool_spheroid.camera import Camera
from celltool_spheroid.folders import cached, load_prototypes, read_stack
from celltool_spheroid.pipeline import OUTPUT_VOXEL, SIM_VOXEL, simulate_volume

CAMERA = ("qe", "read_noise", "dark_current", "exposure", "em_gain", "full_well", "offset",
          "bit_depth", "averages")  # fmt: skip
OPTICS = ("na", "wavelength", "immersion_index", "sample_index", "modality")


def spheroid_mask(
    shape: Sequence[int] | None, mask: str, radii: Sequence[float], shell: float
) -> np.ndarray:
    """The placement region at the output voxel size: a mask file, or an ellipsoid (shell)
    of ``radii`` voxels centred in ``shape`` (default: the smallest box that holds it)."""
    from celltool_spheroid.masks import ellipsoid_mask

    if mask:
        data, _ = cached(("mask", mask), lambda: read_stack(Path(mask)))
        if shape is not None and tuple(shape) != data.shape:
            raise UsageError(f"--size {tuple(shape)} differs from the --mask shape {data.shape}")
        return data > 0
    if not radii:
        raise UsageError("the spheroid simulator needs --mask FILE or --radii Z,Y,X")
    if len(radii) != 3:
        raise UsageError(f"--radii takes 3 values Z,Y,X in voxels, got {list(radii)}")
    key = ("ellipsoid", tuple(radii), shell, tuple(shape or ()))
    inner = shell if shell > 0 else None
    return cached(key, lambda: ellipsoid_mask(radii, inner=inner, shape=shape))


def point_spread(n_z: int, params: dict[str, Any], sim_voxel: Sequence[float]) -> list[np.ndarray]:
    """The PSFs on the simulation grid, front to back: from files, or from the optics."""
    from celltool_spheroid.psf import prepare_psf, psfs_from_optics

    files = tuple(params["psf"])
    if files:
        voxel = tuple(params["psf_voxel"])
        if len(voxel) != 3:
            raise UsageError("--psf files need --psf-voxel Z,Y,X (µm)")

        def load() -> list[np.ndarray]:
            return [prepare_psf(read_stack(Path(f))[0], voxel, sim_voxel) for f in files]

        return cached(("psf-files", files, voxel, tuple(sim_voxel)), load)
    optics = {k: params[k] for k in OPTICS}
    key = ("psf-optics", n_z, params["psfs"], params["psf_model"], tuple(sim_voxel),
           tuple(sorted(optics.items())))  # fmt: skip
    return cached(key, lambda: psfs_from_optics(
        n_z, params["psfs"], sim_voxel, model=params["psf_model"], **optics))  # fmt: skip


def simulate_spheroid(
    shape: Sequence[int] | None, rng: np.random.Generator, **params: Any
) -> dict[str, Any]:
    """One simulated spheroid volume: ``images`` (camera output), ``nuclei`` (uint16 instance
    labels) and ``_facts`` (voxel size, counts, per-stage seconds)."""
    from celltool_spheroid.errors import BadInput
    from celltool_spheroid.pipeline import default_z_append, simulation_grid

    protos, proto_voxel = load_prototypes(params["prototypes"])
    sub_protos, sub_voxel = ([], None)
    if params["subcultures"]:
        if not params["subculture_prototypes"]:
            raise UsageError("--subcultures needs --subculture-prototypes FOLDER")
        sub_protos, sub_voxel = load_prototypes(params["subculture_prototypes"])
    mask = spheroid_mask(shape, params["mask"], params["radii"], params["shell"])
    sim_voxel = tuple(params["sim_voxel"]) or SIM_VOXEL
    output_voxel = tuple(params["output_voxel"]) or OUTPUT_VOXEL
    z_append = default_z_append(proto_voxel, sim_voxel)
    n_z = simulation_grid(mask.shape, output_voxel, sim_voxel, z_append)[0]
    camera = Camera(**{k: params[k] for k in CAMERA})
    try:
        result = simulate_volume(
            rng, protos, mask, point_spread(n_z, params, sim_voxel),
            prototype_voxel=proto_voxel, sim_voxel=sim_voxel, output_voxel=output_voxel,
            z_append=z_append, max_overlap=params["max_overlap"], min_dist=params["min_dist"],
            break_criterion=params["break_criterion"], subcultures=params["subcultures"],
            subculture_prototypes=sub_protos, subculture_voxel=sub_voxel,
            attenuation=params["attenuation"], attenuation_b=params["attenuation_b"],
            photons=params["photons"], background=params["background"], camera=camera,
            label_threshold=params["label_threshold"] or None, workers=1,
        )  # fmt: skip
    except BadInput as exc:
        raise CelltoolError(str(exc), params["prototypes"]) from None
    facts = result["facts"]
    return {
        "images": result["image"],
        "nuclei": result["labels"],
        "_facts": {
            "voxel_size": list(output_voxel),
            "prototype_voxel_size": list(proto_voxel),
            "nuclei": int(facts.get("nuclei", result["labels"].max())),
            "attempts": int(facts.get("attempts", 0)),
            "seconds": facts.get("seconds", {}),
        },
    }
