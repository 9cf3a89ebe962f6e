"""Built-in 2D simulator: fluorescence-like cells with exact ground truth (the embedded default)."""

from celltool import hookimpl
from celltool.components import Component, Param, parse_floats
from celltool.contracts import SimulatorInfo


@hookimpl
def register_simulators(register):
    register(
        Component(
            name="cells2d",
            description="Procedural fluorescence-like cells: irregular elongated bodies, nuclei, "
            "vignetting, PSF blur, Poisson + Gaussian camera noise; cell and nucleus labels.",
            target="celltool_simulate.sim2d:simulate_cells",
            params=(
                Param("n_cells", 40, "Cells to place per image (fewer if space runs out)."),
                Param(
                    "cell_radius",
                    (12.0, 26.0),
                    "Mean cell radius range in px, 'lo,hi'.",
                    parse=parse_floats,
                ),
                Param("elongation", (1.0, 2.6), "Aspect-ratio range, 'lo,hi'.", parse=parse_floats),
                Param("irregularity", 0.12, "Amplitude of the shape perturbation (0 = ellipses)."),
                Param(
                    "max_overlap",
                    0.2,
                    "Largest fraction of a new cell that may lie over "
                    "earlier cells (0 = cells only touch).",
                ),
                Param(
                    "nucleus_scale",
                    (0.35, 0.55),
                    "Nucleus size relative to its cell, 'lo,hi'.",
                    parse=parse_floats,
                ),
                Param("background", 0.08, "Background signal relative to a bright cell."),
                Param(
                    "cell_intensity",
                    (0.25, 0.75),
                    "Cytoplasm brightness range, 'lo,hi'.",
                    parse=parse_floats,
                ),
                Param("nucleus_gain", 1.5, "Nucleus brightness relative to its cytoplasm."),
                Param("texture", 0.25, "Relative amplitude of smooth intensity texture."),
                Param("vignetting", 0.35, "Brightness loss at the image corners (0..1)."),
                Param("psf_sigma", 1.2, "Gaussian PSF sigma in px."),
                Param("photons", 120.0, "Photons per unit intensity (lower = noisier)."),
                Param("read_noise", 3.0, "Gaussian read noise (sigma, in photons)."),
                Param(
                    "bit_depth",
                    8,
                    "Output bit depth: 8 (uint8), 12 or 16 (uint16).",
                    choices=(8, 12, 16),
                ),
            ),
            info=SimulatorInfo(parts=("images", "cells", "nuclei")),
        )
    )
    register(
        Component(
            name="toy-timelapse",
            description="Toy time-lapse: blurred ellipses translating at a constant velocity "
            "(periodic field), with cell labels per frame. A known motion for checking temporal "
            "models; one sequence folder per item.",
            target="celltool_simulate.toy:simulate_toy",
            params=(
                Param("frames", 24, "Frames per sequence.", min=2, max=10_000),
                Param("n_cells", 6, "Cells in the field.", min=1, max=1000),
                Param(
                    "velocity",
                    (0.0, 2.0),
                    "Motion 'dy,dx' in px per frame.",
                    parse=parse_floats,
                    min=-64,
                    max=64,
                ),
                Param(
                    "radius",
                    (4.0, 7.0),
                    "Cell semi-axis range 'lo,hi' in px.",
                    parse=parse_floats,
                    min=0.5,
                    max=1000,
                ),
            ),
            info=SimulatorInfo(parts=("images", "cells"), frames=True),
        )
    )
