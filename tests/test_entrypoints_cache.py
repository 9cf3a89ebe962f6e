"""The entry-point cache (celltool.entrypoints): same answer as a full scan, and any change to
what discovery reads (a distribution installed, edited or removed, another PYTHONPATH) is seen
at once, so a stale cache never hides a plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import cli

from celltool import entrypoints

PLUGIN = """
from celltool import hookimpl
from celltool.components import Component

@hookimpl
def register_segmenters(register):
    register(Component("{component}", "test segmenter", target="builtins:len"))
"""


def make_dist(site: Path, name: str = "celltool_cached", entry: str = "cached") -> Path:
    """An installed distribution as pip leaves it: NAME-1.0.dist-info and the module."""
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[celltool]\n{entry} = {name}\n")
    (site / f"{name}.py").write_text(textwrap.dedent(PLUGIN.format(component=f"{entry}-seg")))
    return dist


def plugin_names(cache: Path, **env: str) -> set[str]:
    res = cli("plugins", "--json", env={"CELLTOOL_CACHE_DIR": str(cache), **env})
    assert res.returncode == 0, res.stderr
    return {r["name"] for r in json.loads(res.stdout)}


def records(cache_dir: Path, monkeypatch) -> list[entrypoints.EntryPointRecord]:
    monkeypatch.setenv(entrypoints.ENV_CACHE_DIR, str(cache_dir))
    monkeypatch.delenv(entrypoints.ENV_NO_CACHE, raising=False)
    return entrypoints.entry_points("celltool")


def test_a_warm_cache_answers_like_a_full_scan_without_importlib_metadata(tmp_path):
    code = (
        "import sys, json\n"
        "from celltool import entrypoints\n"
        "eps = entrypoints.entry_points('celltool')\n"
        "print(json.dumps(['importlib.metadata' in sys.modules,\n"
        "                  [[e.name, e.value, e.dist, e.version] for e in eps]]))\n"
    )
    env = {**os.environ, "CELLTOOL_CACHE_DIR": str(tmp_path)}
    env.pop("CELLTOOL_NO_CACHE", None)
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )  # fmt: skip
        for _ in range(2)
    ]
    (cold_scanned, cold), (warm_scanned, warm) = runs
    assert cold_scanned and not warm_scanned  # the second start read the cache
    scan = [[e.name, e.value, e.dist, e.version] for e in entrypoints.scan("celltool")]
    assert cold == warm == scan
    assert {"simulate", "watershed", "pix2pix"} <= {name for name, *_ in warm}
    assert len(list(tmp_path.glob("entry-points-celltool-*.json"))) == 1


def test_installing_editing_and_removing_a_plugin_is_seen_with_a_warm_cache(tmp_path):
    cache, site = tmp_path / "cache", tmp_path / "site"
    site.mkdir()
    before = plugin_names(cache, PYTHONPATH=str(site))  # warm, with the folder empty
    assert "cached" not in before
    dist = make_dist(site)  # installed into a folder already on the path
    assert plugin_names(cache, PYTHONPATH=str(site)) == before | {"cached"}
    # edited in place: only entry_points.txt changes (same folder, same dist-info)
    (dist / "entry_points.txt").write_text("[celltool]\nrenamed_plugin = celltool_cached\n")
    assert plugin_names(cache, PYTHONPATH=str(site)) == before | {"renamed_plugin"}
    for f in dist.iterdir():  # uninstalled
        f.unlink()
    dist.rmdir()
    assert plugin_names(cache, PYTHONPATH=str(site)) == before


def test_another_pythonpath_is_another_key(tmp_path):
    cache = tmp_path / "cache"
    before = plugin_names(cache)
    make_dist(tmp_path / "site")
    assert plugin_names(cache, PYTHONPATH=str(tmp_path / "site")) == before | {"cached"}
    assert plugin_names(cache) == before


def test_no_cache_env_writes_nothing(tmp_path):
    names = plugin_names(tmp_path / "cache", CELLTOOL_NO_CACHE="1")
    assert "simulate" in names
    assert not (tmp_path / "cache").exists()


def test_a_damaged_cache_is_rescanned_and_rewritten(tmp_path, monkeypatch):
    good = records(tmp_path, monkeypatch)
    (path,) = tmp_path.glob("entry-points-celltool-*.json")
    for damage in ("{not json", json.dumps({"key": None}), json.dumps([1, 2])):
        path.write_text(damage)
        assert records(tmp_path, monkeypatch) == good
        assert json.loads(path.read_text())["entry_points"]  # rewritten


def test_a_cache_entry_for_another_key_is_not_used(tmp_path, monkeypatch):
    good = records(tmp_path, monkeypatch)
    (path,) = tmp_path.glob("entry-points-celltool-*.json")
    data = json.loads(path.read_text())
    data["entry_points"] = [["ghost", "nowhere", "ghost", "0"]]
    data["key"]["path"] = data["key"]["path"][:-1]  # as if written for another sys.path
    path.write_text(json.dumps(data))
    assert records(tmp_path, monkeypatch) == good


def test_an_unwritable_cache_dir_does_not_stop_celltool(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    got = records(blocker / "cache", monkeypatch)  # mkdir fails under a file
    assert {r.name for r in got} >= {"simulate", "watershed"}


def test_a_foreign_distribution_finder_disables_the_cache(monkeypatch):
    class Finder:
        def find_spec(self, *args):
            return None

        def find_distributions(self, *args):
            return iter(())

    assert entrypoints.fingerprint() is not None
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert entrypoints.fingerprint() is None


def test_records_load_like_entry_points():
    assert entrypoints.EntryPointRecord("j", "os.path:join", "x", "1").load() is os.path.join
    assert entrypoints.EntryPointRecord("j", "json", "x", "1").load() is json
    ep = entrypoints.EntryPointRecord("j", "json : JSONDecoder.decode [extra]", "x", "1")
    assert ep.load() is json.JSONDecoder.decode
    with pytest.raises(ValueError):
        entrypoints.EntryPointRecord("bad", "not a value!", "x", "1").load()
