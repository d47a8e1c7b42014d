"""The toy world: the shipped models load through the real code path, `evs demo` runs offline, and the
paper's pattern holds on held-out clips (seeds the training never used)."""

import numpy as np
import pytest
import torch

from evs_cli.engine.models import load_models
from evs_cli.engine.preset import load_preset
from evs_cli.io.video import read_video
from evs_cli.toy.bench import COMPOSITIONS, held_out_clips, run
from helpers import evs

HELD_OUT = range(200, 206)  # the preset was tuned on seeds 100-103; training uses seeds >= 10000
# The shipped models and preset were made for the flicker family (global gain flicker and jitter); the
# retraining for shimmer (issue 15) has not landed, so these measurements stay on flicker.
FAMILY = "flicker"


@pytest.fixture(scope="module")
def toy():
    preset = load_preset("toy")
    return preset, load_models(preset.t2i_model, preset.t2v_model, "cpu", torch.float32)


@pytest.fixture(scope="module")
def table(toy):
    preset, models = toy
    rows, _ = run(models, preset, held_out_clips(HELD_OUT, FAMILY), COMPOSITIONS)
    return rows


def test_demo_runs_offline_and_writes_results(tmp_path):
    r = evs("demo", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("t2i.mp4", "t2v.mp4", "evs.mp4", "compare.png", "warping_error.png"):
        assert (tmp_path / name).is_file()
    assert read_video(tmp_path / "evs.mp4").frames.shape == (16, 64, 64, 3)
    assert "EVS" in r.stdout and "PSNR" in r.stdout


# Measured on these clips with the shipped weights (scripts/bench_quality.py --clips 6 --first-seed 200):
#   method      warp err  flicker  sharpness  PSNR
#   Input        0.0296   0.0270    205.2    16.97
#   T2I          0.0422   0.0200    544.9    16.17
#   T2V          0.0276   0.0201    131.8    17.50
#   T2I+T2V      0.0316   0.0189    328.6    17.22
#   T2V+T2I      0.0386   0.0192    456.3    16.82
#   EVS          0.0330   0.0191    406.5    16.94
# Not reproduced: EVS's warping error stays above the input's (+11%): the toy motion adapter removes
# only 7% of the input's warping error on its own, too little to also absorb the T2I's per-frame detail.
# That is not asserted here; see the issue note.


def test_t2i_alone_images_best_but_is_less_consistent_than_the_input(table):
    t2i, inp = table["t2i"], table["input"]
    assert t2i["sharpness"] == max(r["sharpness"] for r in table.values())
    assert t2i["sharpness"] > 2.0 * inp["sharpness"]  # measured 2.66x
    assert t2i["warp_error"] > 1.2 * inp["warp_error"]  # measured 1.43x


def test_t2v_alone_is_most_consistent_and_softest(table):
    t2v = table["t2v"]
    assert t2v["warp_error"] == min(r["warp_error"] for r in table.values())
    assert t2v["warp_error"] < 0.97 * table["input"]["warp_error"]  # measured 0.93x
    assert t2v["sharpness"] == min(r["sharpness"] for r in table.values())
    assert t2v["sharpness"] < 0.5 * table["t2i"]["sharpness"]


def test_evs_keeps_most_of_the_t2i_imaging_gain_at_a_much_smaller_consistency_cost(table):
    evs_, inp, t2i, seq = table["evs"], table["input"], table["t2i"], table["t2v-t2i"]
    imaging_gain = (evs_["sharpness"] - inp["sharpness"]) / (t2i["sharpness"] - inp["sharpness"])
    assert imaging_gain > 0.5  # measured 0.59
    consistency_cost = (evs_["warp_error"] - inp["warp_error"]) / (t2i["warp_error"] - inp["warp_error"])
    assert consistency_cost < 0.45  # measured 0.27: EVS pays a quarter of what T2I alone pays
    assert evs_["warp_error"] < seq["warp_error"]  # and less than running T2V, then T2I
    assert evs_["flicker"] < 0.8 * inp["flicker"]  # the input's per-frame brightness flicker is mostly gone


def test_reference_rows_and_object_fidelity(toy):
    """The clean clip scores perfect fidelity; the VAE round trip alone is a row of its own (no model gets
    its credit); PSNR on the object reads only the object's pixels."""
    from evs_cli.eval.metrics import PSNR_CAP
    from evs_cli.toy.bench import REFERENCES, psnr_inside
    from evs_cli.toy.data import COLORS, object_mask, render, spec_for

    preset, models = toy
    rows, outputs = run(models, preset, held_out_clips([5000], FAMILY), REFERENCES)
    assert rows["clean"]["psnr"] == rows["clean"]["psnr_object"] == PSNR_CAP and rows["clean"]["ssim"] == 1.0
    assert rows["vae"]["psnr"] < PSNR_CAP and rows["vae"]["sharpness_clean"] == rows["clean"]["sharpness"]
    assert outputs["vae"].shape == outputs["clean"].shape
    spec = spec_for(5000)
    clip, mask = render(spec), object_mask(spec)
    assert mask.shape == clip.shape[:3] and 0.02 < mask.mean() < 0.3
    inside = clip[mask].astype(float).mean(axis=0)  # the object's colour, shaded by its texture (0.5..1)
    assert np.allclose(inside / np.array(COLORS[spec.color]), 0.75, atol=0.1)
    damaged = clip.copy()
    damaged[~mask] = 0  # only the background changes: the object's PSNR does not move
    assert psnr_inside(damaged, clip, mask) == PSNR_CAP
