"""What a plugin registers: a named component with typed parameters and a lazy target.

A :class:`Component` is the same for every family (segmenters, sketchers, splitters, trainers,
metrics, simulators). Its ``target`` is a ``"module:attr"`` string (or a callable) that is only
imported when the component is used, so that ``celltool --help`` and ``celltool plugins`` stay
fast and never import torch. What the target must be depends on the family; see
``docs/plugins.md``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from celltool.errors import UsageError

_BOOL_WORDS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


@dataclass(frozen=True)
class Param:
    """One typed option of a component; shown in ``--help`` as ``--name-with-dashes``.

    ``type`` is inferred from ``default`` when not given (int, float, str, bool, Path).
    ``parse`` turns a command-line string into a value for types the CLI cannot express
    (e.g. ``"55,95"`` → ``(55.0, 95.0)``); such options are strings on the command line.
    ``min``/``max`` bound a number (every element of a parsed tuple); floats must be finite.
    ``nargs`` > 1 takes that many values (``--between A B``). ``input``: the value is a path
    the step reads — protected from ``-o ... --overwrite`` and recorded in the manifest.
    """

    name: str
    default: Any
    help: str = ""
    type: type | None = None
    choices: tuple[Any, ...] | None = None
    parse: Callable[[str], Any] | None = None
    min: float | None = None
    max: float | None = None
    nargs: int = 1
    input: bool = False

    @property
    def py_type(self) -> type:
        if self.parse is not None:
            return str
        if self.type is not None:
            return self.type
        if self.default is None:
            return str
        return type(self.default)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, value: Any, owner: str = "") -> Any:
        """Check and convert a CLI or config value; UsageError if it does not fit."""
        where = f"{owner}: " if owner else ""
        if value is None:
            return None
        if self.nargs > 1:
            return self._convert_many(value, where)
        try:
            if self.parse is not None and isinstance(value, str):
                value = self.parse(value)
            elif self.py_type is bool and isinstance(value, str):
                value = _BOOL_WORDS[value.strip().lower()]
            elif self.py_type in (int, float, str, Path) and not isinstance(value, self.py_type):
                if self.py_type is int and isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                value = self.py_type(value)
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{where}{self.flag}: {value!r} is not a valid {self.py_type.__name__} ({exc})"
            ) from None
        if self.choices is not None and value not in self.choices:
            raise UsageError(
                f"{where}{self.flag}: {value!r} is not one of {', '.join(map(str, self.choices))}"
            )
        self.check_bounds(value, where)
        return value

    def _convert_many(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            value = [value]
        values = tuple(value)
        if values == tuple(self.default or ()):
            return values
        if len(values) != self.nargs:
            raise UsageError(f"{where}{self.flag}: takes {self.nargs} values, got {len(values)}")
        single = replace(self, nargs=1, default=None)
        return tuple(single.convert(v, where.rstrip(": ")) for v in values)

    def check_bounds(self, value: Any, where: str = "") -> None:
        """UsageError when a number (or an element of a tuple) is NaN, infinite or out of
        ``[min, max]``; says what the option accepts."""
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if isinstance(v, float) and not math.isfinite(v):
                raise UsageError(f"{where}{self.flag}: {v!r} is not a finite number")
            if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
                raise UsageError(f"{where}{self.flag}: {v!r} is not in {self.bounds_text()}")

    def bounds_text(self) -> str:
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "inf" if self.max is None else f"{self.max:g}"
        return f"[{lo}, {hi}]"


@dataclass(frozen=True)
class Component:
    """A named thing a plugin provides: a segmenter, a sketcher, a metric, a model, ..."""

    name: str
    description: str
    target: str | Callable[..., Any]
    params: tuple[Param, ...] = ()
    info: Any = None  # the family's info class (celltool.contracts); a dict is converted
    # Filled in by the registry:
    family: str = ""
    plugin: str = ""

    def load(self) -> Any:
        """Import and return the target (``"package.module:attr"``)."""
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attr = self.target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
        return obj

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def resolve(
        self, given: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Defaults, then ``config`` (e.g. a TOML file), then ``given`` (the command line).

        Unknown names are a UsageError that names the component and lists its options.
        """
        values = {p.name: p.default for p in self.params}
        for source in (config or {}, given or {}):
            for key, value in source.items():
                key = key.replace("-", "_")
                param = self.param(key)
                if param is None:
                    known = ", ".join(p.flag for p in self.params) or "none"
                    what = self.family[:-1] or "component"
                    raise UsageError(
                        f"--{key.replace('_', '-')} is not an option of {what} "
                        f"'{self.name}' (its options: {known})"
                    )
                if value is not None:
                    values[key] = param.convert(value, owner=f"{self.name}")
        return values


def parse_floats(text: str) -> tuple[float, ...]:
    """``"55,95"`` → ``(55.0, 95.0)``; a helper for list-valued parameters."""
    return tuple(float(part) for part in text.split(",") if part.strip())


def parse_ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())
