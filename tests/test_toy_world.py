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


def test_t2i_alone_images_best_but_flickers_more_than_the_input(table):
    # MARGINS-T2I
    t2i, inp = table["t2i"], table["input"]
    assert t2i["sharpness"] == max(r["sharpness"] for r in table.values())
    assert t2i["warp_error"] > inp["warp_error"]


def test_t2v_alone_is_most_consistent_and_softer(table):
    # MARGINS-T2V
    t2v = table["t2v"]
    assert t2v["warp_error"] == min(r["warp_error"] for r in table.values())
    assert t2v["sharpness"] < table["t2i"]["sharpness"]


def test_evs_improves_both_and_keeps_most_of_each_gain(table):
    # MARGINS-EVS
    evs_, inp, t2i, t2v = table["evs"], table["input"], table["t2i"], table["t2v"]
    assert evs_["warp_error"] < inp["warp_error"] and evs_["sharpness"] > inp["sharpness"]
    consistency_gain = (inp["warp_error"] - evs_["warp_error"]) / (inp["warp_error"] - t2v["warp_error"])
    imaging_gain = (evs_["sharpness"] - inp["sharpness"]) / (t2i["sharpness"] - inp["sharpness"])
    assert consistency_gain > 0.5 and imaging_gain > 0.5
