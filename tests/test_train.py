"""celltool train / generate: the trainer framework and pix2pix on tiny models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from celltool.imageio import read_image, write_image

TINY = ["--netG", "unet_32", "--ngf", "4", "--ndf", "4", "--crop-size", "32",
        "--preprocess", "crop", "--samples", "2", "--threads", "1"]  # fmt: skip
TINY_CONFIG = {"netG": "unet_32", "ngf": 4, "ndf": 4, "crop_size": 32, "preprocess": "crop",
               "samples": 2, "threads": 1}  # fmt: skip


def make_pairs(tmp: Path, *, n: int = 6, size: int = 48, bit_depth: int = 8, seed: int = 0) -> Path:
    """A side-by-side pairs folder from simulated-looking blobs: image | mask."""
    from celltool.steps.pairs import pairs_folder as write_pairs

    rng = np.random.default_rng(seed)
    items = []
    yy, xx = np.mgrid[:size, :size]
    top = 2**bit_depth - 1
    dtype = np.uint8 if bit_depth <= 8 else np.uint16
    for i in range(n):
        mask = np.zeros((size, size), bool)
        for _ in range(3):
            cy, cx, r = rng.integers(8, size - 8), rng.integers(8, size - 8), rng.integers(4, 9)
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        image = (0.1 + 0.7 * mask + 0.05 * rng.random((size, size))) * top
        items.append((f"f{i:03d}", image.astype(dtype), (mask * top).astype(dtype)))
    splits = {"train": items[: n - 2], "val": items[n - 2 : n - 1], "test": items[n - 1 :]}
    return write_pairs(tmp / "pairs", splits, bit_depth=bit_depth)


def incli(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI in this process (no torch start-up per call); stdout/stderr captured."""
    import contextlib
    import io

    from celltool import plugins
    from celltool.cli import run

    plugins.reset()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in args])
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture
def pairs(tmp_path) -> Path:
    return make_pairs(tmp_path)


def test_train_writes_run_and_generate_processes_all(pairs, tmp_path):
    run = tmp_path / "run"
    res = cli("train", "pix2pix", str(pairs), "-o", str(run), "--epochs", "2", *TINY)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{run}\n"
    manifest = json.loads((run / "celltool.json").read_text())
    assert manifest["kind"] == "run" and manifest["facts"]["status"] == "done"
    assert manifest["params"]["netG"] == "unet_32" and manifest["params"]["lambda_l1"] == 100.0
    assert (run / "checkpoints" / "latest.pt").is_file()
    records = [json.loads(x) for x in (run / "logs" / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 9))  # 4 train pairs × 2 epochs
    assert set(records[0]["losses"]) == {"G_GAN", "G_L1", "D_real", "D_fake"}
    grid = read_image(run / "samples" / "epoch_0002.png")
    assert grid.shape[0] == 32 and grid.shape[1] == 3 * 32 + 4  # 1 val sample, 3 columns
    assert read_image(run / "loss_curve.png").ndim == 3
    # generate: all images (more than a batch), any size, default name, bit depth kept
    sketches = tmp_path / "sketches"
    sketches.mkdir()
    for i in range(7):
        write_image(sketches / f"s{i}.png", np.full((40 + i, 70), 255 * (i % 2), np.uint8))
    res = incli("generate", str(run), str(sketches), "--batch-size", "2")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "sketches-generate"
    assert res.stdout == f"{out}\n"
    files = sorted(p.name for p in out.glob("*.png"))
    assert files == [f"s{i}.png" for i in range(7)]
    assert read_image(out / "s3.png").shape == (43, 70)
    assert json.loads((out / "celltool.json").read_text())["kind"] == "generated"
    # a pairs folder as input: its test split, input side
    res = incli("generate", str(run), str(pairs), "-o", str(tmp_path / "g2"))
    assert res.returncode == 0, res.stderr
    assert [p.name for p in (tmp_path / "g2").glob("*.png")] == ["f005.png"]
    # a single image file as input
    res = incli("generate", str(run), str(sketches / "s2.png"), "-o", str(tmp_path / "g3"))
    assert res.returncode == 0, res.stderr
    assert [p.name for p in (tmp_path / "g3").glob("*.png")] == ["s2.png"]


def test_unknown_model_and_help(tmp_path):
    res = cli("train", "nope", str(tmp_path))
    assert res.returncode == 2
    assert "unknown trainer 'nope' (available: " in res.stderr and "pix2pix" in res.stderr
    res = cli("train", "pix2pix", "--help")
    assert res.returncode == 0
    for flag in ("--netG", "--gan-mode", "--lambda-l1", "--epochs", "--precision", "--resume"):
        assert flag in res.stdout
    code = (
        "import sys\nfrom celltool.cli import run\n"
        "for argv in (['train', 'pix2pix', '--help'], ['generate', '--help']):\n"
        "    try:\n        run(argv)\n    except SystemExit:\n        pass\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "TORCH False" in res.stdout, res.stderr


def test_bad_inputs_are_one_line_errors(pairs, tmp_path):
    res = incli("generate", str(pairs), str(pairs))
    assert res.returncode == 1 and "is not a training run folder" in res.stderr
    res = incli("train", "pix2pix", str(tmp_path / "missing"), "-o", str(tmp_path / "r"))
    assert res.returncode == 1 and "does not exist" in res.stderr
    assert not (tmp_path / "r").exists()
    res = incli("train", "pix2pix", str(pairs), "-o", str(tmp_path / "r"), "--gan-mode", "x")
    assert res.returncode == 2 and "--gan-mode" in res.stderr
    # a choice given to --config (a TOML file) names the option it belongs to
    res = incli("train", "pix2pix", str(pairs), "-o", str(tmp_path / "r"), "--config", "lsgan")
    assert res.returncode == 2 and "'lsgan' is a value of --gan-mode" in res.stderr
    assert not (tmp_path / "r").exists()


def _weights(run: Path) -> dict:
    import torch

    state = torch.load(run / "checkpoints" / "latest.pt", map_location="cpu", weights_only=False)
    return {f"{n}.{k}": v for n, sd in state["networks"].items() for k, v in sd.items()}


def _train(pairs: Path, run: Path, **extra):
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "pix2pix")
    options = {**TINY_CONFIG, "epochs": 3, "checkpoint_steps": 1, "seed": 3, **extra}
    stop = options.pop("stop", None)
    config = resolve_config(component, options)
    return train(component, [pairs], run, config, stop_after_steps=stop)


def test_resume_mid_epoch_is_exact(pairs, tmp_path):
    """Stop after 5 steps (mid-epoch 2), resume from the step checkpoint: same weights."""
    import torch

    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    _train(pairs, tmp_path / "full")
    _train(pairs, tmp_path / "cut", stop=5)
    state = torch.load(tmp_path / "cut/checkpoints/latest.pt", weights_only=False)
    assert state["position"] == {"epoch": 1, "step_in_epoch": 1, "global_step": 5}
    component = plugins.get("trainers", "pix2pix")
    config = resolve_config(component, {**TINY_CONFIG, "epochs": 3, "checkpoint_steps": 1,
                                        "seed": 3})  # fmt: skip
    train(component, None, tmp_path / "cut", config, resume=True)
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert full.keys() == cut.keys()
    for key in full:
        assert torch.equal(full[key], cut[key]), key
    steps = [json.loads(x)["step"] for x in (tmp_path / "cut/logs/losses.jsonl").open()]
    assert steps == list(range(1, 13))


def test_different_seed_gives_different_weights(pairs, tmp_path):
    import torch

    _train(pairs, tmp_path / "a", epochs=1)
    _train(pairs, tmp_path / "b", epochs=1, seed=4)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert not torch.equal(a["G.model.model.0.weight"], b["G.model.model.0.weight"])


def test_resume_refuses_changed_options_and_extends_epochs(pairs, tmp_path):
    run = tmp_path / "run"
    assert (
        incli("train", "pix2pix", str(pairs), "-o", str(run), "--epochs", "1", *TINY).returncode
        == 0
    )
    res = incli("train", "pix2pix", "--resume", str(run), "--ngf", "8")
    assert res.returncode == 2 and "cannot change ngf" in res.stderr
    res = incli("train", "pix2pix", "--resume", str(run), "--epochs", "2")
    assert res.returncode == 0, res.stderr
    records = [json.loads(x) for x in (run / "logs" / "losses.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1] * 4 + [2] * 4
    assert records[-1]["lr"] > 0  # the new schedule, not the old run's final rate


def test_original_pix2pix_rgb_gray_dataset_trains_as_one_channel(tmp_path):
    """Side-by-side RGB files with identical channels and no manifest (the seeds' format)."""
    src = make_pairs(tmp_path / "src")
    plain = tmp_path / "plain"
    for split in ("train", "val", "test"):
        (plain / split).mkdir(parents=True)
        for path in (src / split).glob("*.png"):
            gray = read_image(path)
            write_image(plain / split / path.name, np.repeat(gray[:, :, None], 3, axis=2))
    run = tmp_path / "run"
    res = incli("train", "pix2pix", str(plain), "-o", str(run), "--epochs", "1", *TINY)
    assert res.returncode == 0, res.stderr
    info = json.loads((run / "config.json").read_text())["data_info"]
    assert info["in_channels"] == 1 and info["out_channels"] == 1 and info["bit_depth"] == 8


def test_sixteen_bit_data_scaled_by_recorded_depth(tmp_path):
    """12-bit data in uint16: scaled by 4095 (not 65535), generated images are uint16 ≤ 4095."""
    from celltool.training.data import PairsDataset

    pairs = make_pairs(tmp_path, bit_depth=12)
    ds = PairsDataset(pairs, "train", {**TINY_CONFIG, "preprocess": "none", "flip": False})
    item = ds[(0, 0)]
    assert item["target"].max() > 0.5  # 0.8 of 4095 → ~0.6 in [-1, 1]; /65535 would be < -0.8
    run = tmp_path / "run"
    res = incli("train", "pix2pix", str(pairs), "-o", str(run), "--epochs", "1", *TINY)
    assert res.returncode == 0, res.stderr
    res = incli("generate", str(run), str(pairs), "-o", str(tmp_path / "gen"))
    assert res.returncode == 0, res.stderr
    out = read_image(tmp_path / "gen" / "f005.png")
    assert out.dtype == np.uint16 and out.max() <= 4095
    assert json.loads((tmp_path / "gen/celltool.json").read_text())["facts"]["bit_depth"] == 12


def test_pix2pix_generate_refuses_sequence_options(pairs, tmp_path):
    run = tmp_path / "run"
    assert (
        incli("train", "pix2pix", str(pairs), "-o", str(run), "--epochs", "1", *TINY).returncode
        == 0
    )
    res = incli("generate", str(run), str(pairs), "--steps", "3", "-o", str(tmp_path / "g"))
    assert res.returncode == 2 and "--steps" in res.stderr
    assert not (tmp_path / "g").exists()


def test_config_file_and_command_line_precedence(pairs, tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[train]\nngf = 6\nepochs = 1\ngan_mode = "hinge"\n')
    run = tmp_path / "run"
    res = incli("train", "pix2pix", str(pairs), "-o", str(run), "--config", str(toml), *TINY)
    assert res.returncode == 0, res.stderr
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["ngf"] == 4 and config["gan_mode"] == "hinge" and config["epochs"] == 1


def test_folders_layout_and_direction(tmp_path):
    """`folders` layout (<split>/image, <split>/sketch); image2sketch swaps input and target."""
    from celltool.manifest import make_manifest, write_manifest
    from celltool.training.data import PairsDataset

    src = make_pairs(tmp_path / "src")
    root = tmp_path / "folders"
    for split in ("train", "val", "test"):
        for sub in ("image", "sketch"):
            (root / split / sub).mkdir(parents=True)
        for path in (src / split).glob("*.png"):
            pair = read_image(path)
            half = pair.shape[1] // 2
            write_image(root / split / "image" / path.name, pair[:, :half])
            write_image(root / split / "sketch" / path.name, pair[:, half:])
    facts = {"layout": "folders", "bit_depth": 8}
    write_manifest(root, make_manifest("pairs", step="split", facts=facts))
    config = {"preprocess": "none", "flip": False}
    a = PairsDataset(root, "train", config)[(0, 1)]
    b = PairsDataset(src, "train", {**config, "direction": "image2sketch"})[(0, 1)]
    assert a["name"] == b["name"] == "f001"
    assert torch_equal(a["input"], b["target"]) and torch_equal(a["target"], b["input"])
    assert set(a["input"].unique().tolist()) == {-1.0, 1.0}  # the sketch (mask) is the input


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_loader_workers_do_not_change_results(pairs, tmp_path):
    import torch

    _train(pairs, tmp_path / "w0", epochs=1, preprocess="resize_and_crop", load_size=40)
    _train(pairs, tmp_path / "w2", epochs=1, preprocess="resize_and_crop", load_size=40,
           workers=2, cache=True)  # fmt: skip
    a, b = _weights(tmp_path / "w0"), _weights(tmp_path / "w2")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bf16_autocast_trains_and_generates(pairs, tmp_path):
    import math

    run = _train(pairs, tmp_path / "bf16", epochs=1, precision="bf16", channels_last=True)
    records = [json.loads(x) for x in (run / "logs/losses.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(
        math.isfinite(v) for r in records for v in r["losses"].values()
    )
    res = incli("generate", run, pairs, "-o", tmp_path / "g", "--precision", "bf16")
    assert res.returncode == 0, res.stderr
    assert read_image(tmp_path / "g" / "f005.png").shape == (48, 48)
