"""The ``celltool`` command: global options, plugin loading, and the step commands.

Heavy libraries (torch, skimage, cv2) are imported inside the code that needs them, never
here, so ``celltool --help`` stays fast.
"""

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer

from celltool import __version__, plugins
from celltool.errors import CelltoolError

# Step modules under celltool.commands; each has add(app). Order is the order in --help.
COMMANDS = (
    "simulate",
    "segment",
    "sketch",
    "split",
    "train",
    "generate",
    "evaluate",
    "demo",
    "report",
    "plugins_cmd",
)


def _version_text(ps: plugins.PluginSet) -> str:
    lines = [f"celltool {__version__}", "plugins:"]
    for rec in ps.describe():
        version = f" {rec['version']}" if rec["version"] else ""
        lines.append(f"  {rec['name']} ({rec['package']}{version})")
    return "\n".join(lines)


def build_app(ps: plugins.PluginSet) -> typer.Typer:
    app = typer.Typer(
        name="celltool",
        help="Synthetic microscopy cell images: segment, sketch, split, train, generate, "
        "evaluate. Steps read and write image folders and compose through pipes: "
        "`celltool segment imgs/ | celltool sketch --levels 7 | celltool split`.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def show_version(value: bool) -> None:
        if value:
            typer.echo(_version_text(ps))
            raise typer.Exit()

    @app.callback()
    def root(
        version: Annotated[
            bool,
            typer.Option(
                "--version",
                callback=show_version,
                is_eager=True,
                help="Show celltool's and the plugins' versions.",
            ),
        ] = False,
        debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
        plugins_dir: Annotated[
            Optional[list[Path]],
            typer.Option(
                "--plugins-dir",
                help="Load loose *.py plugin files from this folder "
                "(repeatable; env CELLTOOL_PLUGINS_DIR).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """celltool: synthetic microscopy cell images for training and benchmarking segmentation."""

    import importlib

    for name in COMMANDS:
        importlib.import_module(f"celltool.commands.{name}").add(app)
    ps.add_commands(app)
    return app


def _pop_flag(argv: list[str], flag: str) -> bool:
    found = flag in argv
    while flag in argv:
        argv.remove(flag)
    return found


def _pop_option(argv: list[str], name: str) -> list[str]:
    values, i = [], 0
    while i < len(argv):
        if argv[i] == name and i + 1 < len(argv):
            values.append(argv[i + 1])
            del argv[i : i + 2]
        elif argv[i].startswith(name + "="):
            values.append(argv[i].split("=", 1)[1])
            del argv[i]
        else:
            i += 1
    return values


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and by in-process tests)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        head, tail = argv[: argv.index("--")], argv[argv.index("--") :]
    else:
        head, tail = argv, []
    debug = _pop_flag(head, "--debug") or os.environ.get("CELLTOOL_DEBUG") == "1"
    dirs = _pop_option(head, "--plugins-dir")
    argv = head + tail
    if dirs:
        existing = [d for d in os.environ.get(plugins.ENV_DIRS, "").split(os.pathsep) if d]
        os.environ[plugins.ENV_DIRS] = os.pathsep.join(dirs + existing)
        plugins.reset()
    try:
        app = build_app(plugins.load())
        app(args=argv, prog_name="celltool")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CelltoolError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"celltool: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("celltool: interrupted\n")
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        else:
            sys.stderr.write(
                f"celltool: error: {exc.__class__.__name__}: {exc} (run with --debug for the "
                "traceback)\n"
            )
        return 1
    return 0


def main() -> None:
    sys.exit(run())
