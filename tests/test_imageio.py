"""Image I/O: every dtype/channel/stack round trip, natural sort, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from celltool.errors import CelltoolError
from celltool.imageio import (
    bit_depth_of,
    iter_images,
    list_images,
    natural_key,
    read_image,
    tiff_axes,
    write_image,
    write_labels,
)

RNG = np.random.default_rng(7)


def random_array(dtype, shape):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return RNG.normal(0, 1000, size=shape).astype(dtype)  # negative and fractional values
    info = np.iinfo(dtype)
    arr = RNG.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    arr.flat[0], arr.flat[1] = info.min, info.max  # full range survives
    return arr


PNG_CASES = [
    (dtype, shape)
    for dtype in (np.uint8, np.uint16)
    for shape in ((17, 23), (17, 23, 3), (17, 23, 4))
]
TIFF_CASES = [
    (dtype, shape, axes)
    for dtype in (np.uint8, np.uint16, np.float32)
    for shape, axes in (
        ((17, 23), "YX"),
        ((17, 23, 3), "YXC"),
        ((17, 23, 4), "YXC"),
        ((17, 23, 2), "YXC"),
        ((5, 17, 23), "CYX"),  # 5-channel, channels first
        ((6, 17, 23), "ZYX"),  # 3D stack
        ((4, 17, 23, 2), "ZYXC"),
    )
]


@pytest.mark.parametrize(("dtype", "shape"), PNG_CASES)
def test_png_round_trip_keeps_dtype_values_and_channels(tmp_path, dtype, shape):
    image = random_array(dtype, shape)
    path = write_image(tmp_path / "a.png", image)
    back = read_image(path)
    assert back.dtype == image.dtype and back.shape == image.shape
    np.testing.assert_array_equal(back, image)
    # write → read → write → read again: nothing drifts
    back2 = read_image(write_image(tmp_path / "b.png", back))
    np.testing.assert_array_equal(back2, image)
    assert bit_depth_of(back2) == np.dtype(dtype).itemsize * 8


def test_png_rgb_channel_order_is_rgb(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 255  # pure red
    write_image(tmp_path / "red.png", image)
    import cv2

    raw = cv2.imread(str(tmp_path / "red.png"), cv2.IMREAD_UNCHANGED)  # BGR on disk
    assert raw[0, 0].tolist() == [0, 0, 255]
    assert read_image(tmp_path / "red.png")[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize(("dtype", "shape", "axes"), TIFF_CASES)
def test_tiff_round_trip_keeps_dtype_values_and_axes(tmp_path, dtype, shape, axes):
    image = random_array(dtype, shape)
    path = write_image(tmp_path / "a.tif", image, axes=axes)
    back = read_image(path)
    assert back.dtype == image.dtype and back.shape == image.shape
    np.testing.assert_array_equal(back, image)
    assert tiff_axes(path) == axes
    back2 = read_image(write_image(tmp_path / "b.tiff", back, axes=tiff_axes(path)))
    np.testing.assert_array_equal(back2, image)
    # an independent reader sees the same pixels
    np.testing.assert_array_equal(tifffile.imread(path), image)


def test_default_axes_for_stacks(tmp_path):
    write_image(tmp_path / "z.tif", random_array(np.uint16, (7, 9, 9)))
    assert tiff_axes(tmp_path / "z.tif") == "ZYX"
    write_image(tmp_path / "c.tif", random_array(np.uint8, (9, 9, 3)))
    assert tiff_axes(tmp_path / "c.tif") == "YXC"


def test_bit_depth_of():
    assert bit_depth_of(np.zeros(1, np.uint8)) == 8
    assert bit_depth_of(np.zeros(1, np.uint16)) == 16
    assert bit_depth_of(np.zeros(1, np.float32)) is None


def test_png_refuses_float_and_odd_channels(tmp_path):
    with pytest.raises(
        CelltoolError, match=r"a\.png: PNG cannot hold float32 exactly; write \.tif"
    ):
        write_image(tmp_path / "a.png", np.zeros((4, 4), np.float32))
    with pytest.raises(CelltoolError, match="write .tif"):
        write_image(tmp_path / "b.png", np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(CelltoolError, match="write .tif"):
        write_image(tmp_path / "c.png", np.zeros((3, 4, 4, 1), np.uint8))
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("name", ["a.jpg", "a.jpeg", "a.bmp", "a.gif"])
def test_lossy_or_unknown_formats_are_never_written(tmp_path, name):
    with pytest.raises(CelltoolError, match="writes only .png and .tif"):
        write_image(tmp_path / name, np.zeros((4, 4), np.uint8))
    with pytest.raises(CelltoolError, match="writes only .png and .tif"):
        write_labels(tmp_path / name, np.zeros((4, 4), np.uint16))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_labels_are_written_as_uint16(tmp_path, ext):
    labels = np.zeros((20, 20), np.int64)
    labels[2:5, 2:5] = 1
    labels[10:15, 10:15] = 300  # > 255: would not survive uint8
    back = read_image(write_labels(tmp_path / f"l{ext}", labels))
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, labels)


def test_labels_refuse_float_and_out_of_range(tmp_path):
    with pytest.raises(CelltoolError, match="must be integer"):
        write_labels(tmp_path / "l.png", np.zeros((3, 3), np.float32))
    with pytest.raises(CelltoolError, match="0..65535"):
        write_labels(tmp_path / "l.png", np.full((3, 3), 70000, np.int32))
    with pytest.raises(CelltoolError, match="0..65535"):
        write_labels(tmp_path / "l.png", np.full((3, 3), -1, np.int32))


def test_natural_sort(tmp_path):
    names = ["img10.png", "img2.png", "img1.png", "IMG3.png", "img1b.tif"]
    for name in names:
        write_image(tmp_path / name, np.zeros((4, 4), np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.png").write_bytes(b"")
    got = [p.name for p in list_images(tmp_path)]
    assert got == ["img1.png", "img1b.tif", "img2.png", "IMG3.png", "img10.png"]
    assert sorted(names, key=natural_key)[0] == "img1.png"
    assert [p.name for p, _ in iter_images(tmp_path)] == got


def test_empty_and_missing_folders_name_the_folder(tmp_path):
    with pytest.raises(CelltoolError, match=f"{tmp_path}: holds no images"):
        list_images(tmp_path)
    assert list_images(tmp_path, allow_empty=True) == []
    with pytest.raises(CelltoolError, match="does not exist"):
        list_images(tmp_path / "nope")
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(CelltoolError, match="is not a folder"):
        list_images(tmp_path / "f.png")


@pytest.mark.parametrize("name", ["bad.png", "bad.tif", "bad.jpg", "empty.png"])
def test_corrupt_files_give_one_line_errors_naming_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"" if name.startswith("empty") else b"this is not an image at all")
    with pytest.raises(CelltoolError) as info:
        read_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_non_image_file_is_refused(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n")
    with pytest.raises(CelltoolError, match=r"table\.csv: not an image file"):
        read_image(path)


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    write_image(tmp_path / "a.png", np.ones((4, 4), np.uint8))
    write_image(tmp_path / "a.png", np.full((4, 4), 2, np.uint8))  # replace in place
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert read_image(tmp_path / "a.png")[0, 0] == 2
