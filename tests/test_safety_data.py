"""Bad data is one line naming the file: broken manifests, impossible bit depths, two inputs
with one stem, images too large to decode, 3D stacks where 2D images are expected, and every
file a temporal data set lists."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fuzz_cases import run_cli
from test_train import make_pairs

from celltool.errors import CelltoolError
from celltool.imageio import write_image
from celltool.manifest import read_manifest


def one_error(outcome, code: int = 1) -> str:
    assert outcome.code == code, outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("celltool: error: "), outcome.stderr
    return lines[0]


def edit_manifest(folder: Path, **changes) -> Path:
    path = folder / "celltool.json"
    record = json.loads(path.read_text())
    for key, value in changes.items():
        if key.startswith("facts."):
            record["facts"][key[6:]] = value
        else:
            record[key] = value
    path.write_text(json.dumps(record))
    return path


TINY = ["--epochs", "1", "--netG", "unet_32", "--ngf", "2", "--ndf", "2", "--crop-size", "32",
        "--preprocess", "crop", "--samples", "0", "--threads", "1"]  # fmt: skip


@pytest.mark.parametrize("depth", [0, -5, 64, 12.5, "8", True])
def test_impossible_bit_depth_in_a_manifest_is_refused(tmp_path, depth):
    """facts.bit_depth 0 trained to NaN losses with exit 0; 64 on uint8 data scaled it to 0."""
    pairs = make_pairs(tmp_path, n=4, size=32)
    manifest = edit_manifest(pairs, **{"facts.bit_depth": depth})
    line = one_error(run_cli(["train", "pix2pix", str(pairs), "-o", str(tmp_path / "r"), *TINY]))
    assert str(manifest) in line and "facts.bit_depth" in line
    assert not (tmp_path / "r").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["pairs"]  # no partial run either


def test_bit_depth_must_fit_the_images(tmp_path):
    pairs = make_pairs(tmp_path, n=4, size=32)  # uint8 images
    edit_manifest(pairs, **{"facts.bit_depth": 12})
    line = one_error(run_cli(["train", "pix2pix", str(pairs), "-o", str(tmp_path / "r"), *TINY]))
    assert "facts.bit_depth 12 does not fit its uint8 images" in line


def test_evaluate_checks_recorded_bit_depths(tmp_path):
    real, gen = tmp_path / "real", tmp_path / "gen"
    for folder in (real, gen):
        folder.mkdir()
        write_image(folder / "a.png", np.full((16, 16), 9, np.uint8))
    (gen / "celltool.json").write_text(json.dumps({"kind": "generated", "facts": {"bit_depth": 0}}))
    line = one_error(run_cli(["evaluate", str(real), str(gen), "-o", str(tmp_path / "m")]))
    assert f"{gen / 'celltool.json'}: facts.bit_depth 0 is not a bit depth" in line


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ({"kind": "images", "facts": []}, "manifest field 'facts' is 'list', expected an object"),
        ({"kind": 3}, "manifest field 'kind' is 'int', expected a string"),
        ({"kind": "simulation", "facts": {"parts": "images"}}, "'facts.parts' must map"),
        ({"kind": "simulation", "facts": {"parts": {"images": 1}}}, "'facts.parts' must map"),
        ({"kind": "images", "params": "x"}, "manifest field 'params' is 'str'"),
    ],
)
def test_manifest_of_the_wrong_shape_names_the_file(tmp_path, record, says):
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "a.png", np.zeros((32, 32), np.uint8))
    (folder / "celltool.json").write_text(json.dumps(record))
    with pytest.raises(CelltoolError, match="manifest"):
        read_manifest(folder)
    line = one_error(run_cli(["segment", str(folder), "-o", str(tmp_path / "s")]))
    assert str(folder / "celltool.json") in line and says in line
    assert "Error:" not in line  # no exception class names
