"""celltool train cyclegan REAL SIM / celltool generate: 2D and 3D on tiny volumes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_train import incli

from celltool.imageio import read_image, write_image
from celltool.manifest import labels_facts, make_manifest, part, require_kind, write_manifest
from celltool.volumes import read_volume, write_volume

torch = pytest.importorskip("torch")

TINY3D = {"netG": "resnet_1blocks", "ngf": 2, "ndf": 2, "crop_size": (12, 24, 24),
          "samples": 2, "threads": 1, "epochs": 2, "save_every": 0}  # fmt: skip
TINY_ARGS = ["--netG", "resnet_1blocks", "--ngf", "2", "--ndf", "2", "--samples", "2",
             "--threads", "1", "--save-every", "0"]  # fmt: skip
VOXEL = (2.0, 0.5, 0.5)


def make_real(folder: Path, n: int = 3, shape=(16, 32, 32), seed: int = 0) -> Path:
    """'Real' 12-bit volumes in uint16: blurred bright blobs on a noisy background."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        v = np.zeros(shape)
        v[tuple(rng.integers(0, s, 12) for s in shape)] = 1
        v = ndimage.gaussian_filter(v, (1, 2, 2)) * 3000 + 200 + 50 * rng.random(shape)
        write_volume(folder / f"real{i}.tif", np.clip(v, 0, 4095).astype(np.uint16),
                     voxel_size=VOXEL)  # fmt: skip
    write_manifest(folder, make_manifest("images", step="test", facts={"bit_depth": 12}))
    return folder


def make_sim(folder: Path, n: int = 2, shape=(16, 32, 32), seed: int = 1) -> Path:
    """A 3D simulation container: uint8 images + a 'nuclei' label part, voxel size in facts."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[: shape[0], : shape[1], : shape[2]]
    for sub in ("images", "nuclei"):
        (folder / sub).mkdir(parents=True)
    for i in range(n):
        labels = np.zeros(shape, np.uint16)
        for k in range(4):
            cz, cy, cx = (int(rng.integers(3, s - 3)) for s in shape)
            labels[(zz - cz) ** 2 / 4 + (yy - cy) ** 2 / 16 + (xx - cx) ** 2 / 16 < 1] = k + 1
        image = ((labels > 0) * 160 + 20 + rng.integers(0, 10, shape)).astype(np.uint8)
        write_volume(folder / "images" / f"sim_{i:04d}.tif", image)
        write_volume(folder / "nuclei" / f"sim_{i:04d}.tif", labels)
    common = {"step": "simulate", "params": {}, "seed": 0}
    facts = {"bit_depth": 8, "axes": "ZYX", "voxel_size": list(VOXEL)}
    write_manifest(folder / "images", make_manifest("images", facts=facts, **common))
    write_manifest(folder / "nuclei", make_manifest("labels", facts=labels_facts("nuclei"),
                                                    **common))  # fmt: skip
    write_manifest(folder, make_manifest("simulation", facts={
        "parts": {"images": "images", "nuclei": "nuclei"}, **facts}, **common))  # fmt: skip
    return folder


@pytest.fixture
def data3d(tmp_path) -> tuple[Path, Path]:
    return make_real(tmp_path / "real"), make_sim(tmp_path / "sim")


def _train(real: Path, sim: Path, run: Path, stop: int | None = None, **extra) -> Path:
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "cyclegan")
    config = resolve_config(component, {**TINY3D, **extra})
    return train(component, [real, sim], run, config, stop_after_steps=stop)


def _state(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "latest.pt", weights_only=False)


def test_3d_train_and_generate_a_labelled_simulation(data3d, tmp_path):
    real, sim = data3d
    run = tmp_path / "run"
    res = incli("train", "cyclegan", real, sim, "-o", run, "--epochs", "2",
                "--crop-size", "12,24,24", *TINY_ARGS)  # fmt: skip
    assert res.returncode == 0, res.stderr
    record = json.loads((run / "config.json").read_text())
    info = record["data_info"]
    assert info["dims"] == 3 and info["size"] == [16, 32, 32] and info["crop"] == [12, 24, 24]
    assert info["domains"]["A"]["bit_depth"] == 12 and info["domains"]["B"]["bit_depth"] == 8
    steps = [json.loads(x) for x in (run / "logs/losses.jsonl").read_text().splitlines()]
    assert len(steps) == 4  # an epoch runs over SIM (2 volumes), 2 epochs
    assert set(steps[0]["losses"]) == {"G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B",
                                       "D_A", "D_B"}  # fmt: skip
    grid = read_image(run / "samples" / "epoch_0002.png")
    assert grid.shape[:2] == (2 * 24 + 2, 6 * 24 + 10)  # 2 samples, 6 mid-slice columns
    state = _state(run)
    assert len(state["extra"]["pool_A"]["images"]) == 4 and state["extra"]["steps"] == 4
    import io

    buffer = io.BytesIO()  # the extra state loads with weights_only=True: plain tensors
    torch.save(state["extra"], buffer)
    buffer.seek(0)
    extra = torch.load(buffer, weights_only=True)
    assert torch.equal(extra["pool_B"]["images"][3], state["extra"]["pool_B"]["images"][3])
    # generate: 16×32×32 volumes with 12×24×24 tiles (blended), labels copied
    out = tmp_path / "translated"
    res = incli("generate", run, sim, "-o", out)
    assert res.returncode == 0, res.stderr
    manifest = require_kind(out, ["simulation"])
    facts = manifest["facts"]
    assert facts["labels"] == "copied" and facts["copied_parts"] == ["nuclei"]
    assert facts["bit_depth"] == 8 and facts["dtype"] == "uint8" and facts["n_images"] == 2
    assert facts["tiling"]["tile"] == [12, 24, 24] and facts["tiling"]["overlap"] == [3, 6, 6]
    for name in ("sim_0000", "sim_0001"):
        v = read_volume(part(out, "images") / f"{name}.tif")
        assert v.data.dtype == np.uint8 and v.data.shape == (16, 32, 32)
        assert v.voxel_size == VOXEL and v.axes == "ZYX"
        assert v.data.std() > 0
        labels = read_volume(part(out, "nuclei") / f"{name}.tif").data
        assert np.array_equal(labels, read_volume(sim / "nuclei" / f"{name}.tif").data)
    nuclei = json.loads((out / "nuclei" / "celltool.json").read_text())
    assert nuclei["kind"] == "labels" and nuclei["facts"]["copied_from"]
    assert json.loads((out / "images" / "celltool.json").read_text())["kind"] == "images"


def test_generate_one_tile_equals_the_network_and_16_bit_input_keeps_its_depth(data3d, tmp_path):
    """A tile as large as the volume = one pass of G_B; a real2sim run translates 12-bit
    uint16 volumes into 12-bit uint16 output (the input's bit depth)."""
    from celltool.training.data import from_unit, to_unit
    from celltool.training.generate import generate_folder, load_trainer

    real, sim = data3d
    run = _train(real, sim, tmp_path / "run", epochs=1, direction="real2sim")
    out = generate_folder(run, [real], tmp_path / "g", options={"tile": (16, 32, 32)})
    assert require_kind(out, ["generated"])["facts"]["bit_depth"] == 12
    trainer, _ = load_trainer(run, device="cpu")
    source = read_volume(real / "real1.tif").data
    x = torch.from_numpy(to_unit(source, 12))[None, None]
    expected = from_unit(trainer.G_A(x).detach().numpy()[0, 0], 12)
    got = read_volume(out / "real1.tif")
    assert got.data.dtype == np.uint16 and got.data.max() <= 4095
    assert np.array_equal(got.data, expected)
    assert got.voxel_size == VOXEL


def test_resume_is_exact_with_the_image_pools(data3d, tmp_path):
    """Stop after 3 steps (mid-epoch 2), resume: the same weights, pools and pool streams as
    an uninterrupted run."""
    real, sim = data3d
    extra = {"epochs": 3, "checkpoint_steps": 1, "seed": 5, "pool_size": 3}
    _train(real, sim, tmp_path / "full", **extra)
    _train(real, sim, tmp_path / "cut", stop=3, **extra)
    cut = _state(tmp_path / "cut")
    assert cut["position"]["global_step"] == 3 and len(cut["extra"]["pool_A"]["images"]) == 3
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "cyclegan")
    train(component, None, tmp_path / "cut", resolve_config(component, {**TINY3D, **extra}),
          resume=True)  # fmt: skip
    a, b = _state(tmp_path / "full"), _state(tmp_path / "cut")
    for net in ("G_A", "G_B", "D_A", "D_B"):
        for key, value in a["networks"][net].items():
            assert torch.equal(value, b["networks"][net][key]), (net, key)
    for pool in ("pool_A", "pool_B"):
        pa, pb = a["extra"][pool], b["extra"][pool]
        assert len(pa["images"]) == len(pb["images"]) == 3
        assert all(torch.equal(x, y) for x, y in zip(pa["images"], pb["images"], strict=True))
        assert torch.equal(pa["rng"], pb["rng"])
    assert a["extra"]["steps"] == b["extra"]["steps"] == 6


def test_discriminators_update_every_kth_step(data3d, tmp_path):
    real, _ = data3d
    sim = make_sim(tmp_path / "sim3", n=3)  # steps 1 and 2 mid-epoch: checkpointed
    extra = {"epochs": 2, "checkpoint_steps": 1, "d_every": 2}
    runs = {k: _train(real, sim, tmp_path / f"s{k}", stop=k, **extra) for k in (1, 2)}
    one, two = _state(runs[1]), _state(runs[2])
    d_same = all(torch.equal(v, two["networks"]["D_A"][k])
                 for k, v in one["networks"]["D_A"].items())  # fmt: skip
    g_same = all(torch.equal(v, two["networks"]["G_A"][k])
                 for k, v in one["networks"]["G_A"].items())  # fmt: skip
    assert d_same and not g_same  # step 2 trains G only
    assert len(two["extra"]["pool_A"]["images"]) == 1  # the pool is queried with D's step
    full = _train(real, sim, tmp_path / "full", **extra)
    records = [json.loads(x) for x in (full / "logs/losses.jsonl").read_text().splitlines()]
    assert ["D_A" in r["losses"] for r in records] == [True, False, True, False, True, False]


def test_2d_cyclegan_on_a_simulation_container(sim, tmp_path):
    """2D: real PNGs vs celltool's 2D simulation; generate keeps cells and nuclei."""
    real = tmp_path / "real2d"
    real.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(real / f"r{i}.png", (rng.random((64, 64)) * 255).astype(np.uint8))
    run = tmp_path / "run2d"
    res = incli("train", "cyclegan", real, sim, "-o", run, "--epochs", "1",
                "--crop-size", "32", *TINY_ARGS)  # fmt: skip
    assert res.returncode == 0, res.stderr
    info = json.loads((run / "config.json").read_text())["data_info"]
    assert info["dims"] == 2 and info["crop"] == [32, 32]
    assert read_image(run / "samples" / "epoch_0001.png").shape[:2] == (66, 6 * 32 + 10)
    out = tmp_path / "g2d"
    res = incli("generate", run, sim, "-o", out, "--tile", "64")
    assert res.returncode == 0, res.stderr
    facts = require_kind(out, ["simulation"])["facts"]
    assert sorted(facts["parts"]) == ["cells", "images", "nuclei"]
    assert facts["copied_parts"] == ["cells", "nuclei"] and facts["axes"] == "YX"
    names = sorted(p.name for p in part(sim, "images").glob("*.png"))
    assert sorted(p.name for p in part(out, "images").glob("*.png")) == names
    assert read_image(part(out, "images") / names[0]).shape == (128, 128)
    assert np.array_equal(read_image(part(out, "cells") / names[0]),
                          read_image(part(sim, "cells") / names[0]))  # fmt: skip


def test_bad_inputs_are_one_line_errors(data3d, tmp_path):
    real, sim = data3d
    cases = [
        (["train", "cyclegan", real, "-o", tmp_path / "r1"], "give 2 input folders"),
        (["train", "cyclegan", real, sim, "-o", tmp_path / "r2", "--crop-size", "12,26,26"],
         "multiple of 4"),
        (["train", "cyclegan", real, sim, "-o", tmp_path / "r3", "--crop-size", "8,16,16"],
         "too small for --netD"),
        (["train", "cyclegan", real, sim, "-o", tmp_path / "r4", "--crop-size", "32,32,32"],
         "smaller than the crop"),
        (["train", "cyclegan", real, sim, "-o", tmp_path / "r5", "--d-every", "0"],
         "--d-every: 0 is not in [1, 1000]"),
    ]  # fmt: skip
    for args, message in cases:
        res = incli(*args, *TINY_ARGS)
        assert res.returncode != 0, args
        assert message in res.stderr, (args, res.stderr)
        assert not Path(args[args.index("-o") + 1]).exists()  # no run folder left behind


@pytest.mark.slow
def test_torchrun_two_processes_share_one_pool(data3d, tmp_path):
    """torchrun --nproc_per_node 2 on CPU (gloo): one model, the fakes of both processes go
    through one pool that is identical on both (so rank 0's checkpoint holds it), and resume
    from it is exact."""
    from conftest import torchrun_train

    real, _ = data3d
    sim = make_sim(tmp_path / "sim4", n=4)  # 2 volumes per process per epoch

    def torchrun(*args: str):
        return torchrun_train("cyclegan", *args, timeout=900)

    common = ["--crop-size", "12,24,24", "--device", "cpu", "--pool-size", "3",
              "--checkpoint-steps", "1", *TINY_ARGS]  # fmt: skip
    full, cut = tmp_path / "full", tmp_path / "cut"
    res = torchrun(str(real), str(sim), "-o", str(full), "--epochs", "2", *common)
    assert res.returncode == 0, res.stderr[-3000:]
    state = _state(full)
    assert state["rank_checksums"][0] == state["rank_checksums"][1]
    # 4 steps × 2 processes = 8 fakes queried; the shared pool holds 3 of them
    assert len(state["extra"]["pool_A"]["images"]) == 3 and state["extra"]["steps"] == 4
    res = torchrun(str(real), str(sim), "-o", str(cut), "--epochs", "1", *common)
    assert res.returncode == 0, res.stderr[-3000:]
    res = torchrun("--resume", str(cut), "--epochs", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = _state(full), _state(cut)
    for net in ("G_A", "G_B", "D_A", "D_B"):
        for key, value in a["networks"][net].items():
            assert torch.equal(value, b["networks"][net][key]), (net, key)


def test_unet_generators_and_the_pixel_discriminator_in_3d():
    """--netG unet_<n> is honoured in 3D (the original always built a ResNet-9): the crop
    must be a multiple of its factor; --netD pixel trains too."""
    from celltool_cyclegan import PARAMS
    from celltool_cyclegan.model import CycleGAN

    from celltool.errors import UsageError
    from celltool.nn.generators import UnetGenerator
    from celltool.training.api import Context, DataInfo

    def make(crop, **extra):
        config = {p.name: p.default for p in PARAMS}
        config.update(epochs=2, batch_size=1, lr=2e-4, seed=0, ngf=2, ndf=2, **extra)
        info = DataInfo(1, 1, 8, crop, extra={"dims": 3, "crop": list(crop)})
        return CycleGAN(config, info, Context(device=torch.device("cpu")))

    unet = make((32, 32, 32), netG="unet_32")
    assert isinstance(unet.G_B, UnetGenerator) and unet.factor == 32
    with torch.no_grad():
        assert unet.G_B(torch.zeros(1, 1, 32, 32, 32)).shape == (1, 1, 32, 32, 32)
    trainer = make((12, 24, 24), netG="resnet_1blocks", netD="pixel")
    g = torch.Generator().manual_seed(0)
    batch = {k: torch.rand(1, 1, 12, 24, 24, generator=g) * 2 - 1 for k in ("A", "B")}
    before = trainer.D_A.model[0].weight.detach().clone()
    losses = trainer.train_step(batch)
    assert set(losses) >= {"G_A", "G_B", "cycle_A", "D_A"}
    assert all(np.isfinite(v) for v in losses.values())
    assert not torch.equal(before, trainer.D_A.model[0].weight)  # the pixel D trained
    with pytest.raises(UsageError, match="multiple of 32"):
        make((16, 32, 32), netG="unet_32")
