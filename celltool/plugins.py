"""Plugin loading and the component registry.

Every plugin, built-in or third-party, is a module registered through the entry-point group
``celltool``. Loose ``*.py`` files can be loaded from plugin folders (``--plugins-dir`` or
``CELLTOOL_PLUGINS_DIR``). ``CELLTOOL_LOAD_PLUGINS`` is an allow-list of entry-point names
(comma-separated; empty = none) and ``CELLTOOL_DISABLE_PLUGINS`` a block-list. The entry points
come from a cache that any change to the installed distributions invalidates
(:mod:`celltool.entrypoints`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pluggy

from celltool import entrypoints, hookspecs
from celltool.components import Component
from celltool.contracts import typed_info
from celltool.errors import CelltoolError, UsageError

GROUP = "celltool"
ENV_LOAD = "CELLTOOL_LOAD_PLUGINS"
ENV_DISABLE = "CELLTOOL_DISABLE_PLUGINS"
ENV_DIRS = "CELLTOOL_PLUGINS_DIR"

# family name -> hook that fills it
FAMILIES = {
    "segmenters": "register_segmenters",
    "sketchers": "register_sketchers",
    "splitters": "register_splitters",
    "trainers": "register_trainers",
    "metrics": "register_metrics",
    "simulators": "register_simulators",
}


LOOSE_PACKAGE = "celltool_plugins_dir"


def _loose_package() -> types.ModuleType:
    """The (empty) parent package of loose plugin files, created on first use."""
    package = sys.modules.get(LOOSE_PACKAGE)
    if package is None:
        package = types.ModuleType(LOOSE_PACKAGE)
        package.__path__ = []  # a package, so that "celltool_plugins_dir.NAME" imports
        sys.modules[LOOSE_PACKAGE] = package
    return package


class Registry:
    """All components, by family and name."""

    def __init__(self) -> None:
        self.families: dict[str, dict[str, Component]] = {f: {} for f in FAMILIES}

    def add(self, family: str, plugin: str, component: Component) -> None:
        if not isinstance(component, Component):
            raise CelltoolError(
                f"plugin '{plugin}' registered {component!r} as one of the {family}; "
                "expected a celltool.components.Component"
            )
        known = self.families[family]
        if component.name in known:
            other = known[component.name].plugin
            raise CelltoolError(
                f"plugins '{other}' and '{plugin}' both register {family[:-1]} '{component.name}'"
            )
        where = f"plugin '{plugin}', {family[:-1]} '{component.name}'"
        info = typed_info(family, component.info, where)
        known[component.name] = replace(component, family=family, plugin=plugin, info=info)

    def names(self, family: str) -> list[str]:
        return sorted(self.families[family])

    def all(self, family: str) -> list[Component]:
        return [self.families[family][n] for n in self.names(family)]

    def get(self, family: str, name: str) -> Component:
        try:
            return self.families[family][name]
        except KeyError:
            available = ", ".join(self.names(family)) or "none installed"
            raise UsageError(f"unknown {family[:-1]} '{name}' (available: {available})") from None


class PluginSet:
    """The plugin manager, what each plugin is, and the registry built from it."""

    def __init__(self, plugins_dirs: Iterable[str | Path] = ()) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.dists: dict[str, tuple[str, str]] = {}  # plugin name -> (package, version)
        self.sources: dict[str, str] = {}  # plugin name -> "entry point" | file path
        self._load_entry_points()
        for folder in plugins_dirs:
            self._load_dir(Path(folder))
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise self._invalid(exc) from None
        self.registry = self._collect()

    def _invalid(self, exc: pluggy.PluginValidationError, name: str | None = None) -> CelltoolError:
        name = name or self.pm.get_name(exc.plugin) or getattr(exc.plugin, "__name__", "?")
        where = self.sources.get(name, "")
        other = ["register_commands", "register_report_sections"]
        hooks = ", ".join(sorted(FAMILIES.values()) + other)
        return CelltoolError(
            f"plugin '{name}' ({where}): {exc} (celltool's hooks: {hooks})".replace("\n", " ")
        )

    def _register(self, module: Any, name: str, source: str) -> None:
        self.sources[name] = source
        try:
            self.pm.register(module, name=name)
        except pluggy.PluginValidationError as exc:
            raise self._invalid(exc, name) from None

    def _load_entry_points(self) -> None:
        allow = os.environ.get(ENV_LOAD)
        allowed = None if allow is None else {n.strip() for n in allow.split(",") if n.strip()}
        blocked = {n.strip() for n in os.environ.get(ENV_DISABLE, "").split(",") if n.strip()}
        for ep in entrypoints.entry_points(GROUP):  # cached between runs (see entrypoints)
            if ep.name in self.dists or ep.name in blocked:
                continue
            if allowed is not None and ep.name not in allowed:
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken third-party plugin must not hide the others
                raise CelltoolError(
                    f"plugin '{ep.name}' ({ep.value}) failed to load: {exc}; "
                    f"disable it with {ENV_DISABLE}={ep.name}"
                ) from exc
            self._register(module, ep.name, f"entry point {ep.value}")
            self.dists[ep.name] = (ep.dist, ep.version)

    def _load_dir(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UsageError("plugins folder does not exist", folder)
        for path in sorted(folder.glob("*.py")):
            name = path.stem
            if name in self.dists:
                raise CelltoolError(f"plugin name '{name}' is already taken", path)
            spec = importlib.util.spec_from_file_location(f"{LOOSE_PACKAGE}.{name}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            # Importable by name (so pickle finds its functions in forked worker processes).
            sys.modules[spec.name] = module
            setattr(_loose_package(), name, module)
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise CelltoolError(f"plugin file failed to load: {exc}", path) from exc
            self._register(module, name, str(path))
            self.dists[name] = ("(plugins dir)", "")

    def _collect(self) -> Registry:
        registry = Registry()
        for family, hook_name in FAMILIES.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():

                def register(component: Component, _p: str = impl.plugin_name, _f=family) -> None:
                    registry.add(_f, _p, component)

                impl.function(register=register)
        return registry

    def add_commands(self, app: Any) -> None:
        self.pm.hook.register_commands(app=app)

    def describe(self) -> list[dict[str, Any]]:
        """One record per plugin: name, package, version, source, hooks and what it provides."""
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            provides = {
                family: [c.name for c in self.registry.all(family) if c.plugin == name]
                for family in FAMILIES
            }
            package, version = self.dists.get(name, ("?", "?"))
            out.append(
                {
                    "name": name,
                    "package": package,
                    "version": version,
                    "source": self.sources.get(name, ""),
                    "hooks": hooks,
                    "provides": {k: v for k, v in provides.items() if v},
                }
            )
        return sorted(out, key=lambda r: r["name"])


_CURRENT: PluginSet | None = None


def load(plugins_dirs: Iterable[str | Path] | None = None) -> PluginSet:
    """Load plugins once per process (``plugins_dirs`` defaults to ``CELLTOOL_PLUGINS_DIR``)."""
    global _CURRENT
    if plugins_dirs is None:
        plugins_dirs = [d for d in os.environ.get(ENV_DIRS, "").split(os.pathsep) if d]
    if _CURRENT is None:
        _CURRENT = PluginSet(plugins_dirs)
    return _CURRENT


def reset() -> None:
    """Forget the loaded plugins (tests, or after changing the environment)."""
    global _CURRENT
    _CURRENT = None


def registry() -> Registry:
    return load().registry


def get(family: str, name: str) -> Component:
    return registry().get(family, name)
