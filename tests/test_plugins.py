"""Plugin discovery and the registry: entry points, loose files, allow/block lists, errors."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, cli

from celltool import plugins
from celltool.cli import run
from celltool.errors import CelltoolError


def write_plugin(folder: Path, name: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(code))
    return path


# One component per family, and a whole command: exercises every hook.
EVERY_HOOK = """
import typer
from celltool import hookimpl
from celltool.components import Component, Param


def _c(name, **kw):
    return Component(name, f"test {name}", target="builtins:len", params=(Param("knob", 3),), **kw)


@hookimpl
def register_segmenters(register):
    register(_c("seg-a"))


@hookimpl
def register_sketchers(register):
    register(_c("sketch-a"))


@hookimpl
def register_splitters(register):
    register(_c("split-a"))


@hookimpl
def register_trainers(register):
    register(_c("train-a"))


@hookimpl
def register_metrics(register):
    register(_c("metric-a", info={"kind": "image"}))


@hookimpl
def register_simulators(register):
    register(
        Component(
            "blobs",
            "round blobs",
            target="builtins:len",
            params=(Param("blob_count", 5, "How many blobs."),),
            info={"parts": ("images",)},
        )
    )


hello = typer.Typer(help="Greetings from a plugin.")


@hello.command("world")
def world(name: str = "world"):
    print(f"hello {name}")


@hookimpl
def register_commands(app):
    app.add_typer(hello, name="hello")


@hookimpl
def register_report_sections(register):
    register("blobs", lambda folder, manifest, ctx: "<p>blobs</p>")
"""


def every_hook_dir(tmp_path: Path) -> Path:
    write_plugin(tmp_path / "pdir", "everyhook", EVERY_HOOK)
    return tmp_path / "pdir"


def test_builtin_plugin_comes_from_the_entry_point_group():
    records = {r["name"]: r for r in plugins.load().describe()}
    assert records["simulate"]["source"] == "entry point celltool_simulate"
    assert plugins.get("simulators", "cells2d").plugin == "simulate"


def test_loose_file_registers_every_family_and_a_command(tmp_path):
    folder = every_hook_dir(tmp_path)
    res = cli("--plugins-dir", str(folder), "plugins", "--json")
    assert res.returncode == 0, res.stderr
    rec = {r["name"]: r for r in json.loads(res.stdout)}["everyhook"]
    assert rec["package"] == "(plugins dir)"
    assert rec["source"] == str(folder / "everyhook.py")
    assert rec["provides"] == {
        "segmenters": ["seg-a"],
        "sketchers": ["sketch-a"],
        "splitters": ["split-a"],
        "trainers": ["train-a"],
        "metrics": ["metric-a"],
        "simulators": ["blobs"],
    }
    assert "register_commands" in rec["hooks"] and "register_report_sections" in rec["hooks"]
    res = cli("--plugins-dir", str(folder), "hello", "world", "--name", "cells")
    assert (res.returncode, res.stdout) == (0, "hello cells\n"), res.stderr
    assert "hello" in cli("--plugins-dir", str(folder), "--help").stdout


def test_plugins_dir_from_environment(tmp_path):
    folder = every_hook_dir(tmp_path)
    res = cli("plugins", "--json", env={"CELLTOOL_PLUGINS_DIR": str(folder)})
    assert "everyhook" in {r["name"] for r in json.loads(res.stdout)}
    res = cli("plugins", "--json")
    assert "everyhook" not in {r["name"] for r in json.loads(res.stdout)}


def test_plugin_options_shown_in_help_under_their_component(tmp_path):
    folder = every_hook_dir(tmp_path)
    res = cli("--plugins-dir", str(folder), "simulate", "--help", env={"COLUMNS": "200"})
    assert res.returncode == 0
    assert "Options of blobs" in res.stdout and "--blob-count" in res.stdout
    assert "Options of cells2d" in res.stdout and "--n-cells" in res.stdout


def test_component_option_given_to_the_wrong_method_is_a_usage_error(tmp_path):
    folder = every_hook_dir(tmp_path)
    out = tmp_path / "out"
    res = cli("--plugins-dir", str(folder), "simulate", "-o", str(out), "--blob-count", "3")
    assert res.returncode == 2
    assert "--blob-count is not an option of simulator 'cells2d'" in res.stderr
    assert "--n-cells" in res.stderr  # lists what it does take
    assert not out.exists()


def test_bad_option_value_is_a_usage_error(tmp_path):
    res = cli("simulate", "-o", str(tmp_path / "o"), "--bit-depth", "10")
    assert res.returncode == 2
    assert "--bit-depth: 10 is not one of 8, 12, 16" in res.stderr


def test_allow_list_loads_only_named_entry_points(monkeypatch):
    monkeypatch.setenv(plugins.ENV_LOAD, "")
    assert plugins.load().describe() == []
    plugins.reset()
    monkeypatch.setenv(plugins.ENV_LOAD, "simulate")
    assert [r["name"] for r in plugins.load().describe()] == ["simulate"]


def test_block_list_disables_a_plugin(tmp_path):
    res = cli("simulate", "-o", str(tmp_path / "o"), env={"CELLTOOL_DISABLE_PLUGINS": "simulate"})
    assert res.returncode == 2
    assert "unknown simulator 'cells2d' (available: spheroid)" in res.stderr
    blocked = {"CELLTOOL_DISABLE_PLUGINS": "simulate,spheroid"}
    res = cli("simulate", "-o", str(tmp_path / "o"), env=blocked)
    assert "unknown simulator 'cells2d' (available: none installed)" in res.stderr
    res = cli("plugins", "--json", env={"CELLTOOL_DISABLE_PLUGINS": "other,simulate"})
    assert res.returncode == 0
    assert "simulate" not in {r["name"] for r in json.loads(res.stdout)}


def make_dist(site: Path, name: str = "celltool_thirdparty", version: str = "1.2.3") -> Path:
    """A real installed distribution (dist-info + module), as pip would leave it."""
    dist = site / f"{name}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[celltool]\nthirdparty = {name}\n")
    (site / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from celltool import hookimpl
            from celltool.components import Component

            @hookimpl
            def register_segmenters(register):
                register(Component("threshold", "global threshold", target="builtins:len"))
            """
        )
    )
    return site


def test_third_party_entry_point_is_discovered(tmp_path):
    site = make_dist(tmp_path / "site")
    env = {"PYTHONPATH": str(site)}
    res = cli("plugins", "--json", env=env)
    assert res.returncode == 0, res.stderr
    rec = {r["name"]: r for r in json.loads(res.stdout)}["thirdparty"]
    assert (rec["package"], rec["version"]) == ("celltool_thirdparty", "1.2.3")
    assert rec["provides"] == {"segmenters": ["threshold"]}
    assert rec["source"] == "entry point celltool_thirdparty"
    assert "thirdparty (celltool_thirdparty 1.2.3)" in cli("--version", env=env).stdout
    # allow-list: only the third party; block-list: everything but it
    res = cli("plugins", "--json", env={**env, "CELLTOOL_LOAD_PLUGINS": "thirdparty"})
    assert [r["name"] for r in json.loads(res.stdout)] == ["thirdparty"]
    res = cli("plugins", "--json", env={**env, "CELLTOOL_DISABLE_PLUGINS": "thirdparty"})
    names = {r["name"] for r in json.loads(res.stdout)}
    assert "simulate" in names and "thirdparty" not in names


def test_broken_entry_point_names_itself_and_the_way_out(tmp_path):
    site = make_dist(tmp_path / "site")
    (site / "celltool_thirdparty.py").write_text("raise ImportError('no such thing')\n")
    res = cli("plugins", env={"PYTHONPATH": str(site)})
    assert res.returncode == 1
    assert "plugin 'thirdparty' (celltool_thirdparty) failed to load: no such thing" in res.stderr
    assert "CELLTOOL_DISABLE_PLUGINS=thirdparty" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_duplicate_component_names_are_an_error(tmp_path):
    folder = tmp_path / "pdir"
    write_plugin(
        folder,
        "dup",
        """
        from celltool import hookimpl
        from celltool.components import Component

        @hookimpl
        def register_simulators(register):
            register(Component("cells2d", "a second cells2d", target="builtins:len"))
        """,
    )
    res = cli("--plugins-dir", str(folder), "plugins")
    assert res.returncode == 1
    assert "plugins 'simulate' and 'dup' both register simulator 'cells2d'" in res.stderr


BAD_HOOKS = {
    # misspelled hook name: caught by pluggy's check_pending
    "typo": ("register_segmentors(register)", ["register_segmentors", "register_segmenters"]),
    # right hook, wrong argument name: caught at registration
    "badargs": ("register_segmenters(registry)", ["register_segmenters", "registry"]),
}


@pytest.mark.parametrize("name", sorted(BAD_HOOKS))
def test_bad_hookimpl_gives_a_clear_one_line_error(tmp_path, name):
    signature, expected = BAD_HOOKS[name]
    code = f"from celltool import hookimpl\n\n@hookimpl\ndef {signature}:\n    pass\n"
    path = write_plugin(tmp_path / "pdir", name, code)
    res = cli("--plugins-dir", str(path.parent), "plugins")
    assert res.returncode == 1
    line = res.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"celltool: error: plugin '{name}' ({path})")
    for fragment in expected + ["celltool's hooks: register_metrics"]:
        assert fragment in line


def test_registering_something_else_than_a_component_is_an_error(tmp_path):
    folder = tmp_path / "pdir"
    write_plugin(
        folder,
        "notcomp",
        """
        from celltool import hookimpl

        @hookimpl
        def register_metrics(register):
            register("iou")
        """,
    )
    with pytest.raises(CelltoolError, match="plugin 'notcomp' registered 'iou'"):
        plugins.load([folder])


def test_loose_file_that_fails_to_import_names_the_file(tmp_path):
    path = write_plugin(tmp_path / "pdir", "broken", "1/0\n")
    res = cli("--plugins-dir", str(path.parent), "plugins")
    assert res.returncode == 1
    assert f"{path}: plugin file failed to load: division by zero" in res.stderr


def test_missing_plugins_dir_is_a_usage_error(tmp_path):
    res = cli("--plugins-dir", str(tmp_path / "nope"), "plugins")
    assert res.returncode == 2
    assert f"{tmp_path / 'nope'}: plugins folder does not exist" in res.stderr


def test_unknown_names_list_the_available_ones(monkeypatch, tmp_path):
    with pytest.raises(CelltoolError, match=r"unknown simulator 'x' \(available: cells2d"):
        plugins.get("simulators", "x")
    plugins.reset()
    monkeypatch.setenv(plugins.ENV_LOAD, "")
    with pytest.raises(CelltoolError, match=r"unknown segmenter 'x' \(available: none installed\)"):
        plugins.get("segmenters", "x")


def test_debug_shows_the_traceback(tmp_path, capsys):
    folder = tmp_path / "pdir"
    write_plugin(folder, "broken", "1/0\n")
    assert run(["--plugins-dir", str(folder), "plugins"]) == 1
    assert "Traceback" not in capsys.readouterr().err
    plugins.reset()
    assert run(["--debug", "--plugins-dir", str(folder), "plugins"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err


def hookspec_names() -> list[str]:
    tree = ast.parse((REPO / "celltool" / "hookspecs.py").read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(getattr(d, "id", "") == "hookspec" for d in node.decorator_list)
    ]


def test_every_hookspec_is_tested_and_documented():
    """Like datasette's test: a new hook must come with a test and a line in docs/plugins.md."""
    names = hookspec_names()
    assert len(names) >= 7
    docs = (REPO / "docs" / "plugins.md").read_text()
    tests = "".join(
        p.read_text() for p in (REPO / "tests").glob("test_*.py") if p.name != "test_plugins.py"
    )
    tests += EVERY_HOOK  # the plugin above implements each hook and is checked by a test
    for name in names:
        assert re.search(rf"`{name}\(", docs), f"hook {name} is not documented in docs/plugins.md"
        assert re.search(rf"def {name}\(", tests), f"hook {name} is not implemented by any test"
