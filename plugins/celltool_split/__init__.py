"""Built-in dataset splitters: where samples are cut from a frame (random crops or whole
frames). Split assignment, layouts, temporal pairs and the CTC export are in celltool split."""

from celltool import hookimpl
from celltool.components import Component, Param, parse_ints


@hookimpl
def register_splitters(register):
    register(
        Component(
            name="crops",
            description="Seeded random crops per frame with a minimum origin distance "
            "(bounded rejection sampling), as the seed's DS_Gen scripts.",
            target="celltool_split.windows:random_crops",
            params=(
                Param("crop", (256, 256), "Crop size 'H,W' (or one number).", parse=parse_ints),
                Param("crops", 4, "Crops per frame."),
                Param(
                    "min_distance",
                    -1.0,
                    "Smallest distance between crop origins in px; -1 = the crop diagonal "
                    "(crops never overlap; the seed's 362 for 256 crops).",
                ),
                Param("max_tries", 1000, "Origin draws per frame before giving up."),
            ),
            info={"samples_param": "crops"},
        )
    )
    register(
        Component(
            name="frames",
            description="Whole frames, one sample per frame.",
            target="celltool_split.windows:whole_frame",
        )
    )
