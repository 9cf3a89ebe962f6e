"""Tiny valid invocations of every step, and the options to fuzz (used by test_fuzz_options).

Each case is a command (``["simulate"]``, ``["train", "pix2pix"]``, ...) with a base argv that
succeeds in about a second on 32² data; the fuzz test replaces one option's value at a time.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

VALUES = ("-1", "0", "nan", "inf", "-inf", "1e308", "99999999999", "", "abc", "1,2,3,4,5",
          "x" * 300)  # fmt: skip
# Options that are not values to fuzz: the output, flags, help.
SKIP = {"--output", "--overwrite", "--help"}


@dataclass
class Case:
    """One command's tiny valid call: ``command + positional + base options``."""

    command: list[str]
    positional: list[str]
    base: dict[str, list[str]] = field(default_factory=dict)
    # plugin options owned by one component: the option → the argv that selects its owner
    owners: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    skip: set[str] = field(default_factory=set)

    def argv(self, flag: str, value: str, out: Path) -> list[str]:
        options = {**self.base, **self.owners.get(flag, {})}
        positional = options.pop("", self.positional)  # an owner that needs other inputs
        options[flag] = [value] * nargs_of(self, flag)
        args = [*self.command, *positional, "-o", str(out)]
        for name, values in options.items():
            args += [name, *values]
        return args


_NARGS: dict[tuple[str, ...], dict[str, int]] = {}


def options_of(case: Case) -> dict[str, int]:
    """Every value option of the case's command (its flag → nargs), from the click command."""
    key = tuple(case.command + case.positional[:1])
    if key not in _NARGS:
        from celltool import plugins
        from celltool.cli import _build

        plugins.reset()
        name = case.command[0]
        command = _build(name, [*case.command, *case.positional])
        if name == "train":
            command = command.commands[case.command[1]]
        found = {}
        for param in command.params:
            flags = [o for o in param.opts if o.startswith("--")]
            if not flags or getattr(param, "is_flag", False) or param.param_type_name != "option":
                continue
            if flags[0] not in SKIP:
                found[flags[0]] = param.nargs
        _NARGS[key] = found
    return _NARGS[key]


def nargs_of(case: Case, flag: str) -> int:
    return options_of(case).get(flag, 1)


def owners(family: str, select: str, extra: dict[str, dict[str, list[str]]] | None = None):
    """Plugin options of ``family`` → the argv selecting a component that owns it."""
    from celltool import plugins

    found: dict[str, dict[str, list[str]]] = {}
    for component in plugins.registry().all(family):
        for param in component.params:
            found.setdefault(param.flag, {select: [component.name], **(extra or {}).get(
                component.name, {})})  # fmt: skip
    return found


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float


def run_cli(argv: list[str]) -> Outcome:
    """``celltool ARGV`` in this process; stdout and stderr captured."""
    from celltool import plugins
    from celltool.cli import run

    plugins.reset()
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    stdin, sys.stdin = sys.stdin, io.StringIO("")  # an empty pipe: no folders on stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run([str(a) for a in argv])
    finally:
        sys.stdin = stdin
    return Outcome(code, out.getvalue(), err.getvalue(), time.perf_counter() - t0)


def verdict(outcome: Outcome, flag: str, aliases: tuple[str, ...] = ()) -> str | None:
    """None when the outcome is acceptable: success, or exit 2 with one line naming the option."""
    if outcome.code == 0:
        return None
    lines = outcome.stderr.strip().splitlines()
    if outcome.code != 2:
        return f"exit {outcome.code}: {outcome.stderr.strip()[:300]}"
    if len(lines) != 1 or not lines[0].startswith("celltool: error: "):
        return f"not one line: {outcome.stderr.strip()[:300]}"
    if not any(name in lines[0] for name in (flag, *aliases)):
        return f"does not name {flag}: {lines[0][:300]}"
    if "Traceback" in outcome.stderr:
        return "traceback"
    return None


# -- tiny data -------------------------------------------------------------------------------
def tiny_data(tmp: Path) -> dict[str, Path]:
    """Every folder the cases read: a simulation, its segmentation, sketch, pairs (single and
    temporal), runs of pix2pix and dual, images to translate."""
    from celltool.executor import ExecutorSpec
    from celltool.imageio import write_image
    from celltool.steps.segmentation import segment
    from celltool.steps.simulation import simulate
    from celltool.steps.sketching import sketch
    from celltool.steps.splitting import split

    serial = ExecutorSpec("serial")
    sim = simulate(tmp / "sim", n=3, size=(32, 32), seed=0, spec=serial,
                   params={"n_cells": 3, "cell_radius": "4,6"})  # fmt: skip
    seg = segment(sim / "images", tmp / "seg", spec=serial)
    sk = sketch(sim, tmp / "sketch", spec=serial)
    pairs = split(sk, tmp / "pairs", method="frames", ratios=(0.34, 0.33, 0.33))
    toy = simulate(tmp / "toy", method="toy-timelapse", n=1, size=(32, 32), seed=0, spec=serial,
                   params={"frames": 6, "n_cells": 3})  # fmt: skip
    temporal = split(toy, tmp / "temporal", method="frames", by="time", pairs="temporal",
                     ratios=(0.6, 0.0, 0.4))  # fmt: skip
    sketches = tmp / "sketches"
    sketches.mkdir()
    for i in range(2):
        write_image(sketches / f"s{i}.png", np.full((32, 32), 255 * i, np.uint8))
    volumes = tmp / "volumes"
    volumes.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(volumes / f"v{i}.tif", (rng.random((8, 32, 32)) * 255).astype(np.uint8))
    return {"sim": sim, "seg": seg, "sketch": sk, "pairs": pairs, "temporal": temporal,
            "toy": toy, "sketches": sketches, "volumes": volumes}  # fmt: skip


def tiny_runs(tmp: Path, data: dict[str, Path]) -> dict[str, Path]:
    """A one-epoch pix2pix run and a one-epoch dual run on the tiny data."""
    runs = {}
    for model, folder, extra in (
        ("pix2pix", data["pairs"], TRAIN_TINY),
        ("dual", data["temporal"], {**TRAIN_TINY, "--rollout": ["1"]}),
    ):
        args = ["train", model, str(folder), "-o", str(tmp / f"run-{model}")]
        for k, v in extra.items():
            args += [k, *v]
        outcome = run_cli(args)
        assert outcome.code == 0, outcome.stderr
        runs[model] = tmp / f"run-{model}"
    return runs


TRAIN_TINY = {
    "--epochs": ["1"], "--netG": ["unet_32"], "--ngf": ["2"], "--ndf": ["2"],
    "--crop-size": ["32"], "--preprocess": ["crop"], "--samples": ["0"], "--threads": ["1"],
    "--save-every": ["0"],
}  # fmt: skip


def cases(data: dict[str, Path], runs: dict[str, Path]) -> dict[str, Case]:
    serial = {"--workers": ["1"]}
    sim = owners("simulators", "--method", {
        "timelapse2d": {"--frames": ["2"], "--n-cells": ["2"], "--size": ["32"]},
        "toy-timelapse": {"--frames": ["2"], "--n-cells": ["2"]},
    })  # fmt: skip
    sim["--n-cells"] = {"--method": ["cells2d"]}
    volumes = [str(data["volumes"])] * 2
    edges = {"": volumes, "--edge-tile": ["16"], "--edge-min-length": ["2"]}
    metrics = owners("metrics", "--metrics", {"edge_depth": edges})
    return {
        "simulate": Case(
            ["simulate"],
            [],
            {"-n": ["1"], "--size": ["32"], "--n-cells": ["2"], "--cell-radius": ["4,6"], **serial},
            sim,
        ),  # fmt: skip
        "segment": Case(
            ["segment"],
            [str(data["sim"])],
            serial,
            owners("segmenters", "--method"),
            skip=not_runnable("segmenters"),
        ),  # fmt: skip
        "sketch": Case(["sketch"], [str(data["sim"])], serial, owners("sketchers", "--method")),
        "split": Case(
            ["split"],
            [str(data["sketch"])],
            {"--crop": ["16"], "--crops": ["1"]},
            owners("splitters", "--method"),
        ),  # fmt: skip
        "evaluate": Case(
            ["evaluate"],
            [str(data["sim"] / "images"), str(data["sim"] / "images")],
            {**serial, "--metrics": ["mae"]},
            metrics,
            skip=not_runnable("metrics"),
        ),  # fmt: skip
        "report": Case(["report"], [str(data["sim"])], {"--samples": ["1"]}),
        "benchmark": Case(
            ["benchmark"], [str(data["sim"])], {**serial, "--bootstrap": ["20"], "-m": ["f1"]}
        ),  # fmt: skip
        "train pix2pix": Case(["train", "pix2pix"], [str(data["pairs"])], TRAIN_TINY),
        "train dual": Case(
            ["train", "dual"], [str(data["temporal"])], {**TRAIN_TINY, "--rollout": ["1"]}
        ),  # fmt: skip
        "generate pix2pix": Case(
            ["generate"], [str(runs["pix2pix"]), str(data["sketches"])], {"--device": ["cpu"]}
        ),  # fmt: skip
        "generate dual": Case(
            ["generate"],
            [str(runs["dual"]), str(data["sketches"])],
            {"--device": ["cpu"], "--steps": ["1"]},
        ),  # fmt: skip
    }


_COUNTER = iter(range(10**9))


def not_runnable(family: str) -> set[str]:
    """Options of components that cannot run here (no cellpose or unet-seg model, no LPIPS
    weights, KID/FID without an Inception weights file): their values are fuzzed through
    ``Param.convert`` by tests/test_bounds.py instead."""
    from celltool import plugins

    missing = set()
    for component in plugins.registry().all(family):
        absent = component.name in ("cellpose", "kid_fid", "unet-seg")  # need a model file
        if absent or (component.name == "lpips" and not _lpips_weights()):
            missing |= {p.flag for p in component.params}
    return missing


def _lpips_weights() -> bool:
    try:
        from celltool_metrics.lpips_metric import find_weights

        find_weights("alex")
        return True
    except Exception:
        return False


def check(case: Case, flag: str, value: str, tmp: Path) -> tuple[str | None, Outcome]:
    out = tmp / f"out-{next(_COUNTER)}"
    outcome = run_cli(case.argv(flag, value, out))
    return verdict(outcome, flag), outcome


def sample_values(flag: str, k: int) -> list[Any]:
    """``k`` of VALUES for this option, the same on every run (a hash of the flag)."""
    import zlib

    rng = np.random.default_rng(zlib.crc32(flag.encode()))
    return [VALUES[i] for i in sorted(rng.choice(len(VALUES), size=k, replace=False))]
