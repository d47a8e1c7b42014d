"""The toy world: the shipped models load through the real code path, `evs demo` runs offline, and the
paper's pattern holds on held-out clips (seeds the training never used)."""

import pytest
import torch

from evs_cli.models import load_models
from evs_cli.preset import load_preset
from evs_cli.toy.bench import COMPOSITIONS, held_out_clips, run
from evs_cli.video import read_video
from helpers import evs

HELD_OUT = range(100, 106)


@pytest.fixture(scope="module")
def toy():
    preset = load_preset("toy")
    return preset, load_models(preset.t2i_model, preset.t2v_model, "cpu", torch.float32)


@pytest.fixture(scope="module")
def table(toy):
    preset, models = toy
    rows, _ = run(models, preset, held_out_clips(HELD_OUT), COMPOSITIONS)
    return rows


def test_demo_runs_offline_and_writes_results(tmp_path):
    r = evs("demo", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("t2i.mp4", "t2v.mp4", "evs.mp4", "compare.png", "warping_error.png"):
        assert (tmp_path / name).is_file()
    assert read_video(tmp_path / "evs.mp4").frames.shape == (16, 64, 64, 3)
    assert "EVS" in r.stdout and "PSNR" in r.stdout


# Measured on these clips with the shipped weights (scripts/bench_quality.py --clips 6 --first-seed 100):
#   method      warp err  flicker  sharpness  PSNR
#   Input        0.0296   0.0281     65.2    14.99
#   T2I          0.0317   0.0154    104.2    14.43
#   T2V          0.0275   0.0170     68.4    14.52
#   T2I+T2V      0.0297   0.0186     79.6    14.33
#   T2V+T2I      0.0324   0.0174     87.6    14.18
#   EVS          0.0327   0.0189     98.2    14.15
# Not reproduced: EVS's warping error stays above the input's (the toy motion adapter's consistency
# gain is too small for the T2I tail not to undo it); that is not asserted here. See the issue note.


def test_t2i_alone_images_best_but_is_less_consistent_than_the_input(table):
    t2i, inp = table["t2i"], table["input"]
    assert t2i["sharpness"] == max(r["sharpness"] for r in table.values())
    assert t2i["sharpness"] > 1.3 * inp["sharpness"]
    assert t2i["warp_error"] > 1.03 * inp["warp_error"]


def test_t2v_alone_is_most_consistent_and_softer_than_t2i(table):
    t2v = table["t2v"]
    assert t2v["warp_error"] == min(r["warp_error"] for r in table.values())
    assert t2v["warp_error"] < 0.97 * table["input"]["warp_error"]
    assert t2v["sharpness"] < 0.8 * table["t2i"]["sharpness"]


def test_evs_keeps_most_of_the_t2i_imaging_gain_and_removes_flicker(table):
    evs_, inp, t2i = table["evs"], table["input"], table["t2i"]
    imaging_gain = (evs_["sharpness"] - inp["sharpness"]) / (t2i["sharpness"] - inp["sharpness"])
    assert imaging_gain > 0.6  # measured 0.85
    assert evs_["flicker"] < 0.8 * inp["flicker"]  # the input's per-frame brightness flicker is mostly gone
