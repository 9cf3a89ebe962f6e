"""``celltool evaluate``: pairing, outputs, data range, errors, label inputs, pipes, demo stage."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, sh

from celltool.imageio import list_images, read_image, write_image, write_labels
from celltool.manifest import make_manifest, write_manifest


def noisy_copy(src: Path, dst: Path, sigma: float, suffix: str = "", seed: int = 0) -> Path:
    dst.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for path in list_images(src):
        img = read_image(path).astype(float)
        top = 255 if read_image(path).dtype == np.uint8 else 4095
        out = np.clip(img + rng.normal(0, sigma, img.shape), 0, top).astype(read_image(path).dtype)
        write_image(dst / f"{path.stem}{suffix}.png", out)
    return dst


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_evaluate_images_by_name_suffix(sim, tmp_path):
    from celltool_metrics import image

    gen = noisy_copy(sim / "images", tmp_path / "gen", 8, suffix="_fake_B")
    res = cli("evaluate", str(sim), str(gen), "-j", "2")
    assert res.returncode == 0, res.stderr
    out = Path(res.stdout.strip())
    assert res.stdout == f"{tmp_path / 'gen-evaluate'}\n"  # default name, nothing else on stdout
    assert "psnr" in res.stderr and "data range 255" in res.stderr  # table and range on stderr
    rows = read_rows(out / "pairs.csv")
    assert len(rows) == 6
    assert rows[0]["real"] == "sim_0000.png" and rows[0]["generated"] == "sim_0000_fake_B.png"
    real = read_image(sim / "images" / "sim_0000.png")
    fake = read_image(gen / "sim_0000_fake_B.png")
    assert float(rows[0]["psnr"]) == pytest.approx(image.psnr(real, fake, data_range=255), 1e-5)
    assert float(rows[0]["ssim"]) == pytest.approx(image.ssim(real, fake, data_range=255), 1e-5)
    summary = json.loads((out / "summary.json").read_text())
    psnr = np.array([float(r["psnr"]) for r in rows])
    s = summary["metrics"]["psnr"]
    assert s["mean"] == pytest.approx(psnr.mean(), 1e-5)
    assert s["std"] == pytest.approx(psnr.std(), 1e-4)
    assert s["cv"] == pytest.approx(100 * psnr.std() / psnr.mean(), 1e-3)
    assert s["median"] == pytest.approx(np.median(psnr), 1e-5) and s["n"] == 6
    assert (
        summary["higher_is_better"]["psnr"] is True and summary["higher_is_better"]["mae"] is False
    )
    assert summary["data_range"] == 255 and "manifest" in summary["data_range_from"]
    plot = read_image(out / "plots" / "psnr.png")
    assert plot.ndim == 3 and plot.shape[2] == 3 and plot.std() > 0
    manifest = json.loads((out / "celltool.json").read_text())
    assert manifest["kind"] == "metrics" and len(manifest["inputs"]) == 2
    assert "lpips" not in rows[0]  # LPIPS is opt-in (needs torch and weights)


def test_pairs_csv_and_unpaired_warning(sim, tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    images = list_images(sim / "images")
    write_image(gen / "x.png", read_image(images[2]))
    write_image(gen / "y.png", read_image(images[3]))
    res = cli("evaluate", str(sim), str(gen), "-o", str(tmp_path / "none"))
    assert res.returncode == 1 and "no generated file pairs" in res.stderr
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"real,generated\n{images[2].name},x.png\n{images[3].name},y.png\n")
    res = cli("evaluate", str(sim), str(gen), "--pairs", str(pairs), "-m", "psnr,mse")
    assert res.returncode == 0, res.stderr
    rows = read_rows(Path(res.stdout.strip()) / "pairs.csv")
    assert [r["generated"] for r in rows] == ["x.png", "y.png"]
    assert all(float(r["mse"]) == 0 and r["psnr"] == "inf" for r in rows)
    summary = json.loads((Path(res.stdout.strip()) / "summary.json").read_text())
    assert summary["metrics"]["psnr"]["n_nonfinite"] == 2


def test_pairing_rule_prefers_the_longest_real_stem():
    from celltool.steps.evaluation.pairing import pair_files

    real = [Path("r/a_1.png"), Path("r/a_10.png"), Path("r/b.tif")]
    gen = [Path("g/a_10_fake.png"), Path("g/a_1-x.png"), Path("g/b.png"), Path("g/c.png")]
    pairs, unpaired = pair_files(real, gen)
    assert [(r.name, g.name) for r, g in pairs] == [
        ("a_1.png", "a_1-x.png"),
        ("a_10.png", "a_10_fake.png"),
        ("b.tif", "b.png"),
    ]
    assert unpaired == [Path("g/c.png")]


def test_mismatched_shapes_fail_with_one_line_and_no_output(sim, tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    for path in list_images(sim / "images"):
        write_image(gen / path.name, read_image(path)[:100])
    res = cli("evaluate", str(sim), str(gen), "-j", "1")
    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0] == res.stderr.strip().splitlines()[-1]
    assert "sim_0000.png" in errors[0] and "differs from the real image" in errors[0]
    assert not (tmp_path / "gen-evaluate").exists()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["ONE"], 2, "give 2 input folders"),
        (["ONE", "MISSING"], 1, "folder does not exist"),
        (["ONE", "ONE", "-m", "nope"], 2, "unknown metric 'nope'"),
        (["ONE", "ONE", "-m", "motion,seg"], 2, "cannot be mixed"),
        (["ONE", "ONE", "--data-range", "0"], 2, "--data-range must be positive"),
    ],
)
def test_bad_inputs(sim, tmp_path, args, code, message):
    args = [str(sim) if a == "ONE" else str(tmp_path / a) if a == "MISSING" else a for a in args]
    res = cli("evaluate", *args, "-o", str(tmp_path / "out"))
    assert res.returncode == code, res.stderr
    assert message in res.stderr
    assert res.stdout == "" and not (tmp_path / "out").exists()


def test_sixteen_bit_range_comes_from_the_manifest_never_the_dtype(tmp_path):
    rng = np.random.default_rng(0)
    real, gen = tmp_path / "real", tmp_path / "gen"
    real.mkdir()
    gen.mkdir()
    for i in range(3):
        a = rng.integers(0, 4096, (64, 64)).astype(np.uint16)
        write_image(real / f"{i}.png", a)
        write_image(
            gen / f"{i}.png", np.clip(a + rng.normal(0, 100, a.shape), 0, 4095).astype(np.uint16)
        )
    res = cli("evaluate", str(real), str(gen), "-m", "psnr", "-o", str(tmp_path / "o1"))
    assert res.returncode == 1 and "pass --data-range" in res.stderr
    write_manifest(real, make_manifest("images", step="test", facts={"bit_depth": 12}))
    res = cli("evaluate", str(real), str(gen), "-m", "psnr", "-o", str(tmp_path / "o2"))
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert summary["data_range"] == 4095
    res = cli(
        "evaluate",
        str(real),
        str(gen),
        "-m",
        "psnr",
        "--data-range",
        "65535",
        "-o",
        str(tmp_path / "o3"),
    )
    wrong = json.loads((tmp_path / "o3" / "summary.json").read_text())
    delta = wrong["metrics"]["psnr"]["mean"] - summary["metrics"]["psnr"]["mean"]
    assert delta == pytest.approx(20 * np.log10(65535 / 4095), abs=1e-3)  # the trap: +24 dB


def perturbed_labels(src: Path, dst: Path) -> Path:
    from scipy import ndimage

    dst.mkdir()
    for path in list_images(src):
        lab = read_image(path)
        eroded = np.where(ndimage.binary_erosion(lab > 0, iterations=1), lab, 0)
        eroded[eroded == eroded.max()] = 0  # one missed object per image
        write_labels(dst / path.name, eroded)
    write_manifest(dst, make_manifest("labels", step="test", facts={"target": "cells"}))
    return dst


def test_segmentation_metrics_of_label_folders(sim, tmp_path):
    from celltool_metrics import segmentation

    pred = perturbed_labels(sim / "cells", tmp_path / "pred")
    res = cli("evaluate", str(sim), str(pred))
    assert res.returncode == 0, res.stderr
    out = Path(res.stdout.strip())
    rows = read_rows(out / "pairs.csv")
    assert {"seg", "det", "ap", "f1", "f1.precision", "f1.recall", "pq", "aji"} <= set(rows[0])
    gts = [read_image(p) for p in list_images(sim / "cells")]
    preds = [read_image(p) for p in list_images(pred)]
    assert float(rows[0]["seg"]) == pytest.approx(segmentation.seg(gts[0], preds[0]), 1e-5)
    summary = json.loads((out / "summary.json").read_text())
    ref = segmentation.ctc_scores(gts, preds)
    assert summary["ctc"]["SEG"] == pytest.approx(ref["SEG"]) and 0 < ref["SEG"] < 1
    assert summary["ctc"]["DET"] == pytest.approx(ref["DET"]) and summary["ctc"]["FN"] == 6


def test_sequence_metrics_over_frames(tmp_path):
    from scipy import ndimage

    rng = np.random.default_rng(0)
    base = ndimage.gaussian_filter(rng.random((64, 64)), 2)
    base = ((base - base.min()) / np.ptp(base) * 255).astype(np.uint8)
    real, gen = tmp_path / "real", tmp_path / "gen"
    real.mkdir()
    gen.mkdir()
    for t in range(4):
        write_image(real / f"{t:03d}.png", np.roll(base, 2 * t, axis=1))
        write_image(gen / f"{t:03d}.png", np.roll(base, -2 * t, axis=1))
    res = cli("evaluate", str(real), str(gen), "-m", "sequence,psnr")
    assert res.returncode == 0, res.stderr
    out = Path(res.stdout.strip())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sequence"]["flow_cosine"] < -0.8
    assert summary["sequence"]["flow_magnitude_real"] == pytest.approx(2, abs=0.3)
    seq = read_rows(out / "sequence.csv")
    assert len(seq) == 4 and "step_psnr" in seq[0] and "flow_cosine" in seq[0]


def test_real_shell_pipe(tmp_path):
    script = (
        "celltool simulate -n 2 --size 64 -o a --n-cells 4 >/dev/null && "
        "{ echo a; celltool simulate -n 2 --size 64 --seed 3 -o b --n-cells 4; } "
        "| celltool evaluate -m psnr,ssim"
    )
    res = sh(script, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = tmp_path / res.stdout.strip()
    assert res.stdout.strip() == "b-evaluate" and (out / "pairs.csv").is_file()
    assert len(read_rows(out / "pairs.csv")) == 2


def test_volume_metrics_of_stacks(tmp_path):
    import tifffile

    rng = np.random.default_rng(0)
    zz, yy, xx = np.ogrid[:16, :64, :64]
    mask = np.zeros((16, 64, 64), bool)
    for y in (16, 32, 48):
        for x in (16, 32, 48):
            mask |= (zz - 8) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= 25
    for name, gain in (("real", 1.0), ("gen", 0.7)):
        (tmp_path / name).mkdir()
        (tmp_path / f"{name}_labels").mkdir()
        img = np.clip(20 + 150 * gain * mask + rng.normal(0, 5, mask.shape), 0, 255)
        tifffile.imwrite(tmp_path / name / "s1.tif", img.astype(np.uint8))
        tifffile.imwrite(tmp_path / f"{name}_labels" / "s1.tif", mask.astype(np.uint16))
    args = ["--edge-tile", "32", "--edge-min-length", "3", "--edge-min-peak", "0"]
    res = cli(
        "evaluate",
        str(tmp_path / "real"),
        str(tmp_path / "gen"),
        "-m",
        "volume,ssim",
        "--real-labels",
        str(tmp_path / "real_labels"),
        "--generated-labels",
        str(tmp_path / "gen_labels"),
        *args,
    )
    assert res.returncode == 0, res.stderr
    row = read_rows(Path(res.stdout.strip()) / "pairs.csv")[0]
    assert 0 < float(row["wasserstein_depth.fg_middle"]) < 1
    assert float(row["edge_depth"]) > 0 and 0 < float(row["ssim"]) < 1
    res = cli(
        "evaluate",
        str(tmp_path / "real"),
        str(tmp_path / "gen"),
        "-m",
        "wasserstein_depth",
        "-o",
        str(tmp_path / "o2"),
    )
    assert res.returncode == 2 and "needs label masks" in res.stderr


def test_tra_with_track_files(sim, tmp_path):
    tracks = tmp_path / "man_track.txt"
    n = max(int(read_image(p).max()) for p in list_images(sim / "cells"))
    tracks.write_text("".join(f"{i} 0 5 0\n" for i in range(1, n + 1)))
    res = cli(
        "evaluate",
        str(sim),
        str(sim / "cells"),
        "-m",
        "segmentation",
        "--real-tracks",
        str(tracks),
        "--generated-tracks",
        str(tracks),
        "-o",
        str(tmp_path / "o"),
    )
    assert res.returncode == 0, res.stderr
    ctc = json.loads((tmp_path / "o" / "summary.json").read_text())["ctc"]
    assert ctc["SEG"] == 1.0 and ctc["DET"] == 1.0 and ctc["TRA"] == 1.0


def test_help_and_image_metrics_do_not_import_torch(sim, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from celltool.cli import run\n"
        "for argv in (['evaluate', '--help'], ['lpips-weights', '--help']):\n"
        "    try:\n"
        "        run(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"assert run(['evaluate', {str(sim)!r}, {str(sim)!r}, '-o', {str(tmp_path / 'o')!r},"
        " '--executor', 'serial']) == 0\n"
        "print('HEAVY', [m for m in ('torch', 'torchvision', 'lpips') if m in sys.modules])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stdout


def test_a_metric_that_cannot_take_the_input_names_the_file(tmp_path):
    for name in ("r", "g"):
        (tmp_path / name).mkdir()
        write_image(tmp_path / name / "t.png", np.zeros((5, 5), np.uint8))
    res = cli("evaluate", str(tmp_path / "r"), str(tmp_path / "g"), "-m", "ssim", "-j", "1")
    assert res.returncode == 1
    assert (
        res.stderr.strip()
        .splitlines()[-1]
        .endswith("t.png: ssim: SSIM needs images of at least 11×11, not (5, 5)")
    )
    assert not (tmp_path / "g-evaluate").exists()
