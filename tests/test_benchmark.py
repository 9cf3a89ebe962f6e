"""celltool benchmark: several segmenters (one of them twice, and a third-party plugin) on a
simulation, scores equal to evaluate's, seeded bootstrap intervals, the page, binary masks."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli

from celltool.errors import CelltoolError, UsageError
from celltool.executor import ExecutorSpec
from celltool.imageio import list_images, read_image, write_image, write_labels
from celltool.manifest import make_manifest, read_manifest, write_manifest
from celltool.steps.benchmarking import benchmark
from celltool.steps.benchmarking.entries import make_entries, parse_options
from celltool.steps.evaluation import evaluate

SERIAL = ExecutorSpec("serial")
TIGHT = {"watershed:tight": {"threshold_scale": "1.8", "min_size": 30}}
EXAMPLE = REPO / "examples" / "celltool-example-plugin"


@pytest.fixture
def otsu_plugin(tmp_path, monkeypatch) -> str:
    """The example third-party Otsu segmenter, loaded as a plugin-folder file."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "example_otsu.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXAMPLE)!r})\n"
        "from celltool_example_otsu import register_segmenters  # noqa: F401\n"
    )
    monkeypatch.setenv("CELLTOOL_PLUGINS_DIR", str(folder))
    from celltool import plugins

    plugins.reset()
    return "otsu"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_three_segmenters_scores_equal_evaluate(sim, tmp_path, otsu_plugin):
    out = benchmark(
        sim, "watershed,watershed:tight,otsu", tmp_path / "bench", options=TIGHT, spec=SERIAL
    )
    manifest = read_manifest(out)
    assert manifest["kind"] == "benchmark" and manifest["seed"] == 0
    assert manifest["facts"]["segmenters"] == ["watershed", "watershed:tight", "otsu"]
    tight = manifest["params"]["segmenters"]["watershed:tight"]
    assert tight["threshold_scale"] == 1.8 and tight["min_size"] == 30
    assert read_manifest(out / "watershed-tight")["params"]["threshold_scale"] == 1.8
    ranking = json.loads((out / "ranking.json").read_text())["ranking"]
    assert [r["rank"] for r in ranking] == [1, 2, 3]
    means = [r["scores"]["ap_at.0.5"]["mean"] for r in ranking]
    assert means == sorted(means, reverse=True)
    rows = read_csv(out / "scores.csv")
    assert len(rows) == 3 * len(list_images(sim / "images"))
    for entry in ("watershed-tight", "otsu"):
        name = entry.replace("-", ":")
        ev = evaluate(sim, out / entry, tmp_path / f"ev-{entry}", metrics="seg,det,ap,ap_at,"
                      "f1,pq,aji", spec=SERIAL, table=False)  # fmt: skip
        theirs = read_csv(ev / "pairs.csv")
        mine = [r for r in rows if r["segmenter"] == name]
        assert [r["reference"] for r in mine] == [r["real"] for r in theirs]
        columns = [c for c in theirs[0] if c not in ("real", "generated")]
        assert {"ap_at.0.5", "ap_at.0.75", "ap_at.0.9", "seg", "aji"} <= set(columns)
        for a, b in zip(mine, theirs, strict=True):
            for c in columns:
                assert float(a[c]) == pytest.approx(float(b[c]), rel=1e-9, abs=1e-12), c
        for plot in ("f1", "f1_precision", "f1_recall", "ap_at_0_5", "ap_at_0_75"):
            assert (ev / "plots" / f"{plot}.png").is_file(), plot  # no name collisions
        summary = json.loads((ev / "summary.json").read_text())
        record = next(r for r in ranking if r["segmenter"] == name)
        assert record["ctc"]["SEG"] == summary["ctc"]["SEG"]
        assert record["ctc"]["DET"] == summary["ctc"]["DET"]
        assert record["scores"]["aji"]["mean"] == pytest.approx(summary["metrics"]["aji"]["mean"])
        s = record["scores"]["ap"]
        assert s["ci_low"] <= s["mean"] <= s["ci_high"] and s["ci_low"] < s["ci_high"]
        assert record["runtime"]["seconds_per_image"] > 0
    table = read_csv(out / "ranking.csv")
    assert [r["segmenter"] for r in table] == [r["segmenter"] for r in ranking]
    page = (out / "index.html").read_text()
    for name in ("watershed:tight", "otsu", "ap_at.0.5", "plots/ranking_ap_at_0_5.png"):
        assert name in page
    for f in manifest["facts"]["files"]:
        assert (out / f).is_file(), f
    assert read_image(out / "plots" / "ranking_ap_at_0_5.png").shape[2] == 3


def test_bootstrap_is_seeded(sim, tmp_path):
    def interval(seed: int, name: str) -> tuple[float, float, float]:
        out = benchmark(sim, "watershed", tmp_path / name, seed=seed, spec=SERIAL, n_boot=500)
        s = json.loads((out / "ranking.json").read_text())["ranking"][0]["scores"]["seg"]
        return s["mean"], s["ci_low"], s["ci_high"]

    a, b, c = interval(0, "a"), interval(0, "b"), interval(3, "c")
    assert a == b
    assert c[0] == a[0] and c[1:] != a[1:]


def test_binary_masks_become_instances_and_subsets(tmp_path, sim):
    """Real-data style: an images folder and 8-bit binary masks (for some of the images)."""
    images = sim / "images"
    masks = tmp_path / "masks"
    masks.mkdir()
    files = list_images(images)
    for f in files[:4]:
        write_image(
            masks / f.name, ((read_image(sim / "cells" / f.name) > 0) * 255).astype(np.uint8)
        )
    out = benchmark(images, "watershed", tmp_path / "bench", labels=masks, spec=SERIAL)
    facts = read_manifest(out)["facts"]
    assert facts["reference_from"].startswith("binary masks") and facts["n_images"] == 4
    assert sorted(p.name for p in list_images(out / "images")) == [f.name for f in files[:4]]
    from scipy import ndimage

    for f in files[:4]:
        ref = read_image(out / "reference" / f.name)
        expected, n = ndimage.label(read_image(masks / f.name) > 127, structure=np.ones((3, 3)))
        assert ref.dtype == np.uint16 and ref.max() == n and np.array_equal(ref > 0, expected > 0)
    ev = evaluate(out / "reference", out / "watershed", tmp_path / "ev", metrics="seg,ap",
                  spec=SERIAL, table=False)  # fmt: skip
    theirs = {r["real"]: float(r["ap"]) for r in read_csv(ev / "pairs.csv")}
    for row in read_csv(out / "scores.csv"):
        assert float(row["ap"]) == pytest.approx(theirs[row["reference"]], rel=1e-9)


def test_volumes(tmp_path):
    """3D stacks: watershed on two (Z, Y, X) volumes of bright balls, scored in 3D."""
    images, labels = tmp_path / "vol", tmp_path / "vol-labels"
    images.mkdir()
    labels.mkdir()
    z, y, x = np.mgrid[:16, :48, :48]
    rng = np.random.default_rng(0)
    for i in range(2):
        lab = np.zeros((16, 48, 48), np.uint16)
        for k, (cz, cy, cx) in enumerate([(8, 12, 12), (8, 34, 30), (7, 14, 36)], start=1):
            lab[(z - cz) ** 2 + (y - cy - i) ** 2 + (x - cx) ** 2 < 36] = k
        image = (40 + 150 * (lab > 0) + rng.normal(0, 5, lab.shape)).clip(0, 255).astype(np.uint8)
        write_image(images / f"v{i}.tif", image)
        write_labels(labels / f"v{i}.tif", lab)
    write_manifest(labels, make_manifest("labels", step="test", facts={"target": "cells"}))
    out = benchmark(images, "watershed", tmp_path / "bench", labels=labels, spec=SERIAL,
                    options={"watershed": {"background_radius": 0, "min_distance": 4}})  # fmt: skip
    record = json.loads((out / "ranking.json").read_text())["ranking"][0]
    assert record["scores"]["ap_at.0.5"]["mean"] == 1.0
    assert read_image(out / "watershed" / "cells" / "v0.tif").shape == (16, 48, 48)


def test_entries_and_options():
    assert parse_options(["watershed:tight.threshold_scale=1.6", "otsu.sigma=2"]) == {
        "watershed:tight": {"threshold_scale": "1.6"},
        "otsu": {"sigma": "2"},
    }
    entries = make_entries(
        "watershed,strict",
        {"watershed": {"min_size": "40"}},
        {"strict": {"method": "watershed", "seeds": "both"}},
    )
    assert [(e.name, e.method, e.folder) for e in entries] == [
        ("watershed", "watershed", "watershed"),
        ("strict", "watershed", "strict"),
    ]
    assert entries[0].segment == {"min_size": 40} and entries[1].resolved()["seeds"] == "both"
    for bad in (
        lambda: parse_options(["watershed=1"]),
        lambda: make_entries("watershed,watershed"),
        lambda: make_entries("nope"),
        lambda: make_entries("watershed", {"otsu": {"sigma": "1"}}),
        lambda: make_entries("watershed", {"watershed": {"no_such": "1"}}),
        lambda: make_entries("watershed", {"watershed": {"min_size": "-3"}}),
        lambda: make_entries("watershed", {"watershed": {"seeds": "nowhere"}}),
    ):
        with pytest.raises(UsageError):
            bad()


def test_cli_and_errors(sim, tmp_path):
    config = tmp_path / "b.toml"
    config.write_text('["watershed:tight"]\nthreshold_scale = 1.6\n')
    out = tmp_path / "bench"
    res = cli("benchmark", str(sim), "-s", "watershed,watershed:tight", "--config", str(config),
              "--options", "watershed.min_size=20", "--bootstrap", "200", "-o", str(out),
              "--workers", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{out}\n"
    params = read_manifest(out)["params"]
    assert params["segmenters"]["watershed:tight"]["threshold_scale"] == 1.6
    assert params["segmenters"]["watershed"]["min_size"] == 20 and params["bootstrap"] == 200
    res = cli("benchmark", str(sim), "-s", "watershed", "--options", "otsu.sigma=1",
              "-o", str(tmp_path / "x"))  # fmt: skip
    assert res.returncode == 2 and "otsu is not in --segmenters" in res.stderr
    res = cli("benchmark", str(sim / "images"), "-s", "watershed", "-o", str(tmp_path / "y"))
    assert res.returncode == 2 and "--labels" in res.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    with pytest.raises(UsageError):
        benchmark(sim, "watershed", tmp_path / "z", rank_by="nope", spec=SERIAL)
    with pytest.raises(CelltoolError):
        benchmark(sim / "images", "watershed", tmp_path / "z", labels=tmp_path, spec=SERIAL)
    assert not math.isnan(0.0)


def test_report_shows_a_benchmark(sim, tmp_path):
    from celltool.report import build_report

    out = benchmark(sim, "watershed", tmp_path / "bench", spec=SERIAL, n_boot=100)
    report = build_report([out], tmp_path / "report", ancestors=False)
    page = (report / "index.html").read_text()
    assert "ranked by" in page and "ranking_ap_at_0_5" in page


def test_shared_frames_three_segmenters_cli(timelapse, tmp_path):
    """The bar: `celltool benchmark` on the shared frames (8-bit anti-aliased binary masks)
    with three segmenters (one of them third-party) writes the table, the plots and the page."""
    import shutil

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(160, 166):
        shutil.copy(timelapse / "images" / f"{i:03d}.png", images)
        shutil.copy(timelapse / "masks" / f"{i:03d}.png", masks)
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "example_otsu.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXAMPLE)!r})\n"
        "from celltool_example_otsu import register_segmenters  # noqa: F401\n"
    )
    out = tmp_path / "bench"
    env = {"CELLTOOL_PLUGINS_DIR": str(plugin_dir)}
    res = cli("benchmark", str(images), "--labels", str(masks), "-s",
              "watershed,watershed:tuned,otsu", "--options", "watershed:tuned.min_distance=8",
              "-o", str(out), "--workers", "1", env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "read as binary (> 127)" in res.stderr
    ranking = read_csv(out / "ranking.csv")
    assert {r["segmenter"] for r in ranking} == {"watershed", "watershed:tuned", "otsu"}
    assert all(r["n_images"] == "6" for r in ranking)
    assert ranking[-1]["segmenter"] == "otsu"  # one threshold for a vignetted field
    assert float(ranking[0]["ap_at.0.5"]) > 0.4  # watershed on these frames: ~0.5
    for name in ("index.html", "scores.csv", "ranking.json", "plots/runtime.png"):
        assert (out / name).is_file()
    from celltool.labels import instances_of_mask

    ref = read_image(out / "reference" / "160.png")
    assert np.array_equal(ref, instances_of_mask(read_image(masks / "160.png")))


def test_ap_at_is_what_ap_averages(sim):
    from celltool_metrics.segmentation import THRESHOLDS, ap_at, average_precision

    gt = read_image(sim / "cells" / list_images(sim / "cells")[0].name)
    pred = np.roll(gt, 2, axis=1)  # shifted objects: AP falls with the IoU threshold
    values = ap_at(gt, pred, THRESHOLDS)
    assert list(values) == [f"{t:g}" for t in THRESHOLDS]
    assert np.mean(list(values.values())) == pytest.approx(average_precision(gt, pred))
    assert values["0.5"] >= values["0.75"] >= values["0.95"] and values["0.5"] > values["0.95"]
    assert ap_at(gt, gt) == {"0.5": 1.0, "0.75": 1.0, "0.9": 1.0}
