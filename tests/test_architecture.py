"""The rules of the code base, enforced: the core stands alone, plugins never import each other,
only the CLI layer imports typer, registration is light, modules stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "celltool"
PLUGINS = REPO / "plugins"
EXAMPLES = REPO / "examples"
MAX_LINES = 420  # "no module over ~400 lines"


def imported_modules(path: Path) -> set[str]:
    """Top-level and dotted names of every module a file imports (anywhere in it)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def plugin_packages() -> list[Path]:
    packages = [p for p in PLUGINS.iterdir() if (p / "__init__.py").is_file()]
    packages += [p.parent for p in EXAMPLES.glob("*/celltool_*/__init__.py")]
    return sorted(packages)


def test_the_core_imports_no_plugin():
    offenders = {}
    for f in python_files(CORE):
        plugins = sorted(m for m in imported_modules(f) if m.startswith("celltool_"))
        if plugins:
            offenders[str(f.relative_to(REPO))] = plugins
    assert offenders == {}


def test_no_plugin_imports_another_plugin():
    offenders = {}
    for package in plugin_packages():
        for f in python_files(package):
            others = sorted(
                m for m in imported_modules(f)
                if m.startswith("celltool_") and m.split(".")[0] != package.name
            )  # fmt: skip
            if others:
                offenders[str(f.relative_to(REPO))] = others
    assert offenders == {}


def test_only_the_cli_layer_imports_typer():
    allowed = {CORE / "cli.py"} | set(python_files(CORE / "commands"))
    offenders = [
        str(f.relative_to(REPO))
        for f in python_files(CORE)
        if f not in allowed and any(m.split(".")[0] == "typer" for m in imported_modules(f))
    ]
    assert offenders == []


def test_no_module_is_over_the_size_limit():
    files = python_files(CORE) + [f for p in plugin_packages() for f in python_files(p)]
    big = {str(f.relative_to(REPO)): n for f in files
           if (n := len(f.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert big == {}


def _entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in metadata.entry_points(group="celltool")}


def _registration_modules() -> dict[str, tuple[str, str]]:
    """name -> (module, folder to put first on sys.path): every installed entry point, and,
    from their source folders, the plugin packages under plugins/ that are not (yet) entry
    points and the example plugins under examples/*/ (not installed)."""
    modules = {name: (value.split(":")[0], "") for name, value in _entry_points().items()}
    installed = {module for module, _ in modules.values()}
    for package in plugin_packages():
        if package.name not in installed:
            kind = "example" if EXAMPLES in package.parents else "source"
            modules[f"{kind}:{package.name}"] = (package.name, str(package.parent))
    return modules


# What a registration must not import (`celltool --help` and every step's start-up pay for it).
HEAVY = ("numpy", "torch", "celltool.training.api", "scipy", "cv2", "skimage", "matplotlib",
         "PIL", "tifffile", "pydantic", "rich")  # fmt: skip


@pytest.mark.parametrize("name", sorted(_registration_modules()))
def test_registering_a_plugin_imports_nothing_heavy(name):
    """A plugin module that only registers components (and commands) imports neither numpy nor
    torch nor the training framework (so that `celltool --help` and every step stay fast)."""
    module, folder = _registration_modules()[name]
    code = (
        "import sys\n"
        f"sys.path.insert(0, {folder!r}) if {folder!r} else None\n"
        f"import {module} as m\n"
        "from celltool import plugins\n"
        "r = plugins.Registry()\n"
        "for fam, hook in plugins.FAMILIES.items():\n"
        "    f = getattr(m, hook, None)\n"
        "    if f: f(register=lambda c, fam=fam: r.add(fam, 'x', c))\n"
        "if hasattr(m, 'register_commands'):  # runs on every start too (the root command)\n"
        "    import typer\n"
        "    m.register_commands(app=typer.Typer())\n"
        f"heavy = [h for h in {HEAVY!r} if h in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"registering {module} imports {out.stdout.strip()}"
