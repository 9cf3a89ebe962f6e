"""pix2pixHD through the trainer framework on tiny networks: one-hot sketches, instance edges,
16-bit data, coarse-to-fine stages, exact resume, generate at any size, missing VGG weights."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from test_train import incli, make_pairs

from celltool.imageio import read_image, write_image

pytest.importorskip("torch")

TINY = ["--ngf", "4", "--ndf", "4", "--crop-size", "32", "--n-downsample-global", "2",
        "--n-blocks-global", "1", "--n-blocks-local", "1", "--n-layers-D", "2", "--samples", "1",
        "--threads", "1", "--save-every", "0"]  # fmt: skip
TINY_CONFIG = {"ngf": 4, "ndf": 4, "crop_size": 32, "n_downsample_global": 2,
               "n_blocks_global": 1, "n_blocks_local": 1, "n_layers_D": 2, "samples": 1,
               "threads": 1, "no_vgg_loss": True}  # fmt: skip

STAGED = {**TINY_CONFIG, "netG": "local", "niter_global": 1, "niter_fix_global": 1, "seed": 2}


@pytest.fixture(scope="module")
def sketches(tmp_path_factory) -> Path:
    """A simulation (4 images, 72²) and its 7-level sketch (8 classes)."""
    tmp = tmp_path_factory.mktemp("sketch")
    args = ["simulate", "-o", tmp / "sim", "-n", "4", "--size", "72", "--seed", "1",
            "--n-cells", "12"]  # fmt: skip
    assert incli(*args).returncode == 0
    assert incli("sketch", tmp / "sim", "--levels", "7", "-o", tmp / "sk").returncode == 0
    return tmp / "sk"


def split(sketch: Path, out: Path, *extra: str) -> Path:
    args = ["split", sketch, "--crop", "48", "--crops", "1", "--ratios", "0.5,0.25,0.25",
            "-o", out, *extra]  # fmt: skip
    res = incli(*args)
    assert res.returncode == 0, res.stderr
    return out


def add_instances(pairs: Path, cells: Path) -> None:
    """``<split>/instance/NAME`` crops of the cell label maps (what split will write)."""
    with (pairs / "crops.csv").open() as f:
        for row in csv.DictReader(f):
            r, c, h, w = (int(row[k]) for k in ("row", "col", "height", "width"))
            labels = read_image(cells / row["frame"])[r : r + h, c : c + w]
            name = Path(row["file"]).name
            (pairs / row["split"] / "instance").mkdir(exist_ok=True)
            write_image(pairs / row["split"] / "instance" / name, labels.astype(np.uint16))


def train(pairs: Path, run: Path, *extra: str) -> dict:
    res = incli("train", "pix2pixhd", pairs, "-o", run, *TINY, "--no-vgg-loss", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads((run / "config.json").read_text())


def generate(run: Path, inputs: Path, out: Path, *extra: str) -> Path:
    res = incli("generate", run, inputs, "-o", out, *extra)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)
    return out


def test_one_hot_sketch_pairs_train_and_generate_any_size(sketches, tmp_path):
    pairs = split(sketches, tmp_path / "pairs", "--sketch", "index")
    record = train(pairs, tmp_path / "run", "--epochs", "2")
    info = record["data_info"]
    assert (info["label_nc"], info["edges"], info["in_channels"]) == (8, "classes", 9)
    assert info["sketch_mode"] == "index"
    gen = generate(tmp_path / "run", pairs, tmp_path / "gen")
    test_names = sorted(p.name for p in (pairs / "test").glob("*.png"))
    assert sorted(p.name for p in gen.glob("*.png")) == test_names
    # the sketch folder's whole 72² index maps: larger than the 32² crops → blended tiles
    gen2 = generate(tmp_path / "run", sketches, tmp_path / "gen2")
    for path in sorted((sketches / "index").glob("*.png")):
        out = read_image(gen2 / path.name)
        assert out.shape == (72, 72) and out.dtype == np.uint8 and out.std() > 0
    facts = json.loads((gen2 / "celltool.json").read_text())["facts"]
    assert facts["edges"] == {"classes": 4} and facts["label_nc"] == 8


def test_gray_sketch_pairs_decode_through_the_class_table(sketches, tmp_path):
    from celltool_pix2pixhd.data import LabelPairsDataset

    gray = LabelPairsDataset(split(sketches, tmp_path / "g"), "train", TINY_CONFIG, train=False)
    index = split(sketches, tmp_path / "i", "--sketch", "index")
    index = LabelPairsDataset(index, "train", TINY_CONFIG, train=False)
    assert gray.info["sketch_mode"] == "gray" and index.info["sketch_mode"] == "index"
    for i in range(len(gray)):
        assert np.array_equal(gray[i]["input"].numpy(), index[i]["input"].numpy())


def test_instance_edges_from_folders_layout(sketches, tmp_path):
    from celltool_pix2pixhd.data import LabelPairsDataset
    from celltool_pix2pixhd.labels import get_edges

    pairs = split(sketches, tmp_path / "pairs", "--sketch", "index", "--layout", "folders")
    cells = Path(json.loads((sketches / "celltool.json").read_text())["facts"]["cells"])
    add_instances(pairs, cells)
    config = {**TINY_CONFIG, "crop_size": 48}
    data = LabelPairsDataset(pairs, "train", config, train=False)
    assert data.info["edges"] == "instance" and data.info["in_channels"] == 9
    item = data[0]
    instance = read_image(pairs / "train" / "instance" / f"{item['name']}.png")
    assert np.array_equal(item["input"][-1].numpy(), get_edges(instance))
    record = train(pairs, tmp_path / "run", "--epochs", "1")
    assert record["data_info"]["edges"] == "instance"
    gen = generate(tmp_path / "run", pairs, tmp_path / "gen")
    facts = json.loads((gen / "celltool.json").read_text())["facts"]
    assert facts["edges"] == {"instance": len(list((pairs / "test" / "image").glob("*.png")))}
    # a sketch folder: its cells are the instance maps; plain index maps: class boundaries
    facts = json.loads((generate(tmp_path / "run", sketches, tmp_path / "g2") /
                        "celltool.json").read_text())["facts"]  # fmt: skip
    assert facts["edges"] == {"instance": 4}
    res = incli("generate", tmp_path / "run", sketches / "index", "-o", tmp_path / "g3")
    assert res.returncode == 0 and "class-map boundaries" in res.stderr
    res = incli("generate", tmp_path / "run", sketches / "index", "-o", tmp_path / "g4",
                "--instances", cells)  # fmt: skip
    facts = json.loads((tmp_path / "g4" / "celltool.json").read_text())["facts"]
    assert res.returncode == 0 and facts["edges"] == {"instance": 4}


def test_one_augmentation_for_image_labels_and_instances(tmp_path):
    """image = 10 · instance id, class = id mod 3: after random crops and flips the target,
    the one-hot classes and the edge map still describe the same pixels."""
    from celltool_pix2pixhd.data import LabelPairsDataset
    from celltool_pix2pixhd.labels import get_edges

    from celltool.manifest import make_manifest, write_manifest

    rng = np.random.default_rng(0)
    pairs = tmp_path / "pairs"
    for i in range(3):
        ids = np.kron(rng.integers(0, 20, (8, 10)), np.ones((6, 6), np.int64))  # 48 × 60
        for part, array in (("image", (ids * 10).astype(np.uint8)),
                            ("sketch", (ids % 3).astype(np.uint8)),
                            ("instance", ids.astype(np.uint16))):  # fmt: skip
            (pairs / "train" / part).mkdir(parents=True, exist_ok=True)
            write_image(pairs / "train" / part / f"{i}.png", array)
    classes = [{"index": k, "name": str(k), "gray": 100 * k} for k in range(3)]
    write_manifest(pairs, make_manifest("pairs", step="split", params={"sketch": "index"},
                                        facts={"layout": "folders", "classes": classes,
                                               "bit_depth": 8}))  # fmt: skip
    data = LabelPairsDataset(pairs, "train", {**TINY_CONFIG, "crop_size": 24}, train=True)
    for epoch in range(4):
        for i in range(3):
            item = data[(epoch, i)]
            target = np.rint((item["target"][0].numpy() + 1) / 2 * 255).astype(np.int64)
            ids = target // 10
            assert np.array_equal(item["input"][:3].numpy().argmax(0), ids % 3)
            assert np.array_equal(item["input"][3].numpy(), get_edges(ids))
    a, b = data[(0, 0)]["target"], data[(1, 0)]["target"]
    assert a.shape == (1, 24, 24) and not np.array_equal(a.numpy(), b.numpy())


def test_sixteen_bit_index_pairs(tmp_path):
    args = [
        "simulate",
        "-o",
        tmp_path / "sim",
        "-n",
        "3",
        "--size",
        "64",
        "--bit-depth",
        "16",
        "--n-cells",
        "10",
    ]
    assert incli(*args).returncode == 0
    assert incli("sketch", tmp_path / "sim", "--levels", "4", "-o", tmp_path / "sk").returncode == 0
    pairs = split(tmp_path / "sk", tmp_path / "pairs", "--sketch", "index")
    stored = read_image(next((pairs / "train").glob("*.png")))
    assert stored.dtype == np.uint16 and stored[:, 48:].max() >= 257  # indices × 257
    record = train(pairs, tmp_path / "run", "--epochs", "1")
    assert record["data_info"]["label_nc"] == 5 and record["data_info"]["bit_depth"] == 16
    gen = generate(tmp_path / "run", pairs, tmp_path / "gen")
    assert read_image(next(gen.glob("*.png"))).dtype == np.uint16


def test_plain_mask_to_image_like_cellgen(tmp_path):
    """label_nc 0: a binary mask image in, an image out (CellGen's --label_nc 0 --no_instance)."""
    pairs = make_pairs(tmp_path, n=4, size=40)
    record = train(pairs, tmp_path / "run", "--epochs", "1", "--netG", "local")
    info = record["data_info"]
    assert (info["label_nc"], info["edges"], info["in_channels"]) == (0, "none", 1)
    gen = generate(tmp_path / "run", pairs, tmp_path / "gen")
    assert read_image(gen / "f003.png").shape == (40, 40)


def _weights(run: Path, name: str = "latest.pt") -> dict:
    import torch

    state = torch.load(run / "checkpoints" / name, map_location="cpu", weights_only=False)
    return state["networks"]["G"]


def _train_local(pairs: Path, run: Path, stop: int | None = None, epochs: int = 3):
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "pix2pixhd")
    options = {**STAGED, "epochs": epochs, "checkpoint_steps": 1, "save_every": 1}
    config = resolve_config(component, options)
    return train(component, [pairs], run, config, stop_after_steps=stop)


def test_local_enhancer_trains_coarse_to_fine(sketches, tmp_path):
    import torch

    pairs = split(sketches, tmp_path / "pairs", "--sketch", "index")
    _train_local(pairs, tmp_path / "run")
    w1, w2, w3 = (_weights(tmp_path / "run", f"epoch_000{e}.pt") for e in (1, 2, 3))

    def changed(a, b, prefix):
        keys = [k for k in a if k.startswith(prefix) and a[k].dtype.is_floating_point]
        assert keys, prefix
        return {not torch.equal(a[k], b[k]) for k in keys}

    # epoch 2 (enhancer only): the global generator stays fixed, the enhancer learns
    assert changed(w1, w2, "global_net.") == {False}
    assert True in changed(w1, w2, "up_blocks.") and True in changed(w1, w2, "down_blocks.")
    # epoch 3 (joint): the global body learns too; its coarse-stage head is no longer used
    assert True in changed(w2, w3, "global_net.body.")
    assert changed(w2, w3, "global_net.head.") == {False}
    # epoch 1 (coarse stage) trained the head, which only the global generator alone uses
    from celltool import plugins
    from celltool.training.api import DataInfo
    from celltool.training.runs import resolve_config
    from celltool.training.runtime import make_context, seed_everything

    component = plugins.get("trainers", "pix2pixhd")
    config = resolve_config(component, {**STAGED, "epochs": 3})
    seed_everything(2)
    cls = component.load()
    info = DataInfo.from_dict(cls.make_dataset([pairs], "train", config, True).info)
    init = cls(config, info, make_context(config)).G.state_dict()
    assert True in changed(init, w1, "global_net.head.")
    assert changed(init, w1, "up_blocks.") == {False}


def test_resume_mid_run_is_exact(sketches, tmp_path):
    import torch

    pairs = split(sketches, tmp_path / "pairs", "--sketch", "index")
    _train_local(pairs, tmp_path / "full")
    _train_local(pairs, tmp_path / "cut", stop=3)  # 2 steps per epoch: stops in the fix stage
    state = torch.load(tmp_path / "cut/checkpoints/latest.pt", weights_only=False)
    assert state["position"] == {"epoch": 1, "step_in_epoch": 1, "global_step": 3}
    res = incli("train", "pix2pixhd", "--resume", tmp_path / "cut")
    assert res.returncode == 0, res.stderr
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert full.keys() == cut.keys() and all(torch.equal(full[k], cut[k]) for k in full)


def test_missing_vgg_weights_is_one_line_and_leaves_no_run(sketches, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("CELLTOOL_VGG_WEIGHTS", raising=False)
    pairs = split(sketches, tmp_path / "pairs", "--sketch", "index")
    res = incli("train", "pix2pixhd", pairs, "-o", tmp_path / "run", *TINY)
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1
    assert "celltool lpips-weights" in res.stderr and "--no-vgg-loss" in res.stderr
    assert not (tmp_path / "run").exists()
    res = incli("train", "pix2pixhd", pairs, "-o", tmp_path / "r2", *TINY, "--crop-size", "18",
                "--no-vgg-loss")  # fmt: skip
    assert res.returncode == 2 and "--crop-size 18" in res.stderr


def test_vgg_loss_trains_with_a_weights_file(sketches, tmp_path, monkeypatch):
    import torch
    from torchvision.models import vgg

    torch.manual_seed(0)
    features = vgg.make_layers(vgg.cfgs["D"])
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()},
               tmp_path / "vgg.pth")  # fmt: skip
    monkeypatch.setenv("CELLTOOL_VGG_WEIGHTS", str(tmp_path / "vgg.pth"))
    pairs = split(sketches, tmp_path / "pairs", "--sketch", "index")
    res = incli("train", "pix2pixhd", pairs, "-o", tmp_path / "run", *TINY, "--epochs", "1")
    assert res.returncode == 0, res.stderr
    records = [json.loads(x) for x in (tmp_path / "run/logs/losses.jsonl").open()]
    assert all(r["losses"]["G_VGG"] > 0 and r["losses"]["G_GAN_Feat"] > 0 for r in records)
    state = torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=False)
    assert set(state["networks"]) == {"G", "D"}  # the frozen VGG is not checkpointed


@pytest.mark.slow
def test_torchrun_two_processes_train_the_staged_local_model(sketches, tmp_path):
    """torchrun with 2 processes (gloo, CPU) through all three stages of --netG local: the
    processes end with the same weights (checked at every checkpoint) and per-process RNG."""
    import torch
    from conftest import torchrun_train

    pairs = split(sketches, tmp_path / "pairs", "--sketch", "index", "--ratios", "1,0,0")
    run = tmp_path / "run"
    res = torchrun_train("pix2pixhd", pairs, "-o", run, *TINY, "--no-vgg-loss", "--device", "cpu",
                         "--epochs", "3", "--netG", "local", "--niter-global", "1",
                         "--niter-fix-global", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines() == [str(run)]
    state = torch.load(run / "checkpoints/latest.pt", weights_only=False)
    sums = state["rank_checksums"]
    assert len(sums) == 2 and sums[0] == sums[1] and len(state["rng"]) == 2
    steps = [json.loads(x)["step"] for x in (run / "logs/losses.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # 4 train pairs, 2 per process: 2 steps × 3 epochs


def test_model_defaults_apply_unless_given():
    """pix2pixHD turns the framework's --gemm-convs off (measured slower for its networks);
    a user's --gemm-convs, on the command line or in a config file, still wins; the model's
    epochs apply when --epochs is not given."""
    from celltool import plugins
    from celltool.training.runs import resolve_config

    hd = plugins.get("trainers", "pix2pixhd")
    assert resolve_config(hd)["gemm_convs"] is False
    assert resolve_config(hd, {"gemm_convs": True})["gemm_convs"] is True
    assert resolve_config(hd, None, {"gemm_convs": True})["gemm_convs"] is True
    assert resolve_config(hd)["epochs"] == 200
    assert resolve_config(hd, {"epochs": 3})["epochs"] == 3
    assert resolve_config(plugins.get("trainers", "pix2pix"))["gemm_convs"] is True
