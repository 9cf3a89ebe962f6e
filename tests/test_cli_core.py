"""The command itself: help, version, plugins listing, no torch on start-up, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import cli


def test_help_lists_steps_and_exits_zero():
    res = cli("--help")
    assert res.returncode == 0, res.stderr
    for command in ("simulate", "demo", "report", "plugins"):
        assert command in res.stdout


def test_help_and_plugins_do_not_import_torch():
    code = (
        "import sys\n"
        "from celltool.cli import run\n"
        "for argv in (['--help'], ['plugins', '--json'], ['simulate', '--help'],\n"
        "             ['report', '--help']):\n"
        "    try:\n"
        "        run(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('torch', 'torchvision', 'lpips', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stdout


def test_version_lists_plugins():
    res = cli("--version")
    assert res.returncode == 0
    assert res.stdout.startswith("celltool ")
    assert "simulate (celltool" in res.stdout


def test_plugins_json_names_package_version_and_components():
    res = cli("plugins", "--json")
    records = {r["name"]: r for r in json.loads(res.stdout)}
    assert records["simulate"]["package"] == "celltool"
    assert records["simulate"]["provides"]["simulators"] == [
        "cells2d",
        "timelapse2d",
        "toy-timelapse",
    ]
    assert "register_simulators" in records["simulate"]["hooks"]


def test_unknown_method_is_usage_error_listing_available(tmp_path):
    res = cli("simulate", "-o", str(tmp_path / "x"), "--method", "nope")
    assert res.returncode == 2
    assert (
        "unknown simulator 'nope' (available: cells2d, spheroid, timelapse2d, toy-timelapse)"
        in res.stderr
    )
    assert not (tmp_path / "x").exists()
