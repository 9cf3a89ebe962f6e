"""Bad data is one line naming the file: broken manifests, impossible bit depths, two inputs
with one stem, images too large to decode, 3D stacks where 2D images are expected, and every
file a temporal data set lists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fuzz_cases import run_cli
from test_train import make_pairs

from celltool.errors import CelltoolError
from celltool.imageio import write_image
from celltool.manifest import read_manifest


def one_error(outcome, code: int = 1) -> str:
    assert outcome.code == code, outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("celltool: error: "), outcome.stderr
    return lines[0]


def edit_manifest(folder: Path, **changes) -> Path:
    path = folder / "celltool.json"
    record = json.loads(path.read_text())
    for key, value in changes.items():
        if key.startswith("facts."):
            record["facts"][key[6:]] = value
        else:
            record[key] = value
    path.write_text(json.dumps(record))
    return path


TINY = ["--epochs", "1", "--netG", "unet_32", "--ngf", "2", "--ndf", "2", "--crop-size", "32",
        "--preprocess", "crop", "--samples", "0", "--threads", "1"]  # fmt: skip


@pytest.mark.parametrize("depth", [0, -5, 64, 12.5, "8", True])
def test_impossible_bit_depth_in_a_manifest_is_refused(tmp_path, depth):
    """facts.bit_depth 0 trained to NaN losses with exit 0; 64 on uint8 data scaled it to 0."""
    pairs = make_pairs(tmp_path, n=4, size=32)
    manifest = edit_manifest(pairs, **{"facts.bit_depth": depth})
    line = one_error(run_cli(["train", "pix2pix", str(pairs), "-o", str(tmp_path / "r"), *TINY]))
    assert str(manifest) in line and "facts.bit_depth" in line
    assert not (tmp_path / "r").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["pairs"]  # no partial run either


def test_bit_depth_must_fit_the_images(tmp_path):
    pairs = make_pairs(tmp_path, n=4, size=32)  # uint8 images
    edit_manifest(pairs, **{"facts.bit_depth": 12})
    line = one_error(run_cli(["train", "pix2pix", str(pairs), "-o", str(tmp_path / "r"), *TINY]))
    assert "facts.bit_depth 12 does not fit its uint8 images" in line


def test_evaluate_checks_recorded_bit_depths(tmp_path):
    real, gen = tmp_path / "real", tmp_path / "gen"
    for folder in (real, gen):
        folder.mkdir()
        write_image(folder / "a.png", np.full((16, 16), 9, np.uint8))
    (gen / "celltool.json").write_text(json.dumps({"kind": "generated", "facts": {"bit_depth": 0}}))
    line = one_error(run_cli(["evaluate", str(real), str(gen), "-o", str(tmp_path / "m")]))
    assert f"{gen / 'celltool.json'}: facts.bit_depth 0 is not a bit depth" in line


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ({"kind": "images", "facts": []}, "manifest field 'facts' is 'list', expected an object"),
        ({"kind": 3}, "manifest field 'kind' is 'int', expected a string"),
        ({"kind": "simulation", "facts": {"parts": "images"}}, "'facts.parts' must map"),
        ({"kind": "simulation", "facts": {"parts": {"images": 1}}}, "'facts.parts' must map"),
        ({"kind": "images", "params": "x"}, "manifest field 'params' is 'str'"),
    ],
)
def test_manifest_of_the_wrong_shape_names_the_file(tmp_path, record, says):
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "a.png", np.zeros((32, 32), np.uint8))
    (folder / "celltool.json").write_text(json.dumps(record))
    with pytest.raises(CelltoolError, match="manifest"):
        read_manifest(folder)
    line = one_error(run_cli(["segment", str(folder), "-o", str(tmp_path / "s")]))
    assert str(folder / "celltool.json") in line and says in line
    assert "Error:" not in line  # no exception class names


# -- two inputs with one stem ----------------------------------------------------------------
def test_two_images_with_one_stem_are_refused(tmp_path):
    """x.png and x.jpg made segment and sketch write one output for two inputs, and
    `sketch --masks` pick one mask silently."""
    import cv2

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    image = np.zeros((32, 32), np.uint8)
    image[8:20, 8:20] = 200
    write_image(imgs / "x.png", image)
    cv2.imwrite(str(imgs / "x.jpg"), image)
    line = one_error(run_cli(["segment", str(imgs), "-o", str(tmp_path / "s")]))
    assert f"{imgs}: holds two images named 'x' (x.jpg and x.png)" in line
    # the masks of `sketch --masks`: one image, two masks of its stem
    (imgs / "x.jpg").unlink()
    masks = tmp_path / "masks"
    masks.mkdir()
    write_image(masks / "x.png", image)
    write_image(masks / "x.tif", 255 - image)
    argv = ["sketch", str(imgs), "--masks", str(masks), "--levels", "1"]
    line = one_error(run_cli([*argv, "-o", str(tmp_path / "k")]))
    assert f"{masks}: holds two images named 'x'" in line
    for argv in (
        ["split", str(imgs), "--masks", str(masks), "-m", "frames"],
        ["evaluate", str(imgs), str(masks), "--metrics", "mae"],
    ):
        assert "holds two images named 'x'" in one_error(
            run_cli([*argv, "-o", str(tmp_path / "o")])
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs", "masks"]


# -- bounded work ----------------------------------------------------------------------------
def claim_size(path: Path, height: int, width: int) -> None:
    """Patch an image file's header to claim ``height × width`` (the pixels stay small)."""
    import struct
    import zlib

    data = bytearray(path.read_bytes())
    if path.suffix == ".png":
        data[16:24] = struct.pack(">II", width, height)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    else:  # JPEG: the SOF0 frame header
        at = data.index(b"\xff\xc0")
        data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))


@pytest.fixture
def memory_cap():
    """Cap this process's address space while the test runs: a size check that fails must not
    take the (shared) machine's memory, only fail the test."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    status = Path("/proc/self/status").read_text()
    used = int(next(x for x in status.splitlines() if x.startswith("VmSize:")).split()[1]) * 1024
    cap = used + 3 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize(("name", "side"), [("big.png", 20000), ("huge.png", 100000),
                                             ("big.jpg", 20000), ("big.tif", 20000)])  # fmt: skip
def test_images_too_large_are_refused_before_decoding(tmp_path, name, side, memory_cap):
    """A valid 20000² PNG of 389 KB made segment run for minutes; a header claiming 100000²
    gave a raw OpenCV assertion over several lines."""
    import cv2
    import tifffile

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    path = imgs / name
    if name.endswith(".tif"):
        tifffile.imwrite(path, shape=(side, side), dtype=np.uint8)  # a sparse file
    else:
        cv2.imwrite(str(path), np.zeros((16, 16), np.uint8))
        claim_size(path, side, side)
    outcome = run_cli(["segment", str(imgs), "-o", str(tmp_path / "s")])
    line = one_error(outcome)
    assert f"{path}: image of {side}x{side} is larger than celltool decodes" in line
    assert outcome.seconds < 5


def test_libpng_messages_stay_inside_one_line(tmp_path, capfd):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    write_image(imgs / "a.png", np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    data = bytearray((imgs / "a.png").read_bytes())
    data[data.index(b"IDAT") + 20] ^= 0xFF  # a broken deflate stream
    (imgs / "a.png").write_bytes(bytes(data))
    from celltool.imageio import read_image

    with pytest.raises(CelltoolError, match="cannot read image") as err:
        read_image(imgs / "a.png")
    assert "\n" not in str(err.value)
    assert capfd.readouterr().err == ""  # libpng wrote nothing to the terminal


def test_cell_counts_and_workers_are_bounded(tmp_path):
    """`simulate --size 32 --n-cells 100000` ran for over 6 minutes; `train --workers 10000`
    started 10,000 loader processes."""
    outcome = run_cli(["simulate", "-n", "2", "--size", "32", "--n-cells", "100000", "-o",
                       str(tmp_path / "s")])  # fmt: skip
    line = one_error(outcome, 2)
    assert "--n-cells 100000: a 32x32 image holds at most about" in line
    assert outcome.seconds < 5
    line = one_error(run_cli(["train", "pix2pix", str(tmp_path), "--workers", "10000"]), 2)
    assert "--workers" in line and "10000" in line


# -- documented pipes and 3D stacks -------------------------------------------------------------
def test_documented_simulate_split_pipe_works(tmp_path):
    """`celltool simulate | celltool split` (docs/sketch-split.md) failed with exit 2 naming no
    file: uint16 cell labels beside uint8 images. A simulation's labels are split as binary
    masks now."""
    from conftest import sh

    res = sh(
        "celltool simulate -o S -n 3 --size 128 | celltool split --crop 48 --crops 2", tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "S-split"
    facts = json.loads((tmp_path / "S-split" / "celltool.json").read_text())["facts"]
    assert facts["layout"] == "side-by-side" and sum(facts["samples_per_split"].values()) == 6
    from celltool.imageio import read_image

    pair = read_image(next((tmp_path / "S-split" / "train").glob("*.png")))
    assert pair.shape == (48, 96) and pair.dtype == np.uint8
    assert set(np.unique(pair[:, 48:])) <= {0, 255}  # the right half: a binary cell mask


def test_masks_that_do_not_fit_side_by_side_name_the_file(tmp_path):
    imgs, masks = tmp_path / "imgs", tmp_path / "masks"
    imgs.mkdir()
    masks.mkdir()
    write_image(imgs / "a.png", np.zeros((32, 32), np.uint8))
    write_image(masks / "a.png", np.full((32, 32), 1000, np.uint16))  # not uint8 values
    argv = ["split", str(imgs), "--masks", str(masks), "-m", "frames", "-o", str(tmp_path / "o")]
    line = one_error(run_cli(argv), 2)
    assert f"{masks / 'a.png'}: side-by-side needs the sketch (uint16)" in line
    write_image(masks / "a.png", np.full((32, 32), 255, np.uint16))  # 0/255 masks in uint16
    assert run_cli(argv).code == 0


@pytest.mark.parametrize("step", ["split", "sketch"])
def test_a_3d_stack_is_named_as_such(tmp_path, step):
    """A 3D stack given to sketch or split was described as a size mismatch."""
    imgs, masks = tmp_path / "imgs", tmp_path / "masks"
    imgs.mkdir()
    masks.mkdir()
    write_image(imgs / "a.tif", np.zeros((8, 32, 32), np.uint8))
    write_image(masks / "a.png", np.zeros((32, 32), np.uint8))
    extra = ["-m", "frames"] if step == "split" else ["--levels", "1"]
    argv = [step, str(imgs), "--masks", str(masks), *extra, "-o", str(tmp_path / "o")]
    line = one_error(run_cli(argv))
    assert f"{imgs / 'a.tif'}: is a 3D stack (8, 32, 32); {step} works on 2D images" in line


# -- every file a data set lists ---------------------------------------------------------------
@pytest.fixture(scope="module")
def temporal(tmp_path_factory) -> Path:
    from celltool.executor import ExecutorSpec
    from celltool.steps.simulation import simulate
    from celltool.steps.splitting import split

    tmp = tmp_path_factory.mktemp("temporal")
    toy = simulate(tmp / "toy", method="toy-timelapse", n=1, size=(32, 32), seed=0,
                   spec=ExecutorSpec("serial"), params={"frames": 6, "n_cells": 3})  # fmt: skip
    return split(toy, tmp / "pairs", method="frames", by="time", pairs="temporal",
                 ratios=(0.8, 0.0, 0.2))  # fmt: skip


@pytest.mark.parametrize("part", ["image_t", "sketch_t"])
def test_dual_reads_the_header_of_every_file_of_a_chain(temporal, tmp_path, part):
    """dual never read image_t/sketch_t of all but the first pair of a chain: a text file
    there trained with exit 0."""
    data = tmp_path / "pairs"
    shutil.copytree(temporal, data)
    names = sorted(p.name for p in (data / "train" / part).iterdir())
    assert len(names) >= 2
    bad = data / "train" / part / names[1]  # not the first pair of the chain
    bad.write_text("not an image")
    argv = ["train", "dual", str(data), "-o", str(tmp_path / "r"), *TINY, "--rollout", "2"]
    line = one_error(run_cli(argv))
    assert f"{bad}: cannot read image" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs"]


def test_pairs_datasets_check_every_file_before_training(tmp_path):
    pairs = make_pairs(tmp_path, n=5, size=32)
    bad = pairs / "train" / "f002.png"
    bad.write_text("not an image")
    from celltool.training.data import PairsDataset

    with pytest.raises(CelltoolError, match="cannot read image") as err:
        PairsDataset(pairs, "train", {"crop_size": 32})
    assert str(bad) in str(err.value)


def test_evaluate_refuses_images_of_different_bit_depths(tmp_path):
    """uint16 generated against uint8 real images reported PSNR -33.76 without a warning."""
    real, gen = tmp_path / "real", tmp_path / "gen"
    real.mkdir()
    gen.mkdir()
    write_image(real / "a.png", np.full((16, 16), 200, np.uint8))
    write_image(gen / "a.png", np.full((16, 16), 200 * 257, np.uint16))
    outcome = run_cli(["evaluate", str(real), str(gen), "-o", str(tmp_path / "m"),
                       "--metrics", "psnr", "--workers", "1"])  # fmt: skip
    assert outcome.code == 1
    line = outcome.stderr.strip().splitlines()[-1]  # after the data-range line
    assert f"{gen / 'a.png'}: dtype uint16 differs from the real image's uint8" in line
    assert "compare images of the same bit depth" in line
