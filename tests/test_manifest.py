"""Manifests: what every output folder records, kind checks, container parts."""

from __future__ import annotations

import json

import pytest

from celltool import __version__
from celltool.errors import CelltoolError
from celltool.manifest import (
    MANIFEST_NAME,
    folder_digest,
    has_part,
    kind_of,
    make_manifest,
    part,
    read_manifest,
    require_kind,
    write_manifest,
)

KEYS = {"kind", "celltool_version", "step", "command", "params", "seed", "inputs", "facts"}


def test_every_simulate_folder_has_a_full_manifest(sim):
    for folder in (sim, sim / "images", sim / "cells", sim / "nuclei"):
        record = json.loads((folder / MANIFEST_NAME).read_text())
        assert KEYS <= set(record), folder
        assert record["celltool_version"] == __version__
        assert record["seed"] == 1 and record["params"]["n"] == 6
        assert record["inputs"] == []
        assert record["facts"]
        assert record["plugin"]["version"] == __version__


def test_inputs_are_recorded_with_kind_and_digest(sim, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.png").write_bytes(b"1234")
    record = make_manifest("metrics", step="x", inputs=[sim / "images", plain], seed=3)
    first, second = record["inputs"]
    assert first["path"] == str((sim / "images").resolve()) and first["kind"] == "images"
    assert first["digest"] == folder_digest(sim / "images")
    assert second["kind"] == "images"
    assert second["digest"].startswith("sha256:")
    # the digest follows the content: a changed manifest or file list changes it
    before = folder_digest(plain)
    (plain / "b.png").write_bytes(b"5")
    assert folder_digest(plain) != before
    before = folder_digest(sim / "images")
    write_manifest(sim / "images", {**read_manifest(sim / "images"), "seed": 2})
    assert folder_digest(sim / "images") != before


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown folder kind 'pictures'"):
        make_manifest("pictures", step="x")


def test_require_kind_messages(sim, tmp_path):
    assert require_kind(sim, ["simulation"])["kind"] == "simulation"
    assert require_kind(tmp_path, ["images"]) is None  # a plain folder is "images"
    with pytest.raises(CelltoolError) as info:
        require_kind(sim / "cells", ["images", "simulation"])
    assert str(info.value) == (
        f"{sim / 'cells'}: is a 'labels' folder (made by 'celltool simulate'); "
        "this step expects images or simulation"
    )
    with pytest.raises(CelltoolError, match="is a 'images' folder; this step expects labels"):
        require_kind(tmp_path, ["labels"])
    with pytest.raises(CelltoolError, match="folder does not exist"):
        require_kind(tmp_path / "nope", ["images"])


def test_broken_manifests_name_the_file(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(CelltoolError, match=f"{tmp_path / MANIFEST_NAME}: unreadable manifest"):
        kind_of(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"step": "x"}')
    with pytest.raises(CelltoolError, match="manifest has no 'kind'"):
        read_manifest(tmp_path)


def test_part_finds_container_parts(sim, tmp_path):
    assert part(sim, "images") == sim / "images"
    assert part(sim, "nuclei") == sim / "nuclei"
    assert part(sim / "images", "images") == sim / "images"  # an images folder is its own part
    assert part(tmp_path, "images") == tmp_path  # so is a plain folder
    assert has_part(sim, "cells") and not has_part(sim, "sketch")
    with pytest.raises(CelltoolError) as info:
        part(sim, "sketch")
    assert str(info.value) == f"{sim}: has no 'sketch' part (it has: images, cells, nuclei)"
    with pytest.raises(CelltoolError, match="has no 'images' part"):
        part(sim / "cells", "images")


def test_manifest_json_handles_numpy_and_paths(tmp_path):
    import numpy as np

    record = make_manifest(
        "images",
        step="x",
        params={"a": np.float32(0.5), "b": (1, 2), "c": tmp_path, "d": np.arange(3)},
        facts={"e": {np.int64(3).item(): "x"}},
    )
    write_manifest(tmp_path, record)
    back = read_manifest(tmp_path)
    assert back["params"] == {"a": 0.5, "b": [1, 2], "c": str(tmp_path), "d": [0, 1, 2]}
