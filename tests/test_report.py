"""`celltool report`: a self-contained static page built from real folders made in the test."""

from __future__ import annotations

import html
import json
import os
import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from conftest import REPO, cli

from celltool.errors import CelltoolError, UsageError
from celltool.imageio import read_image, write_image
from celltool.manifest import make_manifest, read_manifest, write_manifest
from celltool.report import build_report
from celltool.report.images import stretch

SCRIPT = "<script>alert('x')</script>"

# A third party's folder kind and its report section (the hook register_report_sections).
PLUGIN = """
from celltool import hookimpl


def render_blobs(folder, manifest, ctx):
    count = manifest["facts"]["blobs"]
    return "<h3>Blob census</h3>" + ctx.table(["blobs"], [[count]]) + ctx.image(
        __import__("numpy").eye(8, dtype="uint8") * 200, "identity"
    )


@hookimpl
def register_report_sections(register):
    register("blobs", render_blobs)
"""


class Page(HTMLParser):
    """Every tag with its attributes, and the text of headings."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2", "h3"):
            self._in, self.headings = tag, [*self.headings, ""]

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.headings[-1] += data


def parse(report: Path) -> tuple[str, Page]:
    text = (report / "index.html").read_text()
    page = Page()
    page.feed(text)
    return text, page


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """simulate → segment → sketch → split, two evaluations of the simulation's labels, a run
    and a sequence folder, a 16-bit 3D stack with a hostile name and parameter, a blobs folder."""
    from celltool_simulate.timelapse import simulate_timelapse

    from celltool.executor import ExecutorSpec
    from celltool.steps.evaluation import evaluate as evaluate_folders
    from celltool.steps.segmentation import segment as segment_folder
    from celltool.steps.simulation import simulate as simulate_folder
    from celltool.steps.sketching import sketch as sketch_folder
    from celltool.steps.splitting import split as split_folder
    from celltool.training.logs import LossLog

    root = tmp_path_factory.mktemp("report") / "work"
    serial = ExecutorSpec("serial")
    small = {"n_cells": 10, "cell_radius": "7,11"}
    out = {"sim": simulate_folder(root / "sim", n=4, size=(96, 96), seed=2, spec=serial,
                                  params=small)}  # fmt: skip
    out["seg"] = segment_folder(out["sim"], root / "seg", spec=serial)
    out["sketch"] = sketch_folder(out["seg"], root / "sketch", spec=serial)
    out["pairs"] = split_folder(
        out["sketch"], root / "pairs", params={"crop": "48", "crops": 1},
        ratios=(0.5, 0.25, 0.25),
    )  # fmt: skip
    out["eval"] = evaluate_folders(out["sim"], out["seg"], root / "eval", spec=serial, table=False)
    out["eval-self"] = evaluate_folders(
        out["sim"], out["sim"], root / "eval-self", metrics="seg,det,ap", spec=serial, table=False
    )
    generated = root / "generated"  # what a model made of the test split's sketches
    generated.mkdir()
    for path in sorted((out["pairs"] / "test").glob("*.png")):
        image = read_image(path)
        write_image(generated / path.name, 255 - image[:, : image.shape[1] // 2])
    write_manifest(generated, make_manifest("generated", step="generate", inputs=[out["pairs"]]))
    out["generated"] = generated
    run = root / "run"
    (run / "logs").mkdir(parents=True)
    (run / "samples").mkdir()
    log = LossLog(run / "logs" / "losses.jsonl")
    for step in range(1, 13):
        losses = {"G": 2.0 / step, "D": 0.7}
        log.append({"epoch": 1 + (step - 1) // 4, "step": step, "losses": losses, "lr": 2e-4})
    write_image(run / "samples" / "epoch_0003.png", np.tile(np.arange(96, dtype=np.uint8), (64, 1)))
    facts = {"model": "pix2pix", "status": "done", "epochs_done": 3, "losses": "logs/losses.jsonl"}
    write_manifest(run, make_manifest("run", step="train", inputs=[out["pairs"]], facts=facts))
    out["run"] = run
    seq = root / "seq"
    movie = simulate_timelapse(
        (48, 48), np.random.default_rng(0), frames=6, n_cells=4, cell_radius=(5.0, 8.0)
    )
    (seq / "images").mkdir(parents=True)
    (seq / "sketches").mkdir()
    for k, frame in enumerate(movie["images"], start=1):
        write_image(seq / "images" / f"cellsA_step{k:04d}.png", frame)
        write_image(seq / "sketches" / f"cellsA_step{k:04d}.png", movie["cells"][k - 1] > 0)
    facts = {"parts": {"images": "images", "sketches": "sketches"}, "sequences": ["cellsA"]}
    write_manifest(seq, make_manifest("sequence", step="generate", inputs=[run], facts=facts))
    out["seq"] = seq
    stack_dir = root / "stacks"
    stack = (np.arange(5)[:, None, None] * 100 + np.arange(40)[None, None, :]).repeat(30, axis=1)
    stack_dir.mkdir()
    write_image(stack_dir / 'we<ird>&"name.tif', stack.astype(np.uint16))
    params = {"note": SCRIPT, "where": str(root / "sim")}
    write_manifest(stack_dir, make_manifest("images", step="import", params=params))
    out["stacks"] = stack_dir
    blobs = root / "blobs"
    blobs.mkdir()
    (blobs / "celltool.json").write_text(json.dumps({"kind": "blobs", "facts": {"blobs": 7}}))
    out["blobs"] = blobs
    odd = root / "odd"
    odd.mkdir()
    (odd / "celltool.json").write_text(json.dumps({"kind": "mystery", "step": "elsewhere"}))
    out["odd"] = odd
    return out


@pytest.fixture(scope="module")
def report(folders, tmp_path_factory) -> Path:
    pdir = tmp_path_factory.mktemp("plugins")
    (pdir / "blobplugin.py").write_text(textwrap.dedent(PLUGIN))
    keys = ("eval", "eval-self", "run", "generated", "seq", "stacks", "blobs", "odd")
    res = cli("--plugins-dir", str(pdir), "report", *(str(folders[k]) for k in keys),
              "-o", str(folders["sim"].parent / "rep"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{folders['sim'].parent / 'rep'}\n"  # the folder, nothing else
    return Path(res.stdout.strip())


def test_the_report_is_a_report_folder(report, folders):
    manifest = read_manifest(report)
    assert manifest["kind"] == "report" and manifest["step"] == "report"
    assert manifest["facts"]["index"] == "index.html"
    assert {"simulation", "segmentation", "metrics", "run", "sequence"} <= set(
        manifest["facts"]["kinds"]
    )
    assert manifest["params"]["ancestors"] is True
    assert len(manifest["inputs"]) == 8


def test_every_link_and_image_resolves_inside_the_report(report):
    text, page = parse(report)
    ids = {a["id"] for _, a in page.tags if "id" in a}
    refs = [(t, a.get("src") or a.get("href")) for t, a in page.tags if t in ("img", "a")]
    assert len([r for t, r in refs if t == "img"]) > 30
    root = report.resolve()
    for tag, ref in refs:
        assert ref, tag
        if ref.startswith("#"):
            assert ref[1:] in ids, ref
            continue
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.I), ref  # no scheme, no data:
        assert not ref.startswith(("/", "\\")) and ".." not in ref.split("/"), ref
        target = (report / unquote(ref)).resolve()
        assert target.is_file() and target.is_relative_to(root), ref
    # nothing else refers outside either: no stylesheet, script, font or frame
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe", "object", "embed")]
    assert not re.search(r"(https?:)?//[a-z0-9]", text.replace("<!DOCTYPE html>", ""), re.I)
    assert "url(" not in text and "@import" not in text


def test_no_absolute_path_of_this_machine(report, folders):
    text = (report / "index.html").read_text()
    root = str(folders["sim"].parent)
    for path in {root, str(Path(root).resolve()), str(REPO), os.getcwd()}:
        assert path not in text, path
    assert "paths are relative to <code>work</code>" in text  # the folders' common parent


def test_manifest_text_is_escaped(report):
    text = (report / "index.html").read_text()
    assert SCRIPT not in text and "<script" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "we&lt;ird&gt;&amp;&quot;name.tif" in text  # a file name in a caption
    assets = [p.name for p in (report / "assets").rglob("*") if p.is_file()]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", name) for name in assets)


def test_expected_sections(report, folders):
    _, page = parse(report)
    headings = "\n".join(page.headings)
    for name, kind in [
        ("sim", "simulation"),  # an ancestor, found through the manifests
        ("seg", "segmentation"),
        ("eval", "metrics"),
        ("run", "run"),
        ("generated", "generated"),
        ("seq", "sequence"),
        ("stacks", "images"),
        ("blobs", "blobs"),
        ("odd", "mystery"),
    ]:
        assert re.search(rf"\d+\. {re.escape(name)} {kind}", headings), name
    for title in ("Contents", "Chains", "Comparisons", "Blob census", "sequence cellsA: 6 frames"):
        assert title in headings, title
    text = (report / "index.html").read_text()
    assert "sim → seg → eval" in re.sub(r"<[^>]+>", "", text)
    assert "step <b>elsewhere</b>" in text  # an unknown kind gets the manifest part
    assert "columns: real | sketch (the test split) | generated" in text
    pair = read_image(folders["pairs"] / "test" / "0000.png")
    shown = figures(report)
    np.testing.assert_array_equal(read_image(report / shown["real 0000"]), pair[:, :48])
    np.testing.assert_array_equal(read_image(report / shown["sketch"]), pair[:, 48:])


def figures(report: Path) -> dict[str, str]:
    """caption → image src."""
    text = (report / "index.html").read_text()
    found = re.findall(r'<img src="([^"]+)" alt="([^"]*)"', text)
    return {html.unescape(alt): html.unescape(src) for src, alt in found}


def test_thumbnails_are_small_and_stacks_show_mid_slice_and_projection(report):
    shown = figures(report)
    for alt, src in shown.items():
        if src.endswith(".png") and not (report / src).with_suffix(".csv").exists():
            shape = read_image(report / src).shape
            if "filmstrip" in src or "sketches" in src:  # at most 12 tiles of at most 96 px
                assert shape[0] <= 96 and shape[1] <= 12 * 98, alt
            else:
                assert max(shape[:2]) <= (512 if "sample grid" in alt else 256), alt
    name = 'we<ird>&"name.tif'
    stack = (np.arange(5)[:, None, None] * 100 + np.arange(40)[None, None, :]).repeat(30, axis=1)
    mip = read_image(report / shown[f"{name} · max projection"])
    np.testing.assert_array_equal(mip, stretch(stack.max(axis=0)))  # 16 bit: stretched
    assert mip.min() == 0 and mip.max() == 255
    middle = read_image(report / shown[f"{name} · z 2 of 5"])
    np.testing.assert_array_equal(middle, stretch(stack[2]))


def section_id(report: Path, name: str) -> str:
    text = (report / "index.html").read_text()
    return re.search(rf'<section id="(f\d+)"><h2>\d+\. {re.escape(name)} <span', text)[1]


def test_metrics_plots_hold_the_pairs_values(report, folders):
    import csv

    shown = figures(report)
    pairs = list(csv.DictReader((folders["eval"] / "pairs.csv").open()))
    data = report / "assets" / section_id(report, "eval") / "seg.csv"
    text = (report / "index.html").read_text()
    assert f'<img src="{data.relative_to(report).with_suffix(".png")}"' in text
    rows = list(csv.DictReader(data.open()))
    assert [float(r["seg"]) for r in rows] == [float(p["seg"]) for p in pairs]
    assert [r["pair"] for r in rows] == [p["generated"] for p in pairs]
    assert any(a.startswith("ranking-seg") for a in shown)  # two evaluations of one reference
    losses = list(csv.reader((report / shown["losses"]).with_suffix(".csv").open()))
    assert losses[0] == ["epoch", "n_steps", "G", "D"] and len(losses) == 4


def test_sequences_as_gif_and_filmstrip(report):
    from PIL import Image

    shown = figures(report)
    gif = report / next(s for a, s in shown.items() if a.startswith("animation"))
    with Image.open(gif) as picture:
        assert picture.n_frames == 6 and picture.info.get("loop") == 0
    strip = read_image(report / next(s for a, s in shown.items() if a.startswith("filmstrip")))
    assert strip.shape[1] > 5 * strip.shape[0]  # six frames side by side


def test_plugin_section_and_a_broken_renderer(folders, tmp_path):
    pdir = tmp_path / "p"
    pdir.mkdir()
    (pdir / "broken.py").write_text(
        "from celltool import hookimpl\n\n@hookimpl\ndef register_report_sections(register):\n"
        "    register('blobs', lambda folder, manifest, ctx: 1 / 0)\n"
    )
    res = cli(
        "--plugins-dir", str(pdir), "report", str(folders["blobs"]), "-o", str(tmp_path / "r")
    )
    assert res.returncode == 0, res.stderr
    assert "the blobs section of broken failed: ZeroDivisionError" in res.stderr
    text = (tmp_path / "r" / "index.html").read_text()
    assert "the blobs section of broken failed: ZeroDivisionError" in text


def test_ancestors_can_be_left_out(folders, tmp_path):
    out = build_report([folders["eval"]], tmp_path / "r", ancestors=False)
    assert read_manifest(out)["facts"]["folders"] == ["eval"]
    out = build_report([folders["eval"]], tmp_path / "r2")
    assert read_manifest(out)["facts"]["folders"] == ["sim", "seg", "eval"]


def test_bad_requests(folders, tmp_path):
    with pytest.raises(CelltoolError, match="folder does not exist"):
        build_report([tmp_path / "nope"], tmp_path / "r")
    with pytest.raises(UsageError, match="--samples 0"):
        build_report([folders["sim"]], tmp_path / "r", samples=0)
    with pytest.raises(UsageError, match="overlaps"):
        build_report([folders["sim"]], folders["sim"] / "inside")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(CelltoolError, match="not empty"):
        build_report([folders["sim"]], tmp_path / "full")
    assert not list(tmp_path.glob(".r.partial-*"))


def test_every_folder_kind_has_a_section():
    from celltool.manifest import KINDS
    from celltool.report.sections import builtin_renderers

    assert set(builtin_renderers()) == set(KINDS)


def test_a_label_part_a_plain_folder_and_an_earlier_report(folders, report, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    write_image(plain / "a.png", np.full((20, 30), 7, np.uint8))
    out = build_report([folders["sim"] / "cells", plain, report], tmp_path / "r", ancestors=False)
    text, page = parse(out)
    headings = "\n".join(page.headings)
    assert re.search(r"\d+\. \S*sim/cells labels", headings)
    assert re.search(r"\d+\. \S*plain images", headings) and "no manifest" in text
    assert re.search(r"\d+\. \S*rep report", headings) and "an earlier report" in text
    labels = read_image(folders["sim"] / "cells" / "sim_0000.png")
    src = re.search(r'<img src="([^"]+)" alt="sim_0000.png"', text)[1]
    coloured = read_image(out / src)  # one colour per id, black background
    assert (coloured[labels == 0] == 0).all() and (coloured[labels > 0].max(axis=1) > 0).all()


def test_image_helpers(monkeypatch):
    import sys

    from celltool.report import images

    eight = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert images.stretch(eight) is eight  # 8-bit data is shown as it is
    wide = np.linspace(0, 4095, 1000).astype(np.uint16)
    shown = images.stretch(wide)
    lo, hi = np.percentile(wide, [1, 99.5])
    assert shown[wide <= lo].max() == 0 and shown[wide >= hi].min() == 255
    assert images.evenly(10, 4) == [0, 3, 6, 9] and images.evenly(3, 8) == [0, 1, 2]
    frames = [np.full((8, 8), v, np.uint16) for v in (0, 100, 200)]
    assert images.gif_bytes(frames)[:6] == b"GIF89a"
    monkeypatch.setitem(sys.modules, "PIL", None)  # no Pillow: no GIF, the filmstrip stays
    assert images.gif_bytes(frames) is None
    strip = images.filmstrip(frames, tile=32)
    assert strip.shape == (32, 3 * 32 + 2 * 2)  # 8 px frames enlarged ×4, 2 px gaps
    assert list(strip[0, [0, 40, 80]]) == [0, 128, 255]  # one stretch for the whole sequence
