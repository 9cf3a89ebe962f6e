"""pix2pix trains with fused Adam by default (measured 1.2-1.5x faster fp32 training on CPU,
docs/training.md "Speed on AVX2 CPUs"): the default picks it, ``--no-fused-adam`` turns it off,
the choice is recorded in the run, a resumed run keeps it, and the losses match torch's default
Adam on a tiny model."""

from __future__ import annotations

import json

import pytest
from test_train import TINY_CONFIG, _train, _weights, incli, pairs  # noqa: F401  (fixture)
from test_train_fast import assert_trains_alike, tiny

torch = pytest.importorskip("torch")


def test_the_default_picks_fused_adam_and_the_option_turns_it_off():
    from celltool import plugins
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "pix2pix")
    assert resolve_config(component, dict(TINY_CONFIG))["fused_adam"] is True
    off = resolve_config(component, {**TINY_CONFIG, "fused_adam": False})
    assert off["fused_adam"] is False
    fused, plain = tiny(), tiny(fused_adam=False)
    for name in ("G", "D"):
        assert fused.optimizers[name].defaults["fused"] is True
        assert not plain.optimizers[name].defaults["fused"]
    assert "--no-fused-adam" in incli("train", "pix2pix", "--help").stdout


def test_fused_adam_trains_like_torchs_default_adam():
    assert_trains_alike(tiny(fused_adam=False), tiny(), steps=5, rel=1e-4, weights_atol=1e-5)


def test_resume_keeps_the_recorded_optimizer(pairs, tmp_path):  # noqa: F811
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    _train(pairs, tmp_path / "plain", fused_adam=False)
    _train(pairs, tmp_path / "cut", stop=5, fused_adam=False)
    component = plugins.get("trainers", "pix2pix")  # resumed with the default (fused) options
    config = resolve_config(component, {**TINY_CONFIG, "epochs": 3, "seed": 3})
    assert config["fused_adam"] is True
    train(component, None, tmp_path / "cut", config, resume=True)
    recorded = json.loads((tmp_path / "cut" / "config.json").read_text())["config"]
    assert recorded["fused_adam"] is False
    state = torch.load(tmp_path / "cut/checkpoints/latest.pt", weights_only=False)
    assert all(not g["fused"] for o in state["optimizers"].values() for g in o["param_groups"])
    plain, cut = _weights(tmp_path / "plain"), _weights(tmp_path / "cut")
    for key in plain:
        assert torch.equal(plain[key], cut[key]), key  # resume kept torch's default Adam


def test_a_default_run_records_and_saves_fused_adam(pairs, tmp_path):  # noqa: F811
    _train(pairs, tmp_path / "run", stop=2)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert recorded["fused_adam"] is True
    state = torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=False)
    assert all(g["fused"] for o in state["optimizers"].values() for g in o["param_groups"])
