"""celltool.volumes: axes and voxel sizes from manifests, celltool/ImageJ/OME TIFF metadata;
OME-TIFF writing."""

from __future__ import annotations

import numpy as np
import pytest

from celltool.errors import CelltoolError
from celltool.imageio import read_image, write_image
from celltool.volumes import (
    Volume,
    read_volume,
    to_channels_first,
    volume_shape,
    write_volume,
)


def _stack(shape=(5, 7, 9), dtype=np.uint16) -> np.ndarray:
    return (np.arange(np.prod(shape)) % 4000).astype(dtype).reshape(shape)


def test_ome_round_trip_keeps_values_axes_and_voxel_size(tmp_path):
    for dtype in (np.uint8, np.uint16, np.float32):
        data = _stack(dtype=dtype)
        path = write_volume(tmp_path / f"v_{np.dtype(dtype).name}.tif", data,
                            voxel_size=(2.0, 0.25, 0.125))  # fmt: skip
        volume = read_volume(path)
        assert volume.data.dtype == dtype and np.array_equal(volume.data, data)
        assert volume.axes == "ZYX" and volume.voxel_size == (2.0, 0.25, 0.125)
        assert volume.shape == (5, 7, 9) and volume.dims == 3
    assert volume_shape(path) == ((5, 7, 9), "ZYX")
    # celltool's plain reader reads it too (lossless)
    assert np.array_equal(read_image(path), data)
    # no temp files left beside it (atomic write)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "v_float32.tif", "v_uint16.tif", "v_uint8.tif"]  # fmt: skip


def test_ome_units_are_converted_to_micrometres(tmp_path):
    import tifffile

    data = _stack()
    tifffile.imwrite(tmp_path / "nm.ome.tif", data, ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeZ": 1500.0, "PhysicalSizeZUnit": "nm",
        "PhysicalSizeY": 250.0, "PhysicalSizeYUnit": "nm",
        "PhysicalSizeX": 250.0, "PhysicalSizeXUnit": "nm"})  # fmt: skip
    assert read_volume(tmp_path / "nm.ome.tif").voxel_size == pytest.approx((1.5, 0.25, 0.25))


def test_imagej_hyperstack_spacing_and_resolution(tmp_path):
    import tifffile

    data = _stack()
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, resolution=(1 / 0.3, 1 / 0.3),
                     metadata={"spacing": 1.5, "unit": "micron", "axes": "ZYX"})  # fmt: skip
    volume = read_volume(tmp_path / "ij.tif")
    assert volume.axes == "ZYX" and volume.voxel_size == pytest.approx((1.5, 0.3, 0.3))
    # a two-channel hyperstack: channels first, spatial order kept
    two = np.stack([data, data + 1], axis=1)  # Z C Y X
    tifffile.imwrite(tmp_path / "ij2.tif", two.astype(np.uint16), imagej=True,
                     resolution=(2.0, 2.0), metadata={"spacing": 2, "unit": "um",
                                                      "axes": "ZCYX"})  # fmt: skip
    volume = read_volume(tmp_path / "ij2.tif")
    assert volume.axes == "ZCYX" and volume.voxel_size == pytest.approx((2.0, 0.5, 0.5))
    cf = volume.channels_first()
    assert cf.shape == (2, 5, 7, 9) and np.array_equal(cf[1], data + 1)
    # ImageJ without a unit: no voxel size (pixels are not micrometres)
    tifffile.imwrite(tmp_path / "px.tif", data, imagej=True, metadata={"axes": "ZYX"})
    assert read_volume(tmp_path / "px.tif").voxel_size is None


def test_celltool_axes_metadata_and_manifest_voxel_size(tmp_path):
    data = _stack()
    write_image(tmp_path / "c.tif", data, axes="ZYX")
    volume = read_volume(tmp_path / "c.tif")
    assert volume.axes == "ZYX" and volume.voxel_size is None
    manifest = {"facts": {"voxel_size": [1.0, 0.5, 0.5]}}
    assert read_volume(tmp_path / "c.tif", manifest).voxel_size == (1.0, 0.5, 0.5)
    # the manifest wins over what the file says
    write_volume(tmp_path / "o.tif", data, voxel_size=(3.0, 1.0, 1.0))
    assert read_volume(tmp_path / "o.tif", manifest).voxel_size == (1.0, 0.5, 0.5)
    # a plain multipage TIFF without metadata: (Z, Y, X) by shape
    import tifffile

    tifffile.imwrite(tmp_path / "plain.tif", data)
    assert read_volume(tmp_path / "plain.tif").axes == "ZYX"


def test_2d_images_are_unaffected(tmp_path):
    gray = np.arange(35, dtype=np.uint8).reshape(5, 7)
    rgb = np.stack([gray, gray // 2, gray // 3], axis=-1)
    write_image(tmp_path / "g.png", gray)
    write_image(tmp_path / "rgb.png", rgb)
    g = read_volume(tmp_path / "g.png")
    assert g.axes == "YX" and g.dims == 2 and np.array_equal(g.data, gray)
    assert g.channels_first().shape == (1, 5, 7)
    c = read_volume(tmp_path / "rgb.png", {"facts": {"voxel_size": [2.0, 0.5, 0.5]}})
    assert c.axes == "YXC" and c.shape == (5, 7) and c.voxel_size == (0.5, 0.5)
    assert np.array_equal(c.channels_first()[1], gray // 2)
    write_volume(tmp_path / "g.tif", gray, voxel_size=(0.5, 0.25))
    g2 = read_volume(tmp_path / "g.tif")
    assert g2.axes == "YX" and g2.voxel_size == (0.5, 0.25) and np.array_equal(g2.data, gray)
    assert volume_shape(tmp_path / "g.png") == ((5, 7), "YX")


def test_write_refuses_what_it_cannot_hold(tmp_path):
    data = _stack()
    with pytest.raises(CelltoolError, match="OME-TIFF"):
        write_volume(tmp_path / "v.png", data)
    with pytest.raises(CelltoolError, match="voxel size"):
        write_volume(tmp_path / "v.tif", data, voxel_size=(1.0, 1.0))
    with pytest.raises(CelltoolError, match="axes"):
        write_volume(tmp_path / "v.tif", data, axes="YX")
    with pytest.raises(CelltoolError, match="cannot read"):
        (tmp_path / "bad.tif").write_bytes(b"not a tiff")
        read_volume(tmp_path / "bad.tif")


def test_channels_first_orders_axes():
    a = np.zeros((2, 3, 4, 5))
    a[1, 2, 3, 4] = 1
    assert to_channels_first(a, "ZYXC").shape == (5, 2, 3, 4)
    assert to_channels_first(a, "CZYX").shape == (2, 3, 4, 5)
    assert to_channels_first(a[:1], "TZYX").shape == (1, 3, 4, 5)  # T of 1 dropped
    with pytest.raises(ValueError, match="not supported"):
        to_channels_first(a, "TZYX")
    assert Volume(a, "ZCYX").channels_first()[2, 1, 3, 4] == 1  # (Z1, C2, Y3, X4) → [C, Z, Y, X]
