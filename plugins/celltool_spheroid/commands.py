"""``celltool prototypes`` and ``celltool spheroid-mask``: the inputs of the spheroid simulator
(cell_data_synthesis' extract_phantoms.py, augment_nuclei.py and extract_spheroid_mask.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from celltool.commands.options import OverwriteOpt, SeedOpt
from celltool.pipes import emit

VoxelOpt = Annotated[
    str,
    typer.Option(
        "--voxel-size",
        help="Voxel size 'Z,Y,X' in µm (default: from the file's metadata or manifest).",
        show_default=False,
    ),
]


def prototypes_step(
    volume: Path,
    labels: Path,
    out: Path | None = None,
    *,
    augment: int = 0,
    voxel_size: tuple[float, ...] = (),
    min_voxels: int = 8,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Nucleus prototypes of labelled volumes (each crop holds only its own nucleus, the
    largest piece; nuclei touching the border are dropped), with ``augment`` variants each."""
    import numpy as np

    from celltool.errors import CelltoolError, UsageError
    from celltool.manifest import make_manifest
    from celltool.outputs import OutputFolder, default_output
    from celltool_spheroid.folders import read_stack, stack_files, write_prototypes
    from celltool_spheroid.prototypes import augment_prototypes, extract_prototypes

    if not 0 <= augment <= 1000 or not 1 <= min_voxels <= 10**7:
        raise UsageError("--augment must lie in 0..1000 and --min-voxels in 1..1e7")
    images, masks = stack_files(volume), stack_files(labels)
    if len(images) != len(masks):
        raise CelltoolError(f"{len(images)} volumes but {len(masks)} label volumes", labels)
    protos, voxel = [], None
    for image_path, label_path in zip(images, masks, strict=True):
        image, size = read_stack(image_path, voxel_size)
        mask, _ = read_stack(label_path)
        if image.shape != mask.shape:
            raise CelltoolError(f"shape {mask.shape} differs from {image.shape}", label_path)
        if size is None:
            raise CelltoolError(
                "no voxel size in its metadata: give --voxel-size Z,Y,X", image_path
            )
        if voxel is not None and tuple(size) != tuple(voxel):
            raise CelltoolError(f"voxel size {size} differs from the first volume's", image_path)
        voxel = size
        protos += extract_prototypes(image, mask, min_voxels=min_voxels)
    if not protos:
        raise CelltoolError("no nucleus away from the volume border to use as a prototype", labels)
    if augment:
        protos = augment_prototypes(protos, np.random.default_rng(seed), variants=augment)
    out = Path(out) if out else default_output(volume if volume.is_dir() else volume.parent,
                                               "prototypes")  # fmt: skip
    folder = OutputFolder(out, inputs=[volume, labels], overwrite=overwrite)
    with folder as work:
        write_prototypes(work, protos, voxel)
        folder.manifest = make_manifest(
            "prototypes",
            step="prototypes",
            params={"augment": augment, "min_voxels": min_voxels, "voxel_size": list(voxel)},
            seed=seed,
            inputs=[volume, labels],
            facts={
                "parts": {"images": "images", "labels": "labels"},
                "n": len(protos),
                "voxel_size": list(voxel),
                "image": "float32 in [0, 1]",
                "labels": "uint8 mask of the nucleus",
            },  # fmt: skip
        )
    return out


def spheroid_mask_step(
    volume: Path,
    out: Path | None = None,
    *,
    sigma: float = 5.0,
    voxel_size: tuple[float, ...] = (),
    overwrite: bool = False,
) -> Path:
    """The culture region of each volume (a 3D mask at the volume's voxel size)."""
    import numpy as np

    from celltool.manifest import make_manifest
    from celltool.outputs import OutputFolder, default_output
    from celltool.volumes import write_volume
    from celltool_spheroid.folders import read_stack, stack_files
    from celltool_spheroid.masks import spheroid_mask

    files = stack_files(volume)
    out = Path(out) if out else default_output(volume if volume.is_dir() else volume.parent,
                                               "spheroid-mask")  # fmt: skip
    folder = OutputFolder(out, inputs=[volume], overwrite=overwrite)
    with folder as work:
        sizes = []
        for path in files:
            data, size = read_stack(path, voxel_size)
            mask = spheroid_mask(data, sigma=sigma)
            write_volume(work / f"{path.stem}.tif", mask.astype(np.uint8), voxel_size=size)
            sizes.append(int(mask.sum()))
        folder.manifest = make_manifest(
            "labels",
            step="spheroid-mask",
            params={"sigma": sigma},
            inputs=[volume],
            facts={"target": "spheroid", "mask": "uint8 0/1", "voxels": sizes},
        )
    return out


def _floats(text: str) -> tuple[float, ...]:
    from celltool.errors import UsageError

    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--voxel-size {text!r}: expected Z,Y,X in µm") from None
    if values and (len(values) != 3 or not all(0 < v < 1e4 for v in values)):
        raise UsageError(f"--voxel-size {text!r}: expected 3 positive numbers Z,Y,X in µm")
    return values


def add(app: typer.Typer) -> None:
    @app.command("prototypes")
    def prototypes_command(
        volume: Annotated[Path, typer.Argument(help="A 3D TIFF (or a folder of them).")],
        labels: Annotated[Path, typer.Argument(help="Its nucleus labels (or binary mask).")],
        output: Annotated[
            Optional[Path],
            typer.Option("--output", "-o", help="Output folder.", show_default=False),
        ] = None,
        augment: Annotated[
            int,
            typer.Option(
                "--augment", help="Augmented variants per prototype.", min=0, max=1000
            ),  # fmt: skip
        ] = 0,
        min_voxels: Annotated[
            int, typer.Option("--min-voxels", help="Smallest nucleus kept.", min=1)
        ] = 8,
        voxel_size: VoxelOpt = "",
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
    ) -> None:
        """Nucleus prototypes for `celltool simulate --method spheroid` from a labelled volume
        (each crop keeps only its own nucleus); --augment K adds K variants each (rotation,
        zoom, blur, elastic deformation, contrast/gamma). Prints the folder."""
        emit([prototypes_step(volume, labels, output, augment=augment, min_voxels=min_voxels,
                              voxel_size=_floats(voxel_size), seed=seed,
                              overwrite=overwrite)])  # fmt: skip

    @app.command("spheroid-mask")
    def spheroid_mask_command(
        volume: Annotated[Path, typer.Argument(help="A 3D TIFF (or a folder of them).")],
        output: Annotated[
            Optional[Path],
            typer.Option("--output", "-o", help="Output folder.", show_default=False),
        ] = None,
        sigma: Annotated[
            float, typer.Option("--sigma", help="Gaussian blur in voxels.", min=0, max=100)
        ] = 5.0,
        voxel_size: VoxelOpt = "",
        overwrite: OverwriteOpt = False,
    ) -> None:
        """The spheroid region of real volumes, for `simulate --method spheroid --mask`
        (blur, mean threshold, opening, largest component, holes filled, closing). Prints the
        folder (one mask per volume, same file name)."""
        emit([spheroid_mask_step(volume, output, sigma=sigma, voxel_size=_floats(voxel_size),
                                 overwrite=overwrite)])  # fmt: skip
