"""The demo: every stage on simulated data, through the real command, checked stage by stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli

from celltool.imageio import list_images
from celltool.manifest import part, read_manifest


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("demo")
    res = cli("demo", "--quick", "-o", "out", cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "out/report/index.html\n"  # the only thing on stdout: its report page
    return cwd / "out"


def test_every_stage_wrote_its_kind_of_folder(demo):
    from celltool.steps.demo import STAGES

    kinds = {
        "simulate": "simulation",
        "segment": "segmentation",
        "sketch": "sketch",
        "split": "pairs",
        "train": "run",
        "generate": "generated",
        "dual": "sequence",
        "evaluate": "metrics",
        "report": "report",
    }
    assert read_manifest(demo)["kind"] == "demo"
    assert list(kinds) == list(STAGES)  # every stage is checked, in the demo's order
    for stage, kind in kinds.items():
        assert read_manifest(part(demo, stage))["kind"] == kind


def test_generated_images_are_evaluated_against_the_held_out_real_images(demo):
    generated = list_images(part(demo, "generate"))
    summary = json.loads((part(demo, "evaluate") / "summary.json").read_text())
    assert summary["n_pairs"] == len(generated) >= 1
    ssim = summary["metrics"]["ssim"]["mean"]
    assert -1 <= ssim <= 1 and summary["metrics"]["psnr"]["mean"] > 5


def test_the_segmentation_is_scored_against_the_simulated_truth(demo):
    summary = json.loads((demo / "evaluate-segment" / "summary.json").read_text())
    assert 0.3 < summary["ctc"]["SEG"] <= 1
