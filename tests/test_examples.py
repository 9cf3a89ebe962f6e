"""Every examples/*.sh runs in a temporary folder and prints existing folders on stdout.

Scripts take an output folder as their first argument. New scripts are picked up
automatically.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, sh

SCRIPTS = sorted((REPO / "examples").glob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_script_runs(script: Path, tmp_path):
    res = sh(f'sh "{script}" out', tmp_path)
    assert res.returncode == 0, f"{script.name} failed:\n{res.stderr[-3000:]}"
    lines = res.stdout.split()
    assert lines, f"{script.name} printed nothing on stdout"
    for line in lines:  # what a script prints are the folders it made
        folder = tmp_path / line
        assert folder.is_dir(), f"{script.name} printed {line!r}, which is not a folder"
        assert (folder / "celltool.json").is_file()


def test_there_is_at_least_one_example():
    assert any(s.name == "simulate.sh" for s in SCRIPTS)
