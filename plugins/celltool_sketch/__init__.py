"""Built-in sketch builder: Biomedical-Image-Generation's reference classes (wound, tissue,
cytoplasm layers, boundaries, nuclei) from cell and nucleus instance maps."""

from celltool import hookimpl
from celltool.components import Component, Param, parse_floats, parse_ints
from celltool.contracts import SketcherInfo


@hookimpl
def register_sketchers(register):
    register(
        Component(
            name="reference",
            description="Biomedical-Image-Generation's Reference1/2/3 class sets (levels "
            "4/7/9) and the binary cell sketch (levels 1), vectorised; gray codes "
            "uint8(linspace(0,255,n)).",
            target="celltool_sketch.sketcher:make",
            params=(
                Param(
                    "levels",
                    4,
                    "Class set: 4 (5 labels), 7 (8 labels: 3 cytoplasm layers), 9 (10 labels: "
                    "5 layers), 1 (binary cell/background).",
                    choices=(1, 4, 7, 9),
                ),
                Param(
                    "limits",
                    (),
                    "Layer bounds 'a,b' (levels 7; levels 9: outer limits, or 4 bounds); "
                    "default: quantiles over all cells of all images (9: outer 55,95).",
                    parse=parse_floats,
                    min=0,
                    max=255,
                ),
                Param(
                    "radii",
                    (),
                    "Wound radii 'pad,open,grow,shrink' in px; default: Biomedical-Image-"
                    "Generation's 60,60,140,50 scaled by sqrt(H*W / (1536*2048)).",
                    parse=parse_ints,
                    min=1,
                    max=4096,
                ),
                Param("wound", True, "Paint the wound zone (off: all non-cell pixels are tissue)."),
                Param("thickness", 1, "Boundary width in px (inner contours).", min=1, max=64),
                Param(
                    "dilate",
                    False,
                    "Thicken cytoplasm boundaries by a 3x3 dilation (Reference1's option).",
                ),
            ),
            info=SketcherInfo(binary_input=True),
        )
    )
