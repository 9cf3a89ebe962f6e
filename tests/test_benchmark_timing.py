"""benchmarks/timing.py: the interleaved timing every speed benchmark uses (no timings asserted:
only the calls made, the medians taken and the ratios computed)."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "timing.py"


@pytest.fixture(scope="module")
def timing():
    spec = importlib.util.spec_from_file_location("bench_timing", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_interleave_calls_every_variant_per_round(timing):
    order: list[str] = []
    runs = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    table = timing.interleave(runs, iters=2, rounds=3, warmup=True)
    assert order == ["a", "b"] + ["a", "a", "b", "b"] * 3  # warm-up, then A/B per round
    assert len(table["_loadavg_per_round"]) == 3
    for name in runs:
        row = table[name]
        assert len(row["wall_runs"]) == 3
        assert row["s_per_it"] == statistics.median(row["wall_runs"])
        assert row["per_s"] == pytest.approx(1 / row["s_per_it"])


def test_ratios_against_the_base(timing):
    table = {
        "fp32": {"s_per_it": 2.0, "cpu_s_per_it": 4.0},
        "fast": {"s_per_it": 0.5, "cpu_s_per_it": 1.0},
        "_loadavg_per_round": [1.0],
    }
    timing.ratios(table, "fp32")
    assert table["fast"]["speedup_wall"] == 4.0 and table["fast"]["speedup_cpu"] == 4.0
    assert table["fp32"]["speedup_wall"] == 1.0
    assert "speedup_wall" not in table["_loadavg_per_round"]


def test_medians_of_single_calls(timing):
    calls = []
    median, walls, cpu = timing.medians(lambda: calls.append(1), 5)
    assert len(calls) == 5 and len(walls) == 5
    assert median == statistics.median(walls) and cpu >= 0
