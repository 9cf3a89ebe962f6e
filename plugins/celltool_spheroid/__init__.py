"""3D spheroid simulator (cell_data_synthesis, §3.1–3.5 of its specification, re-implemented):
``celltool simulate --method spheroid``, ``celltool prototypes`` and ``celltool spheroid-mask``.
See docs/spheroid.md."""

from celltool import hookimpl
from celltool.components import Component, Param, parse_floats
from celltool.contracts import SimulatorInfo


def _floats(name, default, help, lo=None, hi=None, **kw):
    return Param(name, default, help, parse=parse_floats, min=lo, max=hi, **kw)


def _paths(text):
    return tuple(part.strip() for part in text.split(",") if part.strip())


PARAMS = (
    Param("prototypes", "", "Nucleus prototypes folder (`celltool prototypes`).", input=True),
    Param("mask", "", "Spheroid mask file (a 3D TIFF at the output voxel size).", input=True),
    _floats("radii", (), "Or an ellipsoid mask: semi-axes 'Z,Y,X' in output voxels.", 1, 4096),
    Param(
        "shell", 0.0, "With --radii: a hollow shell, inner fraction (0 = filled).", min=0, max=0.99
    ),  # fmt: skip
    _floats(
        "output_voxel", (), "Output voxel size 'Z,Y,X' µm (default 1.50,0.489,0.489).", 1e-3, 1e3
    ),  # fmt: skip
    _floats(
        "sim_voxel", (), "Simulation voxel size 'Z,Y,X' µm (default 0.90,0.122,0.122).", 1e-3, 1e3
    ),  # fmt: skip
    Param("max_overlap", 0.0, "Largest fraction of a nucleus over earlier ones.", min=0, max=1),
    Param("min_dist", 0, "Extra separation of nuclei (dilations).", min=0, max=100),
    Param(
        "break_criterion",
        1000,
        "Stop after this many failed placements in a row.",
        min=1,
        max=1_000_000,
    ),  # fmt: skip
    Param("subcultures", 0, "Dense sub-clusters placed first.", min=0, max=100),
    Param("subculture_prototypes", "", "Prototypes folder of the sub-clusters.", input=True),
    Param(
        "attenuation",
        "f2p",
        "Depth attenuation law.",
        choices=("f2p", "f2", "f3", "f3p", "f1", "fOld", "none"),
    ),  # fmt: skip
    Param("attenuation_b", 150.0, "B of the f2p/f3p laws.", min=1e-3, max=1e6),
    Param(
        "psf",
        (),
        "PSF file(s) front to back, 'A.tif,B.tif' (default: from the optics).",
        parse=_paths,
        input=True,
    ),  # fmt: skip
    _floats("psf_voxel", (), "Voxel size of the PSF files 'Z,Y,X' µm.", 1e-4, 1e3),
    Param(
        "psf_model",
        "gaussian",
        "PSF from optics: gaussian or gibson-lanni (needs celltool[spheroid]).",
        choices=("gaussian", "gibson-lanni"),
    ),  # fmt: skip
    Param("psfs", 1, "Depth-variant PSFs from optics (front to back).", min=1, max=16),
    Param("na", 0.8, "Numerical aperture.", min=0.05, max=1.7),
    Param("wavelength", 0.52, "Emission wavelength in µm.", min=0.2, max=2.0),
    Param("immersion_index", 1.33, "Immersion medium refractive index.", min=1.0, max=2.0),
    Param("sample_index", 1.37, "Sample refractive index.", min=1.0, max=2.0),
    Param("modality", "widefield", "Microscope.", choices=("widefield", "confocal")),
    Param(
        "photons",
        1000.0,
        "Photons per voxel of a unit-intensity nucleus at the surface.",
        min=0,
        max=1e7,
    ),  # fmt: skip
    Param("background", 10.0, "Background photons per voxel.", min=0, max=1e7),
    Param("qe", 0.8, "Camera quantum efficiency.", min=0, max=1),
    Param("read_noise", 6.0, "Read noise, electrons rms.", min=0, max=1e4),
    Param("dark_current", 0.001, "Dark current, electrons/pixel/s.", min=0, max=1e6),
    Param("exposure", 0.1, "Exposure in s.", min=0, max=3600),
    Param("em_gain", 1.0, "EM gain (1 = none).", min=1, max=1e4),
    Param("full_well", 18000.0, "Full-well capacity, electrons.", min=1, max=1e8),
    Param("offset", 100.0, "Camera offset (bias), ADU.", min=0, max=65535),
    Param("bit_depth", 12, "Camera bit depth.", choices=(8, 12, 16)),
    Param("averages", 1, "Acquisitions averaged.", min=1, max=1000),
    Param(
        "label_threshold",
        0.0,
        "Grow/shrink labels to the blurred nuclei at this fraction "
        "of their peak (0 = the placed shapes).",
        min=0,
        max=1,
    ),  # fmt: skip
)


@hookimpl
def register_simulators(register):
    register(
        Component(
            name="spheroid",
            description="3D spheroids (cell_data_synthesis): real nucleus prototypes placed "
            "by random sequential adsorption in a spheroid mask, depth attenuation, "
            "depth-variant PSF, physical camera; nucleus labels. Volumes take the mask's "
            "shape (or --size with --radii).",
            target="celltool_spheroid.simulator:simulate_spheroid",
            params=PARAMS,
            info=SimulatorInfo(parts=("images", "nuclei"), dims=3, default_size=None),
        )
    )


@hookimpl
def register_commands(app):
    from celltool_spheroid.commands import add

    add(app)
