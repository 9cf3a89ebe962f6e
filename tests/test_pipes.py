"""Pipes through a real shell: folder paths in on stdin, only folder paths out on stdout."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from conftest import REPO, sh

from celltool.imageio import read_image
from celltool.manifest import folder_digest, read_manifest

PLUGINS = REPO / "tests" / "plugin_files"
SMALL = "-n 2 --size 64 --n-cells 5"


def test_simulate_prints_only_its_output_path(tmp_path):
    res = sh(f"celltool simulate -o out {SMALL} | cat", tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "out\n"
    assert (tmp_path / "out" / "celltool.json").is_file()


def test_a_step_reads_its_input_folder_from_stdin(tmp_path):
    script = (
        f"celltool simulate -o sim {SMALL} | celltool --plugins-dir {PLUGINS} invert "
        f"| celltool --plugins-dir {PLUGINS} invert"
    )
    res = sh(script, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "sim-invert-invert\n"  # default names derive from the input
    once = read_image(tmp_path / "sim-invert" / "sim_0000.png")
    src = read_image(tmp_path / "sim" / "images" / "sim_0000.png")
    np.testing.assert_array_equal(once, src.max() - src)
    twice = read_image(tmp_path / "sim-invert-invert" / "sim_0000.png")
    np.testing.assert_array_equal(twice, once.max() - once)
    # each manifest records its input folder, kind and digest
    (record,) = read_manifest(tmp_path / "sim-invert-invert")["inputs"]
    assert record == {
        "path": str((tmp_path / "sim-invert").resolve()),
        "kind": "images",
        "digest": folder_digest(tmp_path / "sim-invert"),
    }
    assert read_manifest(tmp_path / "sim-invert")["inputs"][0]["kind"] == "simulation"


def test_several_folders_on_stdin_give_several_lines(tmp_path):
    script = (
        f"celltool simulate -o a {SMALL} >/dev/null && "
        f"celltool simulate -o b {SMALL} --seed 2 >/dev/null && "
        f"printf 'a\\n\\nb\\n' | celltool --plugins-dir {PLUGINS} invert"
    )
    res = sh(script, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "a-invert\nb-invert\n"


def test_failing_first_step_breaks_the_pipe_cleanly(tmp_path):
    res = sh(
        f"set -e; celltool simulate -o sim {SMALL} --bit-depth 9 | "
        f"celltool --plugins-dir {PLUGINS} invert",
        tmp_path,
    )
    assert res.returncode == 2  # the second step got no folder: usage error
    assert "--bit-depth: 9 is not one of 8, 12, 16" in res.stderr
    assert "give an input folder as argument(s) or pipe the path(s) in on stdin" in res.stderr
    assert res.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_input_folders_reads_a_real_pipe(tmp_path):
    code = (
        "from celltool.pipes import input_folders\n"
        "print([str(p) for p in input_folders(None)])\n"
        "print([str(p) for p in input_folders(['x'])])\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], input="one\n  two  \n\n", capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["['one', 'two']", "['x']"]


def test_input_folders_without_args_or_pipe_is_a_usage_error(tmp_path):
    code = (
        "from celltool.pipes import input_folders\n"
        "from celltool.errors import UsageError\n"
        "try:\n"
        "    input_folders(None, at_least=2)\n"
        "except UsageError as e:\n"
        "    print(e.exit_code, e)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert res.stdout.strip() == (
        "2 give 2 input folders as argument(s) or pipe the path(s) in on stdin"
    )
