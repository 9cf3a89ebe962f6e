"""celltool.plots: every plot's figure (titles, labelled axes), PNG and the exact CSV beside it."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import numpy as np
import pytest

from celltool import plots
from celltool.imageio import read_image


def read_csv(path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def check_figure(plot: plots.Plot) -> None:
    """A title and x/y labels on every axes of the figure."""
    fig = plot.figure
    assert fig.get_suptitle().strip()
    axes = [ax for ax in fig.get_axes() if ax.get_visible()]
    assert axes
    for ax in axes:
        assert ax.get_xlabel().strip(), "unlabelled x axis"
        assert ax.get_ylabel().strip(), "unlabelled y axis"


def check_png(path) -> np.ndarray:
    image = read_image(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    assert image.std() > 10  # something is drawn
    return image


def test_importing_plots_does_not_import_matplotlib(tmp_path):
    code = (
        "import sys, celltool.plots as p\n"
        "assert 'matplotlib' not in sys.modules, 'imported at module level'\n"
        f"p.metric_distribution([1.0, 2.0], metric='mae').write({str(tmp_path / 'x')!r})\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "x.png").is_file() and (tmp_path / "x.csv").is_file()


def test_metric_distribution_writes_png_and_the_exact_values(tmp_path):
    values = [30.125, 28.0, float("inf"), 31.0000001, 0.1 + 0.2]
    plot = plots.metric_distribution(
        values, metric="psnr", names=list("abcde"), higher_is_better=True
    )
    check_figure(plot)
    box, hist = plot.figure.get_axes()
    assert box.get_ylabel() == "psnr (dB)" and box.get_xlabel() == "4 pairs"
    assert list(box.get_xticks()) == []
    assert hist.get_xlabel() == "pairs per bin (count)"
    title = plot.figure.get_suptitle()
    assert "n = 4," in title and "1 non-finite" in title and "↑" in title
    png = plot.write(tmp_path / "plots" / "psnr.png")
    assert png == tmp_path / "plots" / "psnr.png"
    check_png(png)
    rows = read_csv(tmp_path / "plots" / "psnr.csv")
    assert rows[0] == ["pair", "psnr"]
    assert [r[0] for r in rows[1:]] == list("abcde")
    back = [float(r[1]) for r in rows[1:]]
    assert back[2] == math.inf
    assert [b for i, b in enumerate(back) if i != 2] == [v for i, v in enumerate(values) if i != 2]


def test_metric_distribution_of_no_finite_values_still_draws():
    plot = plots.metric_distribution([float("nan")], metric="mystery")
    check_figure(plot)
    assert "no finite values" in plot.figure.get_suptitle()
    assert plot.figure.get_axes()[0].get_ylabel() == "mystery"  # unknown unit: no guess


def test_units_and_labels():
    assert plots.label("ssim") == "ssim (dimensionless)"
    assert plots.label("flow_magnitude_generated") == "flow_magnitude_generated (px/frame)"
    assert plots.label("wasserstein_depth.fg_upper") == "wasserstein_depth.fg_upper (dimensionless)"
    assert plots.label("x", "µm") == "x (µm)"


LOGS = [
    {"epoch": 1, "step": 1, "losses": {"G": 4.0, "D": 0.5}, "lr": 2e-4, "time": 0.1},
    {"epoch": 1, "step": 2, "losses": {"G": 2.0, "D": 0.7}, "lr": 2e-4, "time": 0.2},
    {"epoch": 2, "step": 3, "losses": {"G": 1.0, "D": float("nan")}, "lr": 2e-4, "time": 0.3},
    {"epoch": 2, "step": 4, "losses": {"G": 0.5}, "lr": 2e-4, "time": 0.4},
    {"epoch": 3, "step": 5, "losses": {"G": 0.25, "D": 0.1}, "lr": 1e-4, "time": 0.5},
]


def test_epoch_means_by_hand():
    epochs, counts, means = plots.epoch_means(LOGS)
    assert epochs == [1, 2, 3] and counts == [2, 2, 1]
    assert means["G"] == [3.0, 0.75, 0.25]
    assert means["D"][0] == pytest.approx(0.6) and math.isnan(means["D"][1])
    assert means["D"][2] == 0.1


def test_loss_curves_log_scale_csv_and_labels(tmp_path):
    plot = plots.loss_curves(LOGS)
    check_figure(plot)
    (ax,) = plot.figure.get_axes()
    assert ax.get_yscale() == "log"  # G spans 3.0 .. 0.1: more than a factor 10
    assert ax.get_xlabel() == "epoch"
    assert [line.get_label() for line in ax.get_lines()] == ["G", "D"]
    assert "n = 1–2 logged steps per epoch" in plot.figure.get_suptitle()
    check_png(plot.write(tmp_path / "loss"))
    rows = read_csv(tmp_path / "loss.csv")
    assert rows[0] == ["epoch", "n_steps", "G", "D"]
    assert rows[1] == ["1", "2", "3.0", repr(0.6)]
    assert rows[2][:3] == ["2", "2", "0.75"] and rows[2][3] == "nan"
    # a narrow range keeps a linear axis
    narrow = [{**r, "losses": {"G": 1.0 + r["step"] / 10}} for r in LOGS]
    assert plots.loss_curves(narrow).figure.get_axes()[0].get_yscale() == "linear"


def test_sequence_curves_pair_real_and_generated(tmp_path):
    curves = {
        "flow_cosine": [0.5, 0.25, 0.125],
        "flow_magnitude_real": [1.0, 2.0, 3.0],
        "flow_magnitude_generated": [1.5, 2.5, 3.5],
    }
    plot = plots.sequence_curves(curves, n_sequences=2)
    check_figure(plot)
    axes = plot.figure.get_axes()
    assert len(axes) == 2  # flow_magnitude real + generated share a panel
    assert axes[1].get_ylabel() == "flow_magnitude (px/frame)"
    assert [ln.get_linestyle() for ln in axes[1].get_lines()] == ["-", "--"]
    assert "n = 2 sequence pairs per step" in plot.figure.get_suptitle()
    check_png(plot.write(tmp_path / "seq.png"))
    rows = read_csv(tmp_path / "seq.csv")
    assert rows[0] == ["t", *curves]
    assert [[float(x) for x in r] for r in rows[1:]] == [
        [t, *(v[t] for v in curves.values())] for t in range(3)
    ]


def test_depth_curves_per_slice_and_per_third(tmp_path):
    z = list(range(9))
    series = {"naive": [1 - 0.1 * i for i in z], "translated": [1 - 0.05 * i for i in z]}
    plot = plots.depth_curves(z, series, score="wasserstein_depth", n=4)
    check_figure(plot)
    ax = plot.figure.get_axes()[0]
    assert ax.get_xlabel().startswith("z slice")
    assert sorted(t.get_text() for t in ax.texts) == ["lower", "middle", "upper"]
    assert "n = 4 per point" in plot.figure.get_suptitle()
    check_png(plot.write(tmp_path / "depth"))
    rows = read_csv(tmp_path / "depth.csv")
    assert rows[0] == ["depth", "naive", "translated", "n"]
    assert float(rows[4][1]) == series["naive"][3] and rows[4][3] == "4"
    per_third = plots.depth_curves(
        ["upper", "middle", "lower"], {"fg": [0.9, 0.8, 0.5]}, score="x", n=[3, 3, 2]
    )
    check_figure(per_third)
    ax = per_third.figure.get_axes()[0]
    assert ax.get_xlabel() == "depth third"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["upper", "middle", "lower"]
    with pytest.raises(ValueError, match="one value per depth"):
        plots.depth_curves([0, 1], {"a": [1.0]}, score="x")


def test_thirds_match_the_volume_metrics():
    from celltool_metrics.volume import thirds

    for n in range(1, 40):
        assert plots.thirds(n) == [(s.start, s.stop) for s in thirds(n)]


def test_bootstrap_ci_is_seeded_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small, large = rng.normal(0.5, 0.1, 10), rng.normal(0.5, 0.1, 1000)
    a = plots.bootstrap_ci(small, np.random.default_rng(1))
    assert a == plots.bootstrap_ci(small, np.random.default_rng(1))
    mean, lo, hi = a
    assert mean == pytest.approx(small.mean()) and lo < mean < hi
    _, lo2, hi2 = plots.bootstrap_ci(large, np.random.default_rng(1))
    assert hi2 - lo2 < (hi - lo) / 4  # ~1/sqrt(100)
    # the 95 % interval of the mean of N(0.5, 0.1²) samples: ±1.96·0.1/√1000 = ±0.0062
    assert hi2 - lo2 == pytest.approx(2 * 1.96 * 0.1 / np.sqrt(1000), rel=0.25)
    assert all(math.isnan(x) for x in plots.bootstrap_ci([math.nan], rng))
    with pytest.raises(ValueError, match="n_boot"):
        plots.bootstrap_ci(small, rng, n_boot=10**7)


def test_ranking_orders_best_first_with_error_bars(tmp_path):
    entries = [
        plots.Rank("watershed", 0.6, 0.55, 0.65, 20),
        plots.Rank("cellpose", 0.8, 0.75, 0.85, 20),
        plots.Rank("otsu", 0.5, 0.4, 0.6, 8),
    ]
    plot = plots.ranking(entries, score="seg")
    check_figure(plot)
    ax = plot.figure.get_axes()[0]
    labels = ax.get_yticklabels()
    ticks = {round(y): t.get_text() for y, t in zip(ax.get_yticks(), labels, strict=True)}
    assert [ticks[y] for y in (2, 1, 0)] == ["cellpose", "watershed", "otsu"]  # best on top
    assert {t.get_text() for t in ax.texts} == {"n = 20", "n = 8"}
    check_png(plot.write(tmp_path / "rank"))
    rows = read_csv(tmp_path / "rank.csv")
    assert rows[0] == ["rank", "segmenter", "seg", "ci_low", "ci_high", "n"]
    assert rows[1] == ["1", "cellpose", "0.8", "0.75", "0.85", "20"]
    lower = plots.ranking(entries, score="mae", higher_is_better=False)
    assert lower.rows[0][1] == "otsu"


def test_too_many_points_are_refused():
    with pytest.raises(ValueError, match="at most"):
        plots.metric_distribution(np.zeros(plots.MAX_POINTS + 1), metric="x")
