"""``celltool split``: frame-level splits, seeded crops, layouts, temporal pairs, CTC export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, sh

from celltool.imageio import list_images, read_image, write_image


def table(folder: Path) -> list[dict]:
    with open(folder / "crops.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def run(*args) -> Path:
    res = cli("split", *args)
    assert res.returncode == 0, res.stderr
    out = Path(res.stdout.strip())
    assert res.stdout.count("\n") == 1 and out.is_dir()
    return out


@pytest.fixture
def sketched(sim, tmp_path_factory) -> Path:
    from celltool.steps.sketching import sketch as sketch_folder

    return sketch_folder(sim, tmp_path_factory.mktemp("sk") / "sk", params={"levels": 7})


def frames_and_masks(root: Path, sequences: dict[str, int], size=(48, 64)) -> tuple[Path, Path]:
    """images/ and masks/ with one sub-folder per sequence (or flat when the name is '')."""
    rng = np.random.default_rng(0)
    for part in ("images", "masks"):
        (root / part).mkdir(parents=True)
    for seq, n in sequences.items():
        for t in range(n):
            for part in ("images", "masks"):
                (root / part / seq).mkdir(exist_ok=True)
            image = rng.integers(0, 255, size, dtype=np.uint8)
            mask = np.zeros(size, np.uint8)
            mask[10:20, 10 + t : 20 + t] = 255  # an object that moves right by 1 px per frame
            mask[30:40, 40:50] = 255  # a still object
            write_image(root / "images" / seq / f"f{t:03d}.png", image)
            write_image(root / "masks" / seq / f"f{t:03d}.png", mask)
    return root / "images", root / "masks"


def test_side_by_side_crops_no_frame_in_two_splits(sketched, tmp_path):
    out = run(
        str(sketched),
        "-o",
        str(tmp_path / "p"),
        "--crop",
        "32",
        "--crops",
        "3",
        "--ratios",
        "0.5,0.25,0.25",
        "--seed",
        "4",
    )
    meta = json.loads((out / "celltool.json").read_text())
    assert meta["kind"] == "pairs" and meta["facts"]["layout"] == "side-by-side"
    assert meta["facts"]["bit_depth"] == 8 and len(meta["facts"]["classes"]) == 8
    rows = table(out)
    assert len(rows) == 6 * 3
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row["frame"], row["split"]) == row["split"]
    assert sorted(split_of.values()).count("train") == 3
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    images = Path(meta["facts"]["images"])
    sketch = Path(meta["facts"]["sketch"])
    for row in rows:
        sample = read_image(out / row["file"])
        assert sample.shape == (32, 64) and sample.dtype == np.uint8
        r, c = int(row["row"]), int(row["col"])
        np.testing.assert_array_equal(
            sample[:, :32], read_image(images / row["frame"])[r : r + 32, c : c + 32]
        )
        np.testing.assert_array_equal(
            sample[:, 32:], read_image(sketch / row["frame"])[r : r + 32, c : c + 32]
        )
    # crops of one frame keep their distance (default: the crop diagonal, so no overlap)
    for frame in split_of:
        origins = [(int(r["row"]), int(r["col"])) for r in rows if r["frame"] == frame]
        for i, a in enumerate(origins):
            for b in origins[i + 1 :]:
                assert np.hypot(a[0] - b[0], a[1] - b[1]) > np.hypot(32, 32)
    names = sorted(p.name for p in (out / "train").iterdir())
    assert names[0] == "0000.png" and all(len(n) == 8 for n in names)


def test_seeded_reproducibility(sketched, tmp_path):
    args = [str(sketched), "--crop", "40", "--crops", "2"]
    a = run(*args, "-o", str(tmp_path / "a"), "--seed", "1")
    b = run(*args, "-o", str(tmp_path / "b"), "--seed", "1")
    c = run(*args, "-o", str(tmp_path / "c"), "--seed", "2")
    assert (a / "crops.csv").read_text() == (b / "crops.csv").read_text()
    assert (a / "crops.csv").read_text() != (c / "crops.csv").read_text()
    for row in table(a):
        assert (a / row["file"]).read_bytes() == (b / row["file"]).read_bytes()


def test_infeasible_crops_is_a_clear_error(sketched, tmp_path):
    res = cli("split", str(sketched), "-o", str(tmp_path / "x"), "--crop", "100", "--crops", "5")
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "placed at most" in res.stderr and "tries" in res.stderr
    assert not (tmp_path / "x").exists()
    res = cli("split", str(sketched), "-o", str(tmp_path / "x"), "--crop", "300")
    assert res.returncode == 1 and "does not fit in a 128x128 frame" in res.stderr


def test_temporal_pairs_stay_within_sequences(tmp_path):
    images, masks = frames_and_masks(tmp_path, {"s1": 5, "s2": 4})
    args = f"{images} --masks {masks} --method frames --pairs temporal --by time".split()
    out = run(*args, "-o", str(tmp_path / "t"), "--ratios", "0.6,0.2,0.2")
    meta = json.loads((out / "celltool.json").read_text())
    assert meta["facts"]["layout"] == "folders" and meta["facts"]["pairs"] == "temporal"
    rows = table(out)
    for row in rows:
        t0, t1 = Path(row["frame"]), Path(row["frame_t1"])
        assert t0.parent == t1.parent == Path(row["sequence"])  # never across sequences
        assert int(t1.stem[1:]) == int(t0.stem[1:]) + 1  # never self-paired
        for suffix, frame in (("_t", t0), ("_t1", t1)):
            got = read_image(out / row["split"] / f"image{suffix}" / Path(row["file"]).name)
            np.testing.assert_array_equal(got, read_image(images / frame))
    # s1: 5 frames by time = 3 train (2 pairs), 1 val, 1 test; s2: 4 frames = 2/1/1 (1 pair)
    assert sorted((r["sequence"], r["split"]) for r in rows) == [
        ("s1", "train"),
        ("s1", "train"),
        ("s2", "train"),
    ]
    res = cli(
        "split",
        str(images),
        "--masks",
        str(masks),
        "--pairs",
        "temporal",
        "-o",
        str(tmp_path / "y"),
    )
    assert res.returncode == 2 and "--by time" in res.stderr


def test_sequences_by_name_pattern_and_split_by_time(tmp_path):
    images, masks = frames_and_masks(tmp_path, {"": 6})
    for part in (images, masks):  # rename to A_f000 / B_f000 style: two sequences in one folder
        for k, path in enumerate(sorted(part.iterdir())):
            path.rename(path.with_name(f"{'AB'[k % 2]}_{path.name}"))
    args = f"{images} --masks {masks} --method frames --pairs temporal --by time".split()
    out = run(*args, "-o", str(tmp_path / "t"), "--ratios", "1,0,0", "--sequence-pattern", "^(.)_")
    rows = table(out)
    assert len(rows) == 4  # 3 frames per sequence → 2 pairs each, none across A/B
    assert all(
        Path(r["frame"]).name[0] == Path(r["frame_t1"]).name[0] == r["sequence"] for r in rows
    )
    single = run(
        str(images),
        "--masks",
        str(masks),
        "-o",
        str(tmp_path / "s"),
        "--method",
        "frames",
        "--by",
        "time",
        "--ratios",
        "0.34,0.33,0.33",
        "--sequence-pattern",
        "^(.)_",
    )
    got = {(r["sequence"], r["frame"][2:]): r["split"] for r in table(single)}
    assert got[("A", "f000.png")] == "train" and got[("A", "f004.png")] == "test"


def test_sixteen_bit_is_kept(tmp_path):
    from celltool.steps.simulation import simulate as simulate_folder
    from celltool.steps.sketching import sketch as sketch_folder

    sim = simulate_folder(
        tmp_path / "sim",
        n=3,
        size=(64, 64),
        seed=2,
        params={"bit_depth": 16, "n_cells": 6, "cell_radius": "6,10"},
    )
    sk = sketch_folder(sim, params={"levels": 4})
    out = run(str(sk), "-o", str(tmp_path / "p"), "--method", "frames")
    meta = json.loads((out / "celltool.json").read_text())
    assert meta["facts"]["bit_depth"] == 16
    row = table(out)[0]
    sample = read_image(out / row["file"])
    assert sample.dtype == np.uint16 and sample.shape == (64, 128)
    np.testing.assert_array_equal(sample[:, :64], read_image(sim / "images" / row["frame"]))
    gray = read_image(sk / "gray" / row["frame"]).astype(np.uint16) * 257
    np.testing.assert_array_equal(sample[:, 64:], gray)
    assert meta["facts"]["sketch_scaled_by_257"] is True
    out3 = run(str(sk), "-o", str(tmp_path / "i"), "--method", "frames", "--sketch", "index")
    meta3 = json.loads((out3 / "celltool.json").read_text())
    assert meta3["facts"]["sketch_scaled_by_257"] is True  # index maps too: the flag says so
    index = read_image(out3 / table(out3)[0]["file"])[:, 64:]
    assert set(np.unique(index // 257)) <= set(range(5)) and not (index % 257).any()
    out2 = run(
        str(sk),
        "-o",
        str(tmp_path / "f"),
        "--method",
        "frames",
        "--layout",
        "folders",
        "--sketch",
        "index",
    )
    row = table(out2)[0]
    image = read_image(out2 / row["split"] / "image" / Path(row["file"]).name)
    index = read_image(out2 / row["split"] / "sketch" / Path(row["file"]).name)
    assert image.dtype == np.uint16 and index.dtype == np.uint8 and index.max() <= 4


def test_ctc_export_is_readable_and_tracks_by_overlap(tmp_path):
    import tifffile

    images, masks = frames_and_masks(tmp_path, {"s1": 4, "s2": 2})
    out = run(str(images), "--masks", str(masks), "-o", str(tmp_path / "ctc"), "--format", "ctc")
    meta = json.loads((out / "celltool.json").read_text())
    assert meta["facts"]["layout"] == "ctc"
    assert sorted(p.name for p in out.iterdir()) == ["01", "01_GT", "02", "02_GT", "celltool.json"]
    assert sorted(p.name for p in (out / "01").iterdir()) == [f"t{t:03d}.tif" for t in range(4)]
    tracks = [
        list(map(int, line.split()))
        for line in (out / "01_GT/TRA/man_track.txt").read_text().splitlines()
    ]
    assert tracks == [[1, 0, 3, 0], [2, 0, 3, 0]]  # both objects tracked over all 4 frames
    for t in range(4):
        seg = tifffile.imread(out / f"01_GT/SEG/man_seg{t:03d}.tif")
        tra = tifffile.imread(out / f"01_GT/TRA/man_track{t:03d}.tif")
        img = tifffile.imread(out / f"01/t{t:03d}.tif")
        assert seg.dtype == tra.dtype == np.uint16 and img.dtype == np.uint8
        np.testing.assert_array_equal(seg > 0, read_image(masks / "s1" / f"f{t:03d}.png") > 127)
        np.testing.assert_array_equal(tra > 0, seg > 0)
        for label, begin, end, _ in tracks:
            assert ((tra == label).any()) == (begin <= t <= end)
    assert (out / "02_GT/TRA/man_track.txt").read_text().count("\n") == 2


def test_ctc_from_simulation_keeps_instance_ids(sim, tmp_path):
    import tifffile

    out = run(str(sim), "-o", str(tmp_path / "ctc"), "--format", "ctc")
    names = [p.name for p in list_images(sim / "cells")]
    for t, name in enumerate(names):
        seg = tifffile.imread(out / f"01_GT/SEG/man_seg{t:03d}.tif")
        np.testing.assert_array_equal(seg, read_image(sim / "cells" / name))
    lines = (out / "01_GT/TRA/man_track.txt").read_text().splitlines()
    assert all(len(line.split()) == 4 for line in lines) and len(lines) >= 12


def test_bad_split_inputs(tmp_path):
    images, masks = frames_and_masks(tmp_path, {"": 3})
    (masks / "f001.png").unlink()
    res = cli("split", str(images), "--masks", str(masks), "-o", str(tmp_path / "x"))
    assert res.returncode == 1 and "has no file for image 'f001.png'" in res.stderr
    write_image(masks / "f001.png", np.zeros((10, 10), np.uint8))
    res = cli(
        "split", str(images), "--masks", str(masks), "-o", str(tmp_path / "x"), "--method", "frames"
    )
    assert res.returncode == 1 and "f001.png: size (10, 10) differs" in res.stderr
    res = cli("split", str(images), "-o", str(tmp_path / "x"))
    assert res.returncode == 1 and "expects sketch or simulation or segmentation" in res.stderr
    res = cli(
        "split", str(images), "--masks", str(masks), "--ratios", "1,2", "-o", str(tmp_path / "x")
    )
    assert res.returncode == 2 and "--ratios" in res.stderr
    assert not (tmp_path / "x").exists()


def test_shell_pipe_simulate_sketch_split(tmp_path):
    res = sh(
        "celltool simulate -o S -n 3 --size 128 -j 1 | celltool sketch --levels 7 -j 1 "
        "| celltool split --crop 48 --crops 2 --ratios 1,1,1",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "S-sketch-split\n"
    meta = json.loads((tmp_path / "S-sketch-split" / "celltool.json").read_text())
    assert meta["facts"]["samples_per_split"] == {"train": 2, "val": 2, "test": 2}
    assert meta["inputs"][0]["kind"] == "sketch"


@pytest.mark.realdata
def test_timelapse_sketch_and_split_by_time(timelapse, tmp_path):
    res = sh(
        f"celltool sketch {timelapse / 'images'} --masks {timelapse / 'masks'} --levels 1 "
        f"-o {tmp_path / 'sk'} | celltool split --by time --method frames --ratios 0.9,0.05,0.05",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    out = Path(res.stdout.strip())
    rows = table(out)
    assert len(rows) == 200
    by_split = {
        s: sorted(int(Path(r["frame"]).stem) for r in rows if r["split"] == s)
        for s in ("train", "val", "test")
    }
    assert by_split["train"] == list(range(180))
    assert by_split["test"] == list(range(190, 200))
    sample = read_image(out / "test" / "0000.png")
    assert sample.shape == (512, 1024)
    assert set(np.unique(sample[:, 512:]).tolist()) <= {0, 255}


def test_ctc_export_reads_in_py_ctcmetrics(tmp_path):
    """py-ctcmetrics (the CTC evaluator, extra 'ctc') reads the export: GT against itself
    scores 1, and a result missing one object in one frame scores below 1."""
    pytest.importorskip("ctc_metrics", reason="py-ctcmetrics not installed (extra 'ctc')")
    import contextlib
    import io
    import shutil

    import tifffile
    from ctc_metrics import evaluate_sequence

    images, masks = frames_and_masks(tmp_path, {"": 4})
    out = run(str(images), "--masks", str(masks), "-o", str(tmp_path / "ctc"), "--format", "ctc")
    res = out / "01_RES"
    res.mkdir()
    for t in range(4):
        shutil.copy(out / f"01_GT/TRA/man_track{t:03d}.tif", res / f"mask{t:03d}.tif")
    shutil.copy(out / "01_GT/TRA/man_track.txt", res / "res_track.txt")
    with contextlib.redirect_stdout(io.StringIO()):
        scores = evaluate_sequence(str(res), str(out / "01_GT"))
    assert scores["DET"] == scores["SEG"] == scores["TRA"] == 1.0
    mask = tifffile.imread(res / "mask002.tif")
    mask[mask == 1] = 0
    tifffile.imwrite(res / "mask002.tif", mask)
    (res / "res_track.txt").write_text("1 0 1 0\n2 0 3 0\n3 3 3 1\n")
    mask3 = tifffile.imread(res / "mask003.tif")
    mask3[mask3 == 1] = 3
    tifffile.imwrite(res / "mask003.tif", mask3)
    with contextlib.redirect_stdout(io.StringIO()):
        scores = evaluate_sequence(str(res), str(out / "01_GT"))
    assert scores["SEG"] < 1.0 and scores["DET"] < 1.0


def test_assign_splits_by_frame_time_and_sequence():
    from celltool.splits import assign_splits, split_counts, temporal_pairs

    assert split_counts(10, (0.8, 0.1, 0.1)) == [8, 1, 1]
    assert split_counts(3, (0.98, 0.01, 0.01)) == [1, 1, 1]  # every asked-for split gets one
    assert split_counts(7, (1, 0, 0)) == [7, 0, 0]
    seqs = ["a"] * 10 + ["b"] * 10
    by_frame = assign_splits(seqs, (0.5, 0.25, 0.25), "frame", np.random.default_rng(0))
    assert [by_frame.count(s) for s in ("train", "val", "test")] == [10, 5, 5]
    again = assign_splits(seqs, (0.5, 0.25, 0.25), "frame", np.random.default_rng(0))
    assert by_frame == again
    by_time = assign_splits(seqs, (0.6, 0.2, 0.2), "time", np.random.default_rng(0))
    assert by_time[:10] == ["train"] * 6 + ["val"] * 2 + ["test"] * 2 == by_time[10:]
    seqs3 = ["a"] * 4 + ["b"] * 3 + ["c"] * 5
    by_seq = assign_splits(seqs3, (1, 1, 1), "sequence", np.random.default_rng(1))
    assert len(set(by_seq[:4])) == len(set(by_seq[4:7])) == len(set(by_seq[7:])) == 1
    assert set(by_seq) == {"train", "val", "test"}
    pairs = temporal_pairs(seqs3, ["train"] * 12)
    assert pairs == [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (7, 8), (8, 9), (9, 10), (10, 11)]


def test_instance_labels_in_folders_layout(sim, tmp_path):
    """--labels instances: a simulation's cell ids survive (uint16, 1..N per crop), and the
    binary default is unchanged."""
    out = run(str(sim), "-o", str(tmp_path / "p"), "--layout", "folders", "--labels",
              "instances", "--crop", "64", "--crops", "1", "--ratios", "1,0,0")  # fmt: skip
    manifest = json.loads((out / "celltool.json").read_text())
    assert manifest["params"]["labels"] == "instances"
    assert not (out / "train" / "sketch").exists()
    rows = table(out)
    for row in rows:
        labels = read_image(out / "train" / "labels" / Path(row["file"]).name)
        assert labels.dtype == np.uint16 and labels.shape == (64, 64)
        r, c = int(row["row"]), int(row["col"])
        source = read_image(sim / "cells" / row["frame"])[r : r + 64, c : c + 64]
        ids = np.unique(labels[labels > 0])
        assert np.array_equal(ids, np.arange(1, len(ids) + 1))
        assert np.array_equal(labels > 0, source > 0)
        assert len(ids) == len(np.unique(source[source > 0]))  # one id per source object
    binary = run(str(sim), "-o", str(tmp_path / "b"), "--layout", "folders", "--crop", "64",
                 "--crops", "1")  # fmt: skip
    masks = list_images(binary / "train" / "sketch")
    assert masks and set(np.unique(read_image(masks[0]))) <= {0, 255}
    res = cli("split", str(sim), "-o", str(tmp_path / "x"), "--labels", "instances")
    assert res.returncode == 2 and "--layout folders" in res.stderr
