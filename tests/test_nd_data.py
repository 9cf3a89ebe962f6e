"""N-D augmentation (celltool.training.nd) and the generic data sets
(celltool.training.datasets): seeded, aligned, resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from celltool.errors import CelltoolError
from celltool.manifest import make_manifest, write_manifest
from celltool.training.nd import augment_nd, center_crop_nd, crop_axes, parse_sizes
from celltool.volumes import write_volume

torch = pytest.importorskip("torch")


def _labelled(shape=(6, 20, 20), seed=0):
    """An image whose value encodes its voxel position and a label map derived from it."""
    rng = np.random.default_rng(seed)
    image = rng.random((1, *shape)).astype(np.float32)
    labels = (image * 1000).astype(np.int32) % 17  # a function of the image voxel
    return image, labels


@pytest.mark.parametrize("shape, crop", [((6, 20, 20), (4, 12, 12)), ((20, 24), (16, 16))])
def test_augment_keeps_image_and_labels_aligned(shape, crop):
    image, labels = _labelled(shape)
    seen_rot = set()
    for seed in range(40):
        out_img, out_lab = augment_nd([image, labels], np.random.default_rng(seed), crop=crop)
        assert out_img.shape == (1, *crop) and out_lab.shape == (1, *crop)
        assert out_lab.dtype == labels.dtype  # labels keep their values (no resampling)
        assert np.array_equal((out_img * 1000).astype(np.int32) % 17, out_lab)
        # the crop is a rigid copy of a block of the input: its voxels appear in the input
        assert np.isin(out_img, image).all()
        seen_rot.add(_orientation(image, out_img))
    assert len(seen_rot) == 8  # 2 flips × 4 rotations all occur (square YX crops)


def _orientation(image: np.ndarray, crop: np.ndarray) -> tuple[int, bool]:
    """Which of the 8 YX symmetries maps some block of ``image`` onto ``crop``."""
    for k in range(4):
        for flip in (False, True):
            c = np.rot90(crop, -k, axes=(-2, -1))
            c = np.flip(c, -1) if flip else c
            win = np.lib.stride_tricks.sliding_window_view(image, c.shape)
            if (win == c).all(axis=tuple(range(-c.ndim, 0))).any():
                return k, flip
    raise AssertionError("crop is not a rigid copy")


def test_augment_is_seeded_and_rotation_only_for_square_crops():
    image, _ = _labelled((6, 20, 24))
    a = augment_nd([image], np.random.default_rng(3), crop=(4, 8, 16))
    b = augment_nd([image], np.random.default_rng(3), crop=(4, 8, 16))
    assert np.array_equal(a[0], b[0])
    for seed in range(20):  # non-square YX crop: shape always kept (no quarter turns)
        assert augment_nd([image], np.random.default_rng(seed), crop=(4, 8, 16))[0].shape == (
            1, 4, 8, 16)  # fmt: skip
    # no flips, no rotation: a plain crop
    plain = augment_nd([image], np.random.default_rng(1), crop=(6, 20, 24), flip=False,
                       rotate=False)  # fmt: skip
    assert np.array_equal(plain[0], image)  # crop == volume is fine (the original crashed)


def test_smaller_than_crop_is_refused_naming_the_file():
    image, _ = _labelled((6, 20, 20))
    with pytest.raises(CelltoolError, match=r"volume 6×20×20 is smaller than the crop 8×16×16"):
        augment_nd([image], np.random.default_rng(0), crop=(8, 16, 16), path=Path("v.tif"))
    assert center_crop_nd(image, (4, 10, 10)).shape == (1, 4, 10, 10)


def test_crop_sizes_parse():
    assert parse_sizes("32,256,256") == (32, 256, 256)
    assert parse_sizes("[32, 64, 64]") == (32, 64, 64) == parse_sizes("32x64x64")
    assert crop_axes("16", 3) == (16, 16, 16) and crop_axes(64, 2) == (64, 64)
    assert crop_axes((32, 256, 256), 2) == (256, 256)  # Z,Y,X on images: Y,X
    with pytest.raises(ValueError):
        crop_axes((64, 64), 3)
    for bad in ("0,4,4", "a,b", "1,2,3,4", "99999999"):
        with pytest.raises(ValueError):
            parse_sizes(bad)


# -- data sets -------------------------------------------------------------------------------
def make_volumes(folder: Path, n: int, *, shape=(8, 24, 24), seed=0, value=None,
                 bit_depth=8, container=False) -> Path:  # fmt: skip
    """n uint8/uint16 volumes; as a simulation container (images + nuclei) when asked."""
    rng = np.random.default_rng(seed)
    images = folder / "images" if container else folder
    images.mkdir(parents=True)
    dtype = np.uint8 if bit_depth <= 8 else np.uint16
    for i in range(n):
        v = rng.integers(0, 2**bit_depth, shape) if value is None else np.full(shape, value)
        write_volume(images / f"v{i}.tif", v.astype(dtype), voxel_size=(2.0, 0.5, 0.5))
    if container:
        (folder / "nuclei").mkdir()
        for i in range(n):
            write_volume(folder / "nuclei" / f"v{i}.tif", np.ones(shape, np.uint16))
        facts = {"bit_depth": bit_depth}
        write_manifest(images, make_manifest("images", step="simulate", facts=facts))
        write_manifest(folder / "nuclei", make_manifest("labels", step="simulate", facts={}))
        write_manifest(folder, make_manifest("simulation", step="simulate", facts={
            "parts": {"images": "images", "nuclei": "nuclei"}, "bit_depth": bit_depth,
            "voxel_size": [1.0, 0.25, 0.25]}))  # fmt: skip
    return folder


CONFIG = {"seed": 0, "crop_size": (4, 16, 16), "flip": True, "rotate": True}


def test_image_set_dataset_items_info_and_resume(tmp_path):
    from celltool.training.datasets import ImageSetDataset

    folder = make_volumes(tmp_path / "sim", 3, bit_depth=12, container=True)
    ds = ImageSetDataset(folder, CONFIG, train=True)
    info = ds.info
    assert info["in_channels"] == 1 and info["bit_depth"] == 12 and info["dims"] == 3
    assert info["size"] == [8, 24, 24] and info["crop"] == [4, 16, 16] and info["n_train"] == 3
    assert info["voxel_size"] == [1.0, 0.25, 0.25]  # the manifest wins over the files
    item = ds[(2, 1)]
    assert item["image"].shape == (1, 4, 16, 16) and item["name"] == "v1"
    assert item["image"].dtype == torch.float32
    assert -1 <= float(item["image"].min()) and float(item["image"].max()) <= 1
    assert float(item["image"].max()) > 0.9  # 12-bit values scaled by 4095, not 65535
    again = ImageSetDataset(folder, CONFIG, train=True)  # a resumed run: same item
    assert torch.equal(again[(2, 1)]["image"], item["image"])
    assert not torch.equal(ds[(3, 1)]["image"], item["image"])  # another epoch, another crop
    grid = ImageSetDataset(folder, CONFIG, train=False)[(0, 1)]["image"]
    assert torch.equal(grid, ImageSetDataset(folder, CONFIG, train=False)[(5, 1)]["image"])


def test_percentile_normalisation_uses_the_data_range(tmp_path):
    from celltool.training.datasets import ImageSetDataset

    folder = tmp_path / "real"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        write_volume(folder / f"r{i}.tif", (100 + rng.integers(0, 300, (8, 24, 24))).astype(
            np.uint16))  # fmt: skip
    plain = ImageSetDataset(folder, CONFIG, train=False)
    assert float(plain[0]["image"].max()) < -0.98  # 16 bits: the data fills < 1 % of it
    ds = ImageSetDataset(folder, {**CONFIG, "normalize": "percentile"}, train=False)
    lo, hi = ds.info["intensity_range"]
    assert 99 < lo < 102 and 396 < hi < 400
    x = ds[0]["image"]
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0 and abs(float(x.mean())) < 0.1


def test_unpaired_dataset_is_seeded_unpaired_and_checks_domains(tmp_path):
    from celltool.training.datasets import UnpairedDataset

    a = make_volumes(tmp_path / "real", 5, seed=1)
    b = make_volumes(tmp_path / "sim", 3, seed=2, container=True)
    ds = UnpairedDataset(a, b, CONFIG, train=True, driving="B")
    assert len(ds) == 3 and ds.info["n_train"] == 3 and ds.info["driving"] == "B"
    assert set(ds.info["domains"]) == {"A", "B"}
    item = ds[(4, 2)]
    assert item["B_name"] == "v2" and item["name"] == "v2"
    assert item["A"].shape == item["B"].shape == (1, 4, 16, 16)
    # the partner comes from default_rng([seed, epoch, index, 7])
    rng = np.random.default_rng([0, 4, 2, 7])
    assert item["A_name"] == f"v{int(rng.integers(0, 5))}"
    again = UnpairedDataset(a, b, CONFIG, train=True, driving="B")[(4, 2)]
    assert torch.equal(again["A"], item["A"]) and torch.equal(again["B"], item["B"])
    partners = {ds[(e, 0)]["A_name"] for e in range(30)}
    assert len(partners) >= 4  # unpaired: the partner changes from epoch to epoch
    # the B item alone is augmented exactly as a single-folder data set would do it
    from celltool.training.datasets import ImageSetDataset

    single = ImageSetDataset(b, CONFIG, train=True)[(4, 2)]["image"]
    assert torch.equal(single, item["B"])
    driving_a = UnpairedDataset(a, b, CONFIG, train=True, driving="A")
    assert len(driving_a) == 5
    # domains must agree in dimensionality and channels
    flat = tmp_path / "flat"
    flat.mkdir()
    from celltool.imageio import write_image

    write_image(flat / "x.png", np.zeros((32, 32), np.uint8))
    with pytest.raises(CelltoolError, match="is 2D while"):
        UnpairedDataset(a, flat, CONFIG, train=True)  # (4, 16, 16): Y,X on the image
    small = make_volumes(tmp_path / "small", 1, shape=(2, 24, 24))
    with pytest.raises(CelltoolError, match="smaller than the crop"):
        UnpairedDataset(a, small, CONFIG, train=True)
