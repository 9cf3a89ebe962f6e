"""Every option of every step, fed random and boundary values (negative, zero, NaN, inf, huge,
empty, wrong type, a very long string): the result is success, or exit 2 with one line that
names the option; never exit 1 for a bad option, never a traceback, never a long wait.

The calls run in-process (``celltool.cli.run``) on 32² data; one subprocess sample checks the
same through a real process. The default run tries three values per option (the same three on
every run); ``-m slow`` tries all of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import cli
from fuzz_cases import VALUES, cases, check, options_of, sample_values, tiny_data, tiny_runs

# Values that are valid and mean "the model's default" (200 epochs): not a bound to check.
LONG_BUT_VALID = {("--epochs", "0")}
MAX_SECONDS = 10.0  # per call, on a loaded 2-core machine (typical: 0.05-1 s)
CASES = ("simulate", "segment", "sketch", "split", "evaluate", "report", "benchmark",
         "train pix2pix", "train dual", "generate pix2pix", "generate dual")  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[dict, Path]:
    tmp = tmp_path_factory.mktemp("fuzz")
    data = tiny_data(tmp)
    runs = tiny_runs(tmp, data)
    return cases(data, runs), tmp


def fuzz(name: str, world: tuple[dict, Path], per_option: int | None) -> None:
    found, tmp = world
    case = found[name]
    problems, slowest = [], (0.0, "")
    flags = [f for f in options_of(case) if f not in case.skip]
    assert flags, name
    for flag in flags:
        values = VALUES if per_option is None else sample_values(flag, per_option)
        for value in values:
            if (flag, value) in LONG_BUT_VALID:
                continue
            problem, outcome = check(case, flag, value, tmp)
            if outcome.seconds > slowest[0]:
                slowest = (outcome.seconds, f"{flag} {value[:20]!r}")
            if outcome.seconds > MAX_SECONDS:
                problem = f"took {outcome.seconds:.1f} s"
            if problem:
                problems.append(f"{name} {flag} {value[:20]!r}: {problem}")
    assert problems == [], "\n".join(problems)
    print(f"{name}: {len(flags)} options, slowest call {slowest[0]:.2f} s ({slowest[1]})")


@pytest.mark.parametrize("name", CASES)
def test_fuzz_options(name, world):
    fuzz(name, world, per_option=3)


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_fuzz_options_exhaustive(name, world):
    fuzz(name, world, per_option=None)


def test_a_bad_option_in_a_real_process(tmp_path):
    """The same contract through a real process (no in-process capture)."""
    res = cli(
        "simulate", "-n", "1", "--size", "32", "--read-noise", "nan", "-o", str(tmp_path / "s")
    )
    assert res.returncode == 2
    assert res.stderr == "celltool: error: cells2d: --read-noise: nan is not a finite number\n"
    assert res.stdout == "" and list(tmp_path.iterdir()) == []


def test_the_cases_cover_every_step_option():
    """The fuzz reaches the options of every built-in step command (a new option is fuzzed
    without editing this file)."""
    from celltool.cli import COMMANDS

    fuzzed = {c.split()[0] for c in CASES}
    assert fuzzed == set(COMMANDS) - {"demo", "plugins"}
