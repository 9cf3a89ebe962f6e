"""Start-up (issue #19): what `--help`, `plugins` and a no-op step import, the plain help with
panels, and option values converted without pydantic exactly as Typer converts them.
No timings here: those are in benchmarks/bench_startup.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import pytest
import typer
from conftest import cli

from celltool import plugins
from celltool.commands import coerce

# Imported by none of these paths: Typer's rich help (and markdown-it through it), pydantic
# (Typer's value conversion), the entry-point scan (cache warm), the heavy libraries.
NEVER = ("typer.rich_utils", "rich.markdown", "markdown_it", "pydantic", "importlib.metadata",
         "torch", "torchvision", "matplotlib", "skimage", "scipy", "cv2")  # fmt: skip
LISTINGS = {  # argv -> what else they must not import
    ("--help",): ("numpy", "rich"),
    ("plugins",): ("numpy", "rich"),
    ("plugins", "--json"): ("numpy", "rich"),
    ("segment", "--help"): ("numpy", "rich", "celltool.executor"),
    ("simulate", "--help"): ("numpy", "rich"),
    ("train", "pix2pix", "--help"): ("numpy", "rich"),
}
PROBE = """
import json, sys
from celltool.cli import run
rc = run(json.loads(sys.argv[1]))
sys.stderr.write("\\nPROBE " + json.dumps({"rc": rc, "modules": sorted(sys.modules)}) + "\\n")
"""


def probe(argv: list[str], cache: Path) -> tuple[int, set[str]]:
    """Run the CLI in a fresh interpreter; its exit code and every module it imported."""
    env = {**os.environ, "CELLTOOL_CACHE_DIR": str(cache)}
    env.pop("CELLTOOL_NO_CACHE", None)
    res = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    line = [ln for ln in res.stderr.splitlines() if ln.startswith("PROBE ")]
    assert line, res.stderr[-2000:]
    data = json.loads(line[-1][6:])
    return data["rc"], set(data["modules"])


@pytest.mark.parametrize("argv", sorted(LISTINGS), ids=" ".join)
def test_help_and_listings_import_nothing_they_do_not_show(argv, tmp_path):
    probe(list(argv), tmp_path)  # the first start writes the entry-point cache
    rc, modules = probe(list(argv), tmp_path)
    assert rc == 0
    assert sorted(modules & {*NEVER, *LISTINGS[argv]}) == []
    assert "typer" in modules and "celltool_simulate" in modules  # it did start celltool


def test_a_no_op_step_imports_no_help_renderer_pydantic_or_rich(tmp_path):
    """`simulate -n 0` writes an empty simulation folder. numpy is the step's own (the
    simulation and image modules import it), so it is not in the list."""
    probe(["simulate", "-n", "0", "-o", str(tmp_path / "warm")], tmp_path)
    rc, modules = probe(["simulate", "-n", "0", "-o", str(tmp_path / "sim")], tmp_path)
    assert rc == 0 and (tmp_path / "sim").is_dir()
    assert sorted(modules & {*NEVER, "rich"}) == []  # stderr is not a terminal: no bars
    assert "celltool.steps.simulation" in modules


def test_step_options_convert_without_pydantic_and_bad_values_keep_typers_errors(tmp_path):
    args = ["sketch", "--levels", "7", "--seed", "3", "-o", str(tmp_path / "s"), "/nonexistent"]
    rc, modules = probe(args, tmp_path)
    assert rc == 1  # the missing input folder, after every option was converted
    assert "pydantic" not in modules
    res = cli("simulate", "-n", "-1", "-o", str(tmp_path / "x"))
    assert res.returncode == 2 and "greater than or equal to 0" in res.stderr
    res = cli("simulate", "-n", "1.5", "-o", str(tmp_path / "x"))
    assert res.returncode == 2 and "valid integer" in res.stderr
    assert not (tmp_path / "x").exists()


def test_segment_help_lists_every_option_of_every_segmenter_under_its_panel():
    res = cli("segment", "--help", env={"COLUMNS": "120"})
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "\nExecution:\n" in out and "--workers" in out
    panels: dict[str, str] = {}  # segmenter -> the text of every panel naming it
    for section in out.split("\nOptions of ")[1:]:
        heading, _, body = section.partition(":\n")
        for name in heading.split(", "):  # options shared by several: "cellpose, unet-seg"
            panels[name] = panels.get(name, "") + body.split("\n\n")[0]
    for component in plugins.registry().all("segmenters"):
        for param in component.params:
            assert param.flag in panels[component.name], (component.name, param.flag)
    assert "╭" not in out  # plain help: no rich panels


def test_train_help_shows_plain_brackets():
    res = cli("train", "pix2pix", "--help", env={"COLUMNS": "120"})
    assert res.returncode == 0 and "[train] table" in res.stdout and "\\[" not in res.stdout


def test_plugins_table_lists_every_plugin_and_what_it_provides():
    res = cli("plugins", env={"COLUMNS": "80"})  # long lists wrap
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["plugin", "package", "version", "provides"]
    rows = {line.split()[0]: line for line in lines[1:] if line and not line[0].isspace()}
    records = plugins.load().describe()
    assert sorted(rows) == sorted(r["name"] for r in records)
    text = " ".join(res.stdout.split())
    for rec in records:
        for family, names in rec["provides"].items():
            assert f"{family}: {', '.join(names)}" in text
    assert max(map(len, lines)) <= 80


# --- option values: the front runtime against Typer's own conversion, value by value


def _command() -> typer.main.TyperCommand:
    app = typer.Typer()

    @app.command()
    def cmd(
        i: int = 0,
        bounded: Annotated[int, typer.Option(min=0, max=10)] = 0,
        f: float = 0.0,
        fbounded: Annotated[float, typer.Option(min=-1.5, max=2.5)] = 0.0,
        clamped: Annotated[int, typer.Option(min=0, max=3, clamp=True)] = 0,
        s: str = "",
        p: Optional[Path] = None,
        exists: Annotated[Optional[Path], typer.Option(exists=True)] = None,
        nodir: Annotated[Optional[Path], typer.Option(dir_okay=False)] = None,
        resolved: Annotated[Optional[Path], typer.Option(resolve_path=True)] = None,
        pair: Optional[tuple[float, float]] = None,
        paths: Optional[tuple[Path, Path]] = None,
        ints: Annotated[Optional[list[int]], typer.Option()] = None,
        flag: bool = False,
    ) -> None:
        pass

    return typer.main.get_command(app)


WORDS = ["0", "7", "-3", "007", "10", "11", "+5", " 5", "5 ", "1_000", "1e3", "1.5", "-0.0",
         ".5", "5.", "1.5e+03", "2.5", "2.6", "-1.5", "inf", "nan", "abc", "", "٣", "-",
         "99999999999999999999", "a/b/", 5, 2.0, True]  # fmt: skip


def _typers(param, value, ctx):
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param

    try:
        return "ok", build_runtime_param(param.type_descriptor).coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()


def _fronts(param, value, ctx):
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param

    front = coerce.FrontRuntime(param, lambda: build_runtime_param(param.type_descriptor))
    try:
        return "ok", front.coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()


def test_the_front_runtime_converts_exactly_as_typer_does(tmp_path):
    from typer._click import Context

    (tmp_path / "file").write_text("x")
    command = _command()
    ctx = Context(command)
    words = [*WORDS, str(tmp_path / "file"), str(tmp_path), str(tmp_path / "missing")]
    fast = 0
    for param in command.params:
        multi = param.nargs != 1 or param.multiple
        values = [(w, w) for w in words] if multi else [w for w in words]
        if multi:
            values += [("1", "2", "3"), ("1",)]
        for value in [None, *values]:
            expected = _typers(param, value, ctx)  # repr: nan == nan, and the types too
            front = _fronts(param, value, ctx)
            assert repr(front) == repr(expected), (param.name, value)
            assert type(front[1]) is type(expected[1]), (param.name, value)
            desc = param.type_descriptor
            got = coerce.convert(desc.annotation, desc.parameter_info, value, param, ctx)
            if value is not None and got is not coerce._MISS:
                fast += 1
                assert repr(("ok", got)) == repr(expected), (param.name, value)
    assert fast >= 60  # the plain cases really are converted without Typer's adapters


def test_the_front_runtime_is_installed_and_builds_no_adapter_for_plain_values():
    from typer._click import Context

    coerce.install()  # what importing celltool.cli does (idempotent)
    command = _command()
    ctx = Context(command)
    built = []
    for param in command.params:
        runtime = param.get_runtime_param()
        assert isinstance(runtime, coerce.FrontRuntime)
        runtime.build = lambda: built.append(1)  # would build Typer's (pydantic) runtime
        runtime.coerce(None, param=param, ctx=ctx)
    by_name = {p.name: p for p in command.params}
    assert by_name["i"].get_runtime_param().coerce("7", param=by_name["i"], ctx=ctx) == 7
    assert by_name["p"].get_runtime_param().coerce("a", param=by_name["p"], ctx=ctx) == Path("a")
    assert built == []
