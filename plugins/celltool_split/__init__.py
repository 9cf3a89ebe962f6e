"""Built-in dataset splitters: where samples are cut from a frame (random crops or whole
frames). Split assignment, layouts, temporal pairs and the CTC export are in celltool split."""

from celltool import hookimpl
from celltool.components import Component, Param, parse_ints
from celltool.contracts import SplitterInfo


@hookimpl
def register_splitters(register):
    register(
        Component(
            name="crops",
            description="Seeded random crops per frame with a minimum origin distance "
            "(bounded rejection sampling), as Biomedical-Image-Generation's DS_Gen scripts.",
            target="celltool_split.windows:random_crops",
            params=(
                Param(
                    "crop",
                    (256, 256),
                    "Crop size 'H,W' (or one number).",
                    parse=parse_ints,
                    min=1,
                    max=65535,
                ),
                Param("crops", 4, "Crops per frame.", min=1, max=10_000),
                Param(
                    "min_distance",
                    -1.0,
                    "Smallest distance between crop origins in px; -1 = the crop diagonal "
                    "(crops never overlap; DS_Gen's 362 for 256 crops).",
                    min=-1,
                    max=1e6,
                ),
                Param(
                    "max_tries", 1000, "Origin draws per frame before giving up.", min=1, max=10**7
                ),
            ),
            info=SplitterInfo(samples_param="crops"),
        )
    )
    register(
        Component(
            name="frames",
            description="Whole frames, one sample per frame.",
            target="celltool_split.windows:whole_frame",
        )
    )
