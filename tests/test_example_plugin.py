"""The example third-party plugin, installed into an isolated environment and run by its CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli, isolated_env, run_env
from scipy import ndimage

from celltool.imageio import list_images, read_image
from celltool.labels import match_instances
from celltool.manifest import read_manifest

EXAMPLE = REPO / "examples" / "celltool-example-plugin"


@pytest.fixture(scope="module")
def example_env(tmp_path_factory) -> Path:
    return isolated_env(tmp_path_factory.mktemp("example-env"), EXAMPLE)


def test_example_plugin_is_listed_with_package_and_version(example_env):
    res = run_env(example_env, "plugins", "--json")
    assert res.returncode == 0, res.stderr
    records = {r["name"]: r for r in json.loads(res.stdout)}
    assert records["otsu"]["package"] == "celltool-example-otsu"
    assert records["otsu"]["version"] == "0.1.0"
    assert records["otsu"]["provides"]["segmenters"] == ["otsu"]
    # and the environment under test does not have it: the install was isolated
    assert "otsu" not in {r["name"] for r in json.loads(cli("plugins", "--json").stdout)}


def test_example_plugin_segments_through_the_cli(example_env, sim, tmp_path):
    res = run_env(example_env, "segment", "--help")
    assert "Options of otsu" in res.stdout and "--otsu-scale" in res.stdout
    out = tmp_path / "seg"
    res = run_env(example_env, "segment", str(sim), "--method", "otsu", "--sigma", "1.5", "-o", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{out}\n"
    manifest = read_manifest(out)
    assert manifest["plugin"]["package"] == "celltool-example-otsu"
    assert manifest["params"]["sigma"] == 1.5
    assert set(manifest["facts"]["parts"]) == {"cells", "images"}  # no nuclei from this one
    for image in list_images(sim / "images"):
        labels = read_image(out / "cells" / image.name)
        truth = read_image(sim / "cells" / image.name)
        assert labels.dtype == np.uint16
        fg = 2 * ((labels > 0) & (truth > 0)).sum() / ((labels > 0).sum() + (truth > 0).sum())
        assert fg > 0.8
        # a plain threshold cannot split touching cells: fewer objects than connected truth
        assert labels.max() <= ndimage.label(truth > 0)[1] + 2
        assert match_instances(truth, labels).tp >= 1
