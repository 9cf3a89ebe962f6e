"""The ``celltool`` command: global options, plugin loading, and the step commands.

Commands are built when used: ``celltool segment --help`` builds only ``segment``, and
``celltool --help`` lists every command from its one-line summary without building any.
Heavy libraries (torch, skimage, cv2) are imported inside the code that needs them, never
here. Help is click's plain formatter with Typer's panels as sections (no rich), and option
values skip pydantic where Typer's result is certain (docs/architecture.md, "Heavy imports and
start-up"). Errors are one line on stderr: ``celltool: error: ...``, exit 1 for bad data, 2 for a
bad command line; ``--debug`` shows the traceback.
"""

import importlib
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from celltool import __version__, plugins
from celltool.commands import coerce
from celltool.commands.helpformat import MAX_WIDTH, plain
from celltool.errors import CelltoolError

coerce.install()  # option values without pydantic where Typer's result is certain

# Built-in step commands: name → (module under celltool.commands with add(app), summary).
# Order is the order in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("simulate", "Simulate cell images (2D, 3D, time-lapses) with exact labels."),
    "segment": ("segment", "Segment cells (and nuclei) into instance label maps."),
    "sketch": ("sketch", "Class-index maps and gray-coded sketches from label maps."),
    "split": ("split", "Train/val/test pairs (or a Cell Tracking Challenge export)."),
    "train": ("train", "Train a model plugin: celltool train MODEL DATA -o RUN."),
    "generate": ("generate", "Generate with a trained model (RUN --help: its options)."),
    "evaluate": ("evaluate", "Score generated images or segmentations against real ones."),
    "demo": ("demo", "Run every step on simulated data and print the folder."),
    "report": ("report", "One static HTML page from celltool output folders."),
    "benchmark": ("benchmark", "Run segmenters on labelled images; rank them with intervals."),
    "plugins": ("plugins_cmd", "List plugins: package, version, what each provides."),
}
SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": MAX_WIDTH}
HELP = (
    "Synthetic microscopy cell images: simulate, segment, sketch, split, train, generate, "
    "evaluate. Steps read and write image folders and compose through pipes: "
    "`celltool segment imgs/ | celltool sketch --levels 7 | celltool split`."
)


class Terminated(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so partial outputs are removed."""


def _version_text(ps: plugins.PluginSet) -> str:
    lines = [f"celltool {__version__}", "plugins:"]
    for rec in ps.describe():
        version = f" {rec['version']}" if rec["version"] else ""
        lines.append(f"  {rec['name']} ({rec['package']}{version})")
    return "\n".join(lines)


def lazy_group(argv: list[str]) -> type[TyperGroup]:
    """A root group whose built-in commands are built on first use (stubs for listings)."""

    class LazyGroup(TyperGroup):
        def list_commands(self, ctx: Any) -> list[str]:
            plugin_commands = [n for n in self.commands if n not in COMMANDS]
            return list(COMMANDS) + plugin_commands

        def get_command(self, ctx: Any, name: str) -> Any:
            if name in self.commands:
                return self.commands[name]
            if name in COMMANDS:  # a listing: the summary is all it needs
                return typer.core.TyperCommand(name, help=COMMANDS[name][1])
            return None

        def resolve_command(self, ctx: Any, args: list[str]) -> Any:
            if args and args[0] in COMMANDS and args[0] not in self.commands:
                self.add_command(_build(args[0], argv), args[0])
            return super().resolve_command(ctx, args)

    return LazyGroup


def _build(name: str, argv: list[str]) -> Any:
    """The click command of a built-in step (its module's ``add(app)`` on a scratch app)."""
    module = importlib.import_module(f"celltool.commands.{COMMANDS[name][0]}")
    scratch = typer.Typer(add_completion=False, context_settings=SETTINGS)
    if name == "generate":  # the run's model decides the options
        module.add(scratch, argv[argv.index(name) + 1 :] if name in argv else [])
    else:
        module.add(scratch)
    scratch.callback()(lambda: None)  # a group, so commands keep their names
    plain(scratch)
    return typer.main.get_group(scratch).commands[name]


def build_app(ps: plugins.PluginSet, argv: list[str] | None = None) -> typer.Typer:
    app = typer.Typer(
        cls=lazy_group(list(argv or [])),
        name="celltool",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings=SETTINGS,
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

    ps.add_commands(app)
    plain(app)
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


def _on_signal(signum: int, frame: Any) -> None:
    raise Terminated(signal.Signals(signum).name)


def _usage_line(exc: Any) -> str:
    where = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "celltool"
    return f"celltool: error: {where}: {exc.format_message()} (see `{where} --help`)\n"


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and by in-process tests)."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
    from typer.exceptions import Abort, Exit

    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    head, tail = argv[:cut], argv[cut:]
    debug = _pop_flag(head, "--debug") or os.environ.get("CELLTOOL_DEBUG") == "1"
    dirs = _pop_option(head, "--plugins-dir")
    argv = head + tail
    if dirs:
        existing = [d for d in os.environ.get(plugins.ENV_DIRS, "").split(os.pathsep) if d]
        os.environ[plugins.ENV_DIRS] = os.pathsep.join(dirs + existing)
        plugins.reset()
    handlers = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            handlers[sig] = signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread (in-process tests)
            pass
    try:
        app = build_app(plugins.load(), argv)
        result = app(args=argv, prog_name="celltool", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except Exit as exc:
        return exc.exit_code
    except NoArgsIsHelpError as exc:
        exc.show()
        return exc.exit_code
    except ClickException as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(_usage_line(exc) if hasattr(exc, "ctx") else f"celltool: error: {exc}\n")
        return exc.exit_code
    except Abort:
        sys.stderr.write("celltool: interrupted\n")
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CelltoolError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"celltool: error: {exc}\n")
        return exc.exit_code
    except (KeyboardInterrupt, Terminated) as exc:
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"terminated ({exc})"
        sys.stderr.write(f"celltool: {what}\n")
        return 130 if isinstance(exc, KeyboardInterrupt) else 143
    except BrokenPipeError:
        # the reader of our stdout went away (e.g. `celltool simulate | true`): the step's
        # work is done and published; stdout is only the folder path
        _silence_stdout()
        return 0
    except Exception as exc:
        if debug:
            traceback.print_exc()
        else:
            first = str(exc).splitlines()[0] if str(exc) else ""
            sys.stderr.write(
                f"celltool: error: {exc.__class__.__name__}: {first} (run with --debug for the "
                "traceback)\n"
            )
        return 1
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def main() -> None:
    sys.exit(run())
