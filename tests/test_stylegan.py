"""The StyleGAN mask trainer on tiny networks: data, instance channels, augmentation, exact
resume, deterministic generation with latents, the CellGen threshold option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from celltool.imageio import read_image, tiff_axes, write_image

torch = pytest.importorskip("torch")

TINY = {"cfg": "stylegan2", "resolution": 16, "cbase": 128, "cmax": 8, "w_dim": 8,
        "map_layers": 2, "epoch_images": 8, "batch_size": 4, "samples": 2, "threads": 1,
        "d_reg_interval": 2, "ada_kimg": 1.0, "save_every": 0}  # fmt: skip


def disc(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


def make_masks(root: Path, n: int = 4, size: int = 24, seed: int = 0) -> Path:
    """Binary 8-bit masks of a few discs each."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        m = np.zeros((size, size), bool)
        for _ in range(3):
            m |= disc(m.shape, *rng.integers(4, size - 4, 2), int(rng.integers(2, 5)))
        write_image(root / f"m{i}.png", (m * 255).astype(np.uint8))
    return root


def touching_labels(size: int = 24) -> np.ndarray:
    """Two discs that touch along a line, as an instance label map."""
    labels = np.zeros((size, size), np.uint16)
    labels[disc(labels.shape, 12, 8, 5)] = 1
    labels[disc(labels.shape, 12, 16, 5) & (labels == 0)] = 2
    return labels


def test_dataset_reads_masks_and_label_maps_with_instance_distance(tmp_path):
    from celltool_stylegan.data import MaskDataset

    masks = make_masks(tmp_path / "masks")
    ds = MaskDataset([masks], {"resolution": 16, "epoch_images": 10, "seed": 1})
    item = ds[(0, 5)]
    assert item["image"].shape == item["distance"].shape == (1, 16, 16)
    assert item["name"] == "m1"  # item 5 of an epoch of 10 → mask 5 mod 4
    assert torch.equal(ds[(0, 5)]["image"], item["image"])  # keyed: same key, same crop
    assert not all(torch.equal(ds[(e, 5)]["image"], item["image"]) for e in (1, 2, 3))
    assert set(item["image"].unique().tolist()) <= {-1.0, 1.0}
    # a label map keeps touching cells apart: the distance is -1 (0 px) on their boundary
    labels_dir = tmp_path / "labels"
    labels_dir.mkdir()
    write_image(labels_dir / "a.png", touching_labels())
    lab = MaskDataset([labels_dir], {"resolution": 24}, train=False)[0]
    d = lab["distance"][0].numpy()
    assert d[12, 12] == -1 or d[12, 11] == -1  # the shared boundary column
    assert d[12, 8] > 0 and d[12, 16] > 0  # the cell centres are deep inside
    # the same two discs as a binary mask are one component: no boundary inside
    write_image(labels_dir / "a.png", ((touching_labels() > 0) * 255).astype(np.uint8))
    merged = MaskDataset([labels_dir], {"resolution": 24}, train=False)[0]["distance"][0]
    assert float(merged[12, 12]) > 0


def test_split_instances_separates_touching_cells_and_cellgen_threshold():
    from celltool_stylegan.instances import (
        cellgen_threshold,
        components,
        distance_channel,
        split_instances,
    )

    labels = touching_labels()
    fg = np.where(labels > 0, 1.0, -1.0).astype(np.float32)
    dist = distance_channel(labels, 4.0)
    split = split_instances(fg, dist, distance_max=4.0, marker_depth=2.0)
    assert split.max() == 2 and components(labels > 0).max() == 1
    assert (split > 0).sum() == (labels > 0).sum()
    assert split_instances(fg, None).max() == 1  # foreground alone merges them
    # CellGen's Threshold.py: gray = (x + 1)·127.5 ≥ 240 → x ≥ 0.882
    x = np.array([[0.87, 0.89, -1.0, 0.95]], np.float32)
    assert (cellgen_threshold(x) > 0).tolist() == [[False, True, False, True]]


def test_augmentations_change_d_input_keep_gradients_and_are_identity_at_p0():
    from celltool_stylegan import augment

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(4, 2, 16, 16, generator=g) * 2 - 1).requires_grad_(True)
    assert torch.equal(augment.ada(x, 0.0), x)
    torch.manual_seed(0)
    y = augment.ada(x, 1.0)
    assert y.shape == x.shape and not torch.allclose(y, x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert grad.abs().sum() > 0
    z = augment.diffaugment(x)
    assert z.shape == x.shape and not torch.allclose(z, x)
    # an x-flip alone is exact: integer transforms land on pixel centres
    flip = torch.diag(torch.tensor([-1.0, 1.0, 1.0])).expand(4, 3, 3)
    assert torch.allclose(augment.warp(x, flip), x.flip(3), atol=1e-5)
    ctl = augment.AdaController(target=0.6, interval=1, speed_kimg=1.0)
    ctl.accumulate(torch.ones(8))  # D says "real" to every real image: augment more
    ctl.update(1, batch=8)
    assert ctl.p == pytest.approx(0.008)
    ctl.accumulate(-torch.ones(8))
    ctl.update(2, batch=8)
    assert ctl.p == pytest.approx(0.0)


def _train(masks: Path, run: Path, **extra):
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "stylegan")
    options = {**TINY, "epochs": 3, "checkpoint_steps": 1, "seed": 3, **extra}
    stop = options.pop("stop", None)
    resume = options.pop("resume", False)
    config = resolve_config(component, options)
    data = None if resume else [masks]
    return train(component, data, run, config, stop_after_steps=stop, resume=resume)


def _state(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "latest.pt", map_location="cpu", weights_only=False)


def test_resume_restores_weights_optimizers_ema_ada_and_images_seen(tmp_path):
    """Stop after 3 of 6 steps (mid-epoch 2), resume: the same G, D, G_ema, optimizer states,
    ADA p, images seen and path-length mean as the uninterrupted run."""
    masks = make_masks(tmp_path / "masks")
    _train(masks, tmp_path / "full", ada_target=-1.0)
    _train(masks, tmp_path / "cut", ada_target=-1.0, stop=3)
    assert _state(tmp_path / "cut")["extra"]["nimg"] == 12
    _train(masks, tmp_path / "cut", ada_target=-1.0, resume=True)
    full, cut = _state(tmp_path / "full"), _state(tmp_path / "cut")
    assert set(full["networks"]) == {"G", "D", "G_ema"}
    for net in full["networks"]:
        for key, value in full["networks"][net].items():
            assert torch.equal(value, cut["networks"][net][key]), (net, key)
    assert full["extra"] == cut["extra"]
    assert full["extra"]["nimg"] == 24 and full["extra"]["steps"] == 6
    assert full["extra"]["ada"]["p"] > 0  # target −1: p grows at step 4
    assert full["extra"]["pl_mean"] != 0  # StyleGAN2's path-length mean is carried over
    for name in ("G", "D"):
        a, b = full["optimizers"][name]["state"], cut["optimizers"][name]["state"]
        assert all(torch.equal(a[k]["exp_avg"], b[k]["exp_avg"]) for k in a)
    records = [json.loads(x) for x in (tmp_path / "cut/logs/losses.jsonl").open()]
    assert [r["step"] for r in records] == list(range(1, 7))
    assert all(np.isfinite(v) for r in records for v in r["losses"].values())


def test_ada_p_is_restored_from_the_checkpoint(tmp_path):
    from celltool import plugins
    from celltool.training.api import Context, DataInfo
    from celltool.training.runs import resolve_config

    config = resolve_config(plugins.get("trainers", "stylegan"), {**TINY, "epochs": 1})
    from celltool_stylegan.model import StyleGAN

    ctx = Context(torch.device("cpu"))
    a = StyleGAN(config, DataInfo(0, 2, 8, (16, 16)), ctx)
    a.ada.p, a.nimg, a.ada.sign_sum, a.ada.count = 0.37, 12000, 3.0, 5
    b = StyleGAN(config, DataInfo(0, 2, 8, (16, 16)), ctx)
    b.load_extra_state(json.loads(json.dumps(a.extra_state())))  # plain data only
    assert (b.ada.p, b.nimg, b.ada.sign_sum, b.ada.count) == (0.37, 12000, 3.0, 5)


def _generate(run: Path, out: Path, **options):
    from celltool.steps.generation import generate

    seed = options.pop("seed", 0)
    return generate(run, [], out, options=options, device="cpu", precision="fp32", seed=seed)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sg")
    return _train(make_masks(tmp / "masks"), tmp / "run", epochs=1, cfg="stylegan3-t",
                  sg3_layers=3, aug="diffaug")  # fmt: skip


def test_generate_writes_label_maps_masks_and_latents_reproducibly(trained, tmp_path):
    from celltool_stylegan.generate import latent

    _generate(trained, tmp_path / "a", count=3, seed=5)
    _generate(trained, tmp_path / "b", count=1, seed=7)  # regenerate one sample by its seed
    names = sorted(p.name for p in (tmp_path / "a" / "labels").iterdir())
    assert names == ["seed000005.png", "seed000006.png", "seed000007.png"]
    labels = read_image(tmp_path / "a" / "labels" / "seed000007.png")
    mask = read_image(tmp_path / "a" / "masks" / "seed000007.png")
    assert labels.dtype == np.uint16 and labels.shape == (16, 16)
    assert mask.dtype == np.uint8 and np.array_equal(mask > 0, labels > 0)
    assert np.array_equal(labels, read_image(tmp_path / "b" / "labels" / "seed000007.png"))
    lat = np.load(tmp_path / "a" / "latents.npz")
    assert lat["seeds"].tolist() == [5, 6, 7] and lat["w"].shape == (3, 8)
    assert np.array_equal(lat["z"][2], latent(7, 8))
    assert np.array_equal(np.load(tmp_path / "b" / "latents.npz")["w"][0], lat["w"][2])
    facts = json.loads((tmp_path / "a" / "celltool.json").read_text())["facts"]
    assert facts["parts"] == {"labels": "labels", "masks": "masks"} and facts["count"] == 3


def test_generate_interpolation_truncation_and_no_augmentation(trained, tmp_path, monkeypatch):
    from celltool_stylegan import augment

    def boom(*args, **kwargs):
        raise AssertionError("augmentation ran during generation")

    monkeypatch.setattr(augment, "ada", boom)
    monkeypatch.setattr(augment, "diffaugment", boom)
    _generate(trained, tmp_path / "walk", interpolate=(5, 7), steps=4, raw=True)
    walk = np.load(tmp_path / "walk" / "latents.npz")
    assert walk["walk_w"].shape == (4, 8)
    movie = read_image(tmp_path / "walk" / "walk_masks.tif")  # the walk as one TYX stack
    frames = [read_image(tmp_path / "walk" / "masks" / f"walk_{k:04d}.png") for k in range(4)]
    assert movie.shape == (4, 16, 16) and np.array_equal(movie, np.stack(frames))
    assert tiff_axes(tmp_path / "walk" / "walk_masks.tif") == "TYX"
    _generate(trained, tmp_path / "ends", count=3, seed=5)
    ends = np.load(tmp_path / "ends" / "latents.npz")["w"]
    assert not (tmp_path / "ends" / "walk_masks.tif").exists()
    assert np.allclose(walk["walk_w"][0], ends[0]) and np.allclose(walk["walk_w"][3], ends[2])
    raw = read_image(tmp_path / "walk" / "raw" / "walk_0000_c0.png")
    assert raw.dtype == np.uint8 and raw.shape == (16, 16)
    _generate(trained, tmp_path / "psi0", count=3, truncation=0.0, split="threshold240", raw=True)
    planes = [read_image(p) for p in sorted((tmp_path / "psi0" / "raw").glob("*_c0.png"))]
    assert all(np.array_equal(planes[0], p) for p in planes)  # ψ = 0: every sample is w_avg
    threshold = [read_image(p) for p in sorted((tmp_path / "psi0" / "labels").glob("*.png"))]
    assert np.array_equal(threshold[0] > 0, planes[0] >= 240)


def test_cli_options_and_bounds(tmp_path):
    from test_train import incli

    masks = make_masks(tmp_path / "masks")
    res = incli("train", "stylegan", "--help")
    assert res.returncode == 0
    for flag in ("--cfg", "--cbase", "--gamma", "--aug", "--mirror", "--kimg", "--output"):
        assert flag in res.stdout
    run = tmp_path / "run"
    res = incli("train", "stylegan", masks, "-o", run, "--resolution", "24")
    assert res.returncode == 2 and "power of two" in res.stderr and not run.exists()
    res = incli("train", "stylegan", masks, "-o", run, "--gamma", "-1")
    assert res.returncode == 2 and "--gamma" in res.stderr and "[0, 1000]" in res.stderr
    assert not run.exists()
    res = incli("train", "stylegan", masks, "-o", run, "--cfg", "stylegan9")
    assert res.returncode == 2 and "--cfg" in res.stderr


def test_sixteen_bit_binary_masks_and_bf16_steps(tmp_path):
    from celltool_stylegan.data import read_mask
    from celltool_stylegan.model import StyleGAN

    from celltool import plugins
    from celltool.training.api import Context, DataInfo
    from celltool.training.runs import resolve_config

    binary = ((touching_labels() > 0) * 65535).astype(np.uint16)
    write_image(tmp_path / "b.png", binary)
    fg, labels = read_mask(tmp_path / "b.png")
    assert labels.max() == 1 and fg.max() == 1  # two values: a mask, one component
    write_image(tmp_path / "l.png", touching_labels())
    assert read_mask(tmp_path / "l.png")[1].max() == 2  # a label map keeps its instances
    config = resolve_config(plugins.get("trainers", "stylegan"),
                            {**TINY, "cfg": "stylegan3-t", "sg3_layers": 3})  # fmt: skip
    trainer = StyleGAN(config, DataInfo(0, 2, 8, (16, 16)), Context(torch.device("cpu"), "bf16"))
    batch = {k: torch.rand(4, 1, 16, 16) * 2 - 1 for k in ("image", "distance")}
    for _ in range(2):  # step 2 includes R1 (d_reg_interval 2), in fp32
        losses = trainer.train_step(batch)
    assert {"G", "D", "D_r1"} <= set(losses) and all(np.isfinite(v) for v in losses.values())
    assert trainer.G_ema.mapping.w_avg.dtype == torch.float32


def test_generate_command_line_from_noise(trained, tmp_path):
    from test_train import incli

    out = tmp_path / "g"
    res = incli("generate", trained, "-o", out, "--count", "2", "--seed", "4",
                "--interpolate", "1", "2", "--steps", "3", "--precision", "fp32")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (out / "labels").iterdir()) == [
        "walk_0000.png", "walk_0001.png", "walk_0002.png"]  # fmt: skip
    res = incli("generate", trained, "-o", tmp_path / "h", "--count", "2", "--seed", "4")
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "h" / "masks").iterdir())) == 2
    res = incli("generate", trained, tmp_path, "-o", tmp_path / "x")
    assert res.returncode == 2 and "from noise" in res.stderr


def test_generate_steered_to_a_denser_target_keeps_seeds_that_regenerate(trained, tmp_path):

    from celltool.errors import UsageError
    from celltool.labels import label_density

    def means(folder: Path, first: int = 10**6) -> tuple[float, float]:
        paths = sorted((folder / "labels").glob("*.png"))[:first]
        stats = [label_density(read_image(p)) for p in paths]
        return float(np.mean([s[0] for s in stats])), float(np.mean([s[1] for s in stats]))

    _generate(trained, tmp_path / "plain", count=32, seed=0, min_object_size=0)
    count, coverage = means(tmp_path / "plain")  # seeds 0..31: a quarter of the pool
    target = {"target_count": 1.25 * count, "target_coverage": 1.25 * coverage}
    _generate(trained, tmp_path / "steered", count=8, seed=0, pool=4, min_object_size=0, **target)
    kept, kept_coverage = means(tmp_path / "steered")
    assert kept > 1.1 * count and kept_coverage > coverage  # 8 kept: only the direction
    assert kept > 1.1 * means(tmp_path / "plain", 8)[0]  # not just seeds 0..7
    facts = json.loads((tmp_path / "steered" / "celltool.json").read_text())["facts"]
    assert facts["count"] == 8 and facts["steering"]["candidates"] == 32
    assert facts["steering"]["kept_mean"]["count"] == pytest.approx(kept)
    seeds = np.load(tmp_path / "steered" / "latents.npz")["seeds"].tolist()
    assert len(set(seeds)) == 8 and all(0 <= s < 32 for s in seeds)
    for s in seeds:  # a kept sample is the plain sample of its seed
        name = f"seed{s:06d}.png"
        assert np.array_equal(read_image(tmp_path / "steered" / "labels" / name),
                              read_image(tmp_path / "plain" / "labels" / name))  # fmt: skip
    with pytest.raises(UsageError, match="not a walk"):
        _generate(trained, tmp_path / "w", interpolate=(1, 2), target_count=3.0)
    from test_train import incli

    res = incli("generate", trained, "--help")
    flags = ("--target-count", "--target-coverage", "--target-nn-distance", "--pool")
    assert all(f in res.stdout for f in flags)


def test_generate_steered_to_closer_neighbours_keeps_more_crowded_samples(trained, tmp_path):
    from celltool.labels import centroid_spacing

    def spacing(folder: Path) -> float:  # mean over objects, as the steering and the metric
        d = np.concatenate([centroid_spacing(read_image(p))
                            for p in sorted((folder / "labels").glob("*.png"))])  # fmt: skip
        return float(d.mean())

    _generate(trained, tmp_path / "plain", count=32, seed=0, min_object_size=0)
    plain = spacing(tmp_path / "plain")  # seeds 0..31: the pool
    _generate(trained, tmp_path / "near", count=8, seed=0, pool=4, min_object_size=0,
              target_nn_distance=0.8 * plain)  # fmt: skip
    near = spacing(tmp_path / "near")
    assert near < 0.95 * plain
    facts = json.loads((tmp_path / "near" / "celltool.json").read_text())["facts"]["steering"]
    assert facts["targets"] == {"nn_distance": pytest.approx(0.8 * plain)}
    assert facts["pool_mean"]["nn_distance"] == pytest.approx(plain)
    assert facts["kept_mean"]["nn_distance"] == pytest.approx(near)
