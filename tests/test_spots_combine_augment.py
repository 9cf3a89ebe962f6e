"""celltool combine (saturating sums, channels, promotion, refusals), celltool augment (labels
stay exact, every channel gets the same gain), and CellGen's spot path through pix2pixHD."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from test_train import incli, make_pairs

from celltool.imageio import read_image, tiff_axes, write_image


def folder(tmp: Path, name: str, arrays: dict[str, np.ndarray]) -> Path:
    path = tmp / name
    path.mkdir()
    for stem, array in arrays.items():
        write_image(path / f"{stem}.png", array)
    return path


def combine(*args) -> tuple[int, str]:
    res = incli("combine", *args)
    return res.returncode, res.stderr if res.returncode else res.stdout


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_combine_saturates_at_the_maximum_never_wraps(tmp_path, dtype):
    top = np.iinfo(dtype).max
    a = np.array([[top, top - 1, 0], [5, top // 2, 1]], dtype)
    b = np.array([[1, top, 0], [top, top // 2 + 1, 2]], dtype)
    out = tmp_path / "out"
    code, stdout = combine(folder(tmp_path, "a", {"x": a}), folder(tmp_path, "b", {"x": b}),
                           "-o", out)  # fmt: skip
    assert code == 0 and stdout == f"{out}\n"
    result = read_image(out / "x.png")
    expected = np.minimum(a.astype(np.int64) + b, top)
    assert result.dtype == dtype and np.array_equal(result, expected)
    rgb = np.full((3, 4, 3), top - 10, dtype)
    rgb[..., 2] = 3
    out2 = tmp_path / "rgb"
    combine(folder(tmp_path, "c", {"y": rgb}), folder(tmp_path, "d", {"y": rgb}), "-o", out2)
    summed = read_image(out2 / "y.png")
    assert np.all(summed[..., :2] == top) and np.all(summed[..., 2] == 6)


def test_combine_promotes_uint8_next_to_uint16(tmp_path):
    a = np.array([[255, 1]], np.uint8)
    b = np.array([[10, 60000]], np.uint16)
    res = incli("combine", folder(tmp_path, "a", {"p": a}), folder(tmp_path, "b", {"p": b}),
                "-o", tmp_path / "out")  # fmt: skip
    assert res.returncode == 0 and "x257" in res.stderr
    result = read_image(tmp_path / "out" / "p.png")
    assert result.dtype == np.uint16 and result.tolist() == [[65535, 60257]]
    facts = json.loads((tmp_path / "out" / "celltool.json").read_text())["facts"]
    assert facts["promoted_pairs"] == 1 and facts["bit_depth"] == 16


def test_combine_as_channels_and_refusals(tmp_path):
    a, b = np.arange(12, dtype=np.uint8).reshape(3, 4), np.full((3, 4), 7, np.uint8)
    fa, fb = folder(tmp_path, "a", {"z": a}), folder(tmp_path, "b", {"z": b})
    code, _ = combine(fa, fb, "-o", tmp_path / "ch", "--as-channels")
    stacked = read_image(tmp_path / "ch" / "z.tif")
    assert code == 0 and tiff_axes(tmp_path / "ch" / "z.tif") == "YXC"
    assert stacked.shape == (3, 4, 2) and np.array_equal(stacked[..., 0], a)
    assert np.array_equal(stacked[..., 1], b)
    code, err = combine(fa, folder(tmp_path, "c", {"z": np.zeros((3, 5), np.uint8)}),
                        "-o", tmp_path / "bad")  # fmt: skip
    assert code == 1 and "shapes differ" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    code, err = combine(fa, folder(tmp_path, "e", {"w": b}), "-o", tmp_path / "bad2")
    assert code == 1 and "has no image named 'z'" in err
    code, err = combine(fa, "-o", tmp_path / "bad3")
    assert code == 2


def test_combine_functions_floats_and_signed():
    from celltool_spots.combine import CombineError, saturating_sum

    f = np.array([[0.5, 2.0]], np.float32)
    total, depth = saturating_sum(f, f)
    assert depth is None and total.dtype == np.float32 and total.tolist() == [[1.0, 4.0]]
    s = np.array([[30000, -30000]], np.int16)
    assert saturating_sum(s, s)[0].tolist() == [[32767, -32768]]
    with pytest.raises(CombineError, match="cannot combine"):
        saturating_sum(f, np.ones((1, 2), np.uint8))
    twelve, depth = saturating_sum(np.array([[255]], np.uint8), np.array([[100]], np.uint16),
                                   8, 12)  # fmt: skip
    assert depth == 12 and twelve.tolist() == [[4095]]  # 255 → 4095, + 100, clipped


def test_augment_side_by_side_keeps_labels_exact(tmp_path):
    pairs = make_pairs(tmp_path, n=4, size=40)
    out = tmp_path / "aug"
    res = incli("augment", pairs, "-n", "3", "-o", out, "--max-angle", "25", "--rot90")
    assert res.returncode == 0 and res.stdout == f"{out}\n", res.stderr
    train = sorted(p.name for p in (out / "train").glob("*.png"))
    assert len(train) == 2 * (1 + 3)  # originals + 3 variants each
    assert sorted(p.name for p in (out / "test").glob("*.png")) == ["f003.png"]
    angles = set()
    for path in (out / "train").glob("*_*.png"):
        pair = read_image(path)
        assert pair.shape == (40, 80)
        assert set(np.unique(pair[:, 40:])) <= {0, 255}  # binary masks stay binary
    with (out / "augment.csv").open() as f:
        rows = list(csv.DictReader(f))
    angles = {float(r["angle"]) for r in rows}
    assert len(rows) == 6 and all(abs(a) <= 25 for a in angles) and len(angles) == 6
    manifest = json.loads((out / "celltool.json").read_text())
    assert manifest["kind"] == "pairs" and manifest["facts"]["layout"] == "side-by-side"
    again = tmp_path / "again"
    assert incli("augment", pairs, "-n", "3", "-o", again, "--max-angle", "25",
                 "--rot90").returncode == 0  # fmt: skip
    for path in (out / "train").glob("*.png"):
        assert path.read_bytes() == (again / "train" / path.name).read_bytes()


def test_augment_folders_layout_gain_on_every_channel(tmp_path):
    from celltool_spots.augment import Variant, intensity

    from celltool.manifest import make_manifest, write_manifest

    rng = np.random.default_rng(0)
    pairs = tmp_path / "pairs"
    for part, array in (
        ("image", np.repeat(rng.integers(20, 200, (32, 32, 1), dtype=np.uint8), 3, axis=2)),
        ("sketch", rng.integers(0, 5, (32, 32)).astype(np.uint8)),
        ("instance", rng.integers(0, 300, (32, 32)).astype(np.uint16)),
    ):
        (pairs / "train" / part).mkdir(parents=True)
        write_image(pairs / "train" / part / "a.png", array)
    write_manifest(pairs, make_manifest("pairs", step="split", params={"sketch": "index"},
                                        facts={"layout": "folders", "bit_depth": 8}))  # fmt: skip
    out = tmp_path / "aug"
    res = incli("augment", pairs, "-n", "4", "-o", out, "--no-originals", "--gain", "0.3")
    assert res.returncode == 0, res.stderr
    source = {p: read_image(pairs / "train" / p / "a.png") for p in ("sketch", "instance")}
    for i in range(4):
        image = read_image(out / "train" / "image" / f"a_{i}.png")
        assert np.array_equal(image[..., 0], image[..., 1])
        assert np.array_equal(image[..., 0], image[..., 2])  # all channels, not only the first
        for part in ("sketch", "instance"):
            labels = read_image(out / "train" / part / f"a_{i}.png")
            assert labels.dtype == source[part].dtype
            assert set(np.unique(labels)) <= set(np.unique(source[part])) | {0}
    assert not (out / "train" / "image" / "a.png").exists()
    bright = intensity(np.array([[250, 10]], np.uint8), Variant(False, False, 0, 0, 1.1, 19), 8)
    assert bright.tolist() == [[255, 30]]  # clipped at 255, no wrap


def test_cellgen_spot_path_pix2pixhd(tmp_path):
    """CellGen's second use of pix2pixHD: spot masks → spot images, here on spots pairs."""
    args = ["simulate", "-o", tmp_path / "sim", "-n", "3", "--size", "64", "--n-cells", "10"]
    assert incli(*args).returncode == 0
    assert (
        incli("spots", tmp_path / "sim", "-o", tmp_path / "sp", "--per-cell", "8").returncode == 0
    )
    res = incli("split", tmp_path / "sp", "--crop", "32", "--crops", "1", "--ratios",
                "0.67,0,0.33", "-o", tmp_path / "pairs")  # fmt: skip
    assert res.returncode == 0, res.stderr
    tiny = ["--ngf", "4", "--ndf", "4", "--crop-size", "32", "--n-downsample-global", "2",
            "--n-blocks-global", "1", "--no-vgg-loss", "--samples", "1",
            "--threads", "1"]  # fmt: skip
    res = incli("train", "pix2pixhd", tmp_path / "pairs", "-o", tmp_path / "run", "--epochs", "1",
                *tiny)  # fmt: skip
    assert res.returncode == 0, res.stderr
    info = json.loads((tmp_path / "run" / "config.json").read_text())["data_info"]
    assert (info["label_nc"], info["sketch_mode"], info["edges"]) == (2, "gray", "classes")
    res = incli("generate", tmp_path / "run", tmp_path / "sp" / "masks", "-o", tmp_path / "gen")
    assert res.returncode == 0, res.stderr
    assert read_image(tmp_path / "gen" / "sim_0000.png").shape == (64, 64)
