"""Built-in 2D simulators: fluorescence-like cells with exact ground truth (``cells2d``, the
embedded default), time-lapses of moving, growing and dividing cells (``timelapse2d``), and a
toy time-lapse with a known constant motion (``toy-timelapse``)."""

from celltool import hookimpl
from celltool.components import Component, Param, parse_floats
from celltool.contracts import SimulatorInfo


def _range(name, default, help, lo, hi):
    return Param(name, default, help, parse=parse_floats, min=lo, max=hi)


SHAPE_PARAMS = (
    _range("cell_radius", (12.0, 26.0), "Mean cell radius range in px, 'lo,hi'.", 2, 1000),
    _range("elongation", (1.0, 2.6), "Aspect-ratio range, 'lo,hi'.", 1, 10),
    Param(
        "irregularity", 0.12, "Amplitude of the shape perturbation (0 = ellipses).", min=0, max=1
    ),
    _range("nucleus_scale", (0.35, 0.55), "Nucleus size relative to its cell, 'lo,hi'.", 0.05, 1),
)
OPTICS_PARAMS = (
    Param("background", 0.08, "Background signal relative to a bright cell.", min=0, max=10),
    _range("cell_intensity", (0.25, 0.75), "Cytoplasm brightness range, 'lo,hi'.", 0, 10),
    Param("nucleus_gain", 1.5, "Nucleus brightness relative to its cytoplasm.", min=0, max=100),
    Param("texture", 0.25, "Relative amplitude of smooth intensity texture.", min=0, max=10),
    Param("vignetting", 0.35, "Brightness loss at the image corners (0..1).", min=0, max=1),
    Param("psf_sigma", 1.2, "Gaussian PSF sigma in px.", min=0, max=20),
    Param("photons", 120.0, "Photons per unit intensity (lower = noisier).", min=1e-3, max=1e6),
    Param("read_noise", 3.0, "Gaussian read noise (sigma, in photons).", min=0, max=1e4),
    Param("bit_depth", 8, "Output bit depth: 8 (uint8), 12 or 16 (uint16).", choices=(8, 12, 16)),
)
CELLS2D_PARAMS = (
    Param(
        "n_cells",
        40,
        "Cells to place per image (fewer if space runs out; at most what the image area holds).",
        min=0,
        max=100_000,
    ),
    *SHAPE_PARAMS[:3],
    Param(
        "max_overlap",
        0.2,
        "Largest fraction of a new cell that may lie over earlier cells (0 = cells only touch).",
        min=0,
        max=1,
    ),
    SHAPE_PARAMS[3],
    *OPTICS_PARAMS,
)
TIMELAPSE_PARAMS = (
    Param("frames", 20, "Frames per sequence.", min=1, max=1000),
    Param("n_cells", 20, "Cells in the first frame.", min=1, max=1000),
    Param("max_cells", 200, "No more divisions once this many cells live.", min=1, max=5000),
    Param("speed", 2.0, "Speed in px/frame along a persistent heading.", min=0, max=1000),
    Param("persistence", 0.8, "How much the heading persists frame to frame (0..1).", min=0, max=1),
    _range("drift", (0.0, 0.0), "Common drift 'dy,dx' in px/frame.", -1000, 1000),
    _range("cycle", (30.0, 50.0), "Cell cycle range in frames 'lo,hi' (0,0: no division).", 0, 1e4),
    _range("cell_radius", (9.0, 14.0), "Mean cell radius range in px, 'lo,hi'.", 2, 1000),
    _range("elongation", (1.0, 2.0), "Aspect-ratio range, 'lo,hi'.", 1, 5),
    Param(
        "irregularity", 0.1, "Amplitude of the shape perturbation (0 = ellipses).", min=0, max=0.5
    ),
    SHAPE_PARAMS[3],
    *OPTICS_PARAMS,
)
TOY_PARAMS = (
    Param("frames", 24, "Frames per sequence.", min=2, max=10_000),
    Param("n_cells", 6, "Cells in the field.", min=1, max=1000),
    _range("velocity", (0.0, 2.0), "Motion 'dy,dx' in px per frame.", -64, 64),
    _range("radius", (4.0, 7.0), "Cell semi-axis range 'lo,hi' in px.", 0.5, 1000),
)


@hookimpl
def register_simulators(register):
    register(
        Component(
            name="cells2d",
            description="Procedural fluorescence-like cells: irregular elongated bodies, nuclei, "
            "vignetting, PSF blur, Poisson + Gaussian camera noise; cell and nucleus labels.",
            target="celltool_simulate.sim2d:simulate_cells",
            params=CELLS2D_PARAMS,
            info=SimulatorInfo(parts=("images", "cells", "nuclei")),
        )
    )
    register(
        Component(
            name="timelapse2d",
            description="Time-lapse of cells2d-like cells that move (persistent random walk "
            "with drift), grow and divide; cell and nucleus labels with ids kept over time and "
            "Cell Tracking Challenge track tables (divisions link daughters to the parent).",
            target="celltool_simulate.timelapse:simulate_sequence",
            params=TIMELAPSE_PARAMS,
            info=SimulatorInfo(parts=("images", "cells", "nuclei"), frames=True),
        )
    )
    register(
        Component(
            name="toy-timelapse",
            description="Toy time-lapse: blurred ellipses translating at a constant velocity "
            "(periodic field), with cell labels per frame. A known motion for checking temporal "
            "models; one sequence folder per item.",
            target="celltool_simulate.toy:simulate_toy",
            params=TOY_PARAMS,
            info=SimulatorInfo(parts=("images", "cells"), frames=True),
        )
    )
