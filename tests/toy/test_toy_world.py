"""The toy world: the shipped models load through the real code path, `evs demo` runs offline, and the
paper's claim holds on held-out clips (seeds that neither the training nor the preset's tuning used).

Targets from issue 15 that the shipped models do not reach are strict xfails that name the measured
numbers: if a retraining reaches one, the xfail fails and the bound moves into a plain assert."""

import numpy as np
import pytest
import torch

from evs_cli.engine.loaders.models import load_models
from evs_cli.engine.preset import load_preset, parse_override
from evs_cli.io.video import read_video
from evs_cli.toy.bench import Clip, held_out_clips, run
from helpers import evs

HELD_OUT = range(200, 212)  # the preset was tuned on seeds 100-103; training uses seeds >= 10000
FAMILY = "shimmer"  # what the preset was tuned on; docs/toy.md reports two families it was not tuned on


@pytest.fixture(scope="module")
def toy():
    preset = load_preset("toy")
    return preset, load_models(preset.t2i_model, preset.t2v_model, "cpu", torch.float32)


@pytest.fixture(scope="module")
def table(toy):
    preset, models = toy
    rows, _ = run(models, preset, held_out_clips(HELD_OUT, FAMILY), ("input", "vae", "t2i", "t2v", "evs"))
    return rows


def test_demo_runs_offline_and_writes_results(tmp_path):
    r = evs("demo", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("t2i.mp4", "t2v.mp4", "evs.mp4", "compare.png", "warping_error.png"):
        assert (tmp_path / name).is_file()
    assert read_video(tmp_path / "evs.mp4").frames.shape == (16, 64, 64, 3)
    assert "EVS" in r.stdout and "PSNR" in r.stdout
    # the clean clip against itself has no error to measure: – as in docs/toy.md's tables, not the cap's 100.00
    clean = next(line for line in r.stdout.splitlines() if "clean" in line and "│" in line)
    assert clean.count("–") == 2 and "100.00" not in r.stdout


# Measured on these 12 clips with the shipped weights and preset (docs/toy.md has the whole table:
# scripts/bench_quality.py --clips 12 --first-seed 200 --references):
#   method    warp err  flicker  sharp gap  obj PSNR
#   Input      0.0372   0.0118     2.02      20.66
#   VAE        0.0308   0.0092     1.79      20.91
#   T2I        0.0243   0.0089     1.57      21.24
#   T2V        0.0185   0.0088     1.94      21.51
#   EVS        0.0161   0.0083     1.56      21.69
# (sharp gap: |log(sharpness / the clean clip's)| per clip, averaged: closer to clean is better)


def test_evs_beats_the_input_on_consistency(table):
    evs_, inp = table["evs"], table["input"]
    assert evs_["warp_error"] < 0.85 * inp["warp_error"]  # measured 0.43x
    assert evs_["flicker"] < 0.85 * inp["flicker"]  # measured 0.70x


def test_evs_beats_t2i_alone_on_consistency(table):
    assert table["evs"]["warp_error"] < 0.9 * table["t2i"]["warp_error"]  # measured 0.66x


def test_evs_beats_t2v_alone_on_imaging(table):
    # its sharpness is closer to the clean clip's than T2V's (measured gap 1.56 vs 1.94, i.e. 32% closer)
    assert table["evs"]["sharpness_gap"] < table["t2v"]["sharpness_gap"] - 0.15


def test_t2i_keeps_the_object_as_well_as_the_vae_does(table):
    assert table["t2i"]["psnr_object"] > table["vae"]["psnr_object"] - 1.0  # measured 0.33 dB above


def test_t2v_alone_removes_more_inconsistency_than_the_vae_round_trip(table):
    assert table["t2v"]["warp_error"] < 0.9 * table["vae"]["warp_error"]  # measured 0.60x


def test_evs_keeps_the_object_at_least_as_well_as_the_input(table):
    assert table["evs"]["psnr_object"] >= table["input"]["psnr_object"] + 0.5  # measured 1.03 dB above


def test_t2v_alone_removes_clearly_more_inconsistency_than_the_vae_round_trip(table):
    # 'clearly more' read as: the VAE round trip accounts for at most half of what T2V alone removes
    inp, vae, t2v = (table[c]["warp_error"] for c in ("input", "vae", "t2v"))
    assert inp - vae <= 0.5 * (inp - t2v)  # measured 34% (0.0064 of 0.0187; the first adapter: 55%)


@pytest.mark.xfail(strict=True, reason="issue 15 target not met: the toy T2V's own generations (tV = 8) have warp "
                                       "error 0.072 and flicker 0.065 against the clean clips' 0.0076 and 0.0003; "
                                       "its temporal layers barely couple the frames at high noise (docs/toy.md)")
def test_t2v_generations_are_nearly_as_consistent_as_clean_clips(toy):
    preset, models = toy
    generate = preset.with_overrides([parse_override("tV=8"), parse_override("nV=8")])
    rows, _ = run(models, generate, held_out_clips(range(200, 202), FAMILY), ("t2v", "clean"))
    assert rows["t2v"]["warp_error"] < 2 * rows["clean"]["warp_error"]
    assert rows["t2v"]["flicker"] < 2 * rows["clean"]["flicker"]


def _object_colours(models, preset):
    """For held-out clips 200-205: (the colour their prompt names, the named colour nearest in hue to the
    object's mean pixel after T2I) per clip. T2I sees frames one by one, so four frames of each suffice."""
    from evs_cli.toy.bench import engine_for
    from evs_cli.toy.data import COLORS, spec_for

    def hue(rgb):
        c = np.asarray(rgb, float) - np.mean(rgb)
        return c / (np.linalg.norm(c) + 1e-6)

    engine = engine_for(models, preset, "t2i")
    out = []
    for k, clip in enumerate(held_out_clips(range(200, 206), FAMILY)):
        frames, _ = engine.refine(torch.from_numpy(clip.degraded[:4]), clip.prompt, seed=k)
        rgb = frames.numpy()[clip.mask[:4]].mean(axis=0)
        out.append((spec_for(200 + k).color, max(COLORS, key=lambda name: hue(COLORS[name]) @ hue(rgb))))
    return out


def test_t2i_keeps_the_object_colour_at_the_preset_strength(toy):
    preset, models = toy
    pairs = _object_colours(models, preset)
    assert all(named == seen for named, seen in pairs), pairs  # measured 6 of 6


def test_t2i_colour_words_bind_when_generating(toy):
    preset, models = toy
    generate = preset.with_overrides([parse_override("tI=50"), parse_override("t2i.guidance=7.5")])
    pairs = _object_colours(models, generate)
    # measured 5 of 6 (a yellow object comes out red; without guidance 4 of 6; the first toy T2I: 1 of 6)
    assert sum(named == seen for named, seen in pairs) >= 5, pairs


def test_vae_round_trip_of_clean_clips_is_at_least_32_db(toy):
    """The VAE must not be where quality is lost or gained: a clean clip comes back nearly as it was."""
    from evs_cli.toy.data import render, spec_for

    preset, models = toy
    clean = [render(spec_for(s)) for s in range(5000, 5008)]
    rows, _ = run(models, preset, [Clip("", c, c) for c in clean], ("vae",))
    assert rows["vae"]["psnr"] >= 32.0  # measured 33.75 dB (the first toy VAE: 26.2)


def test_reference_rows_and_object_fidelity(toy):
    """The clean clip scores perfect fidelity; the VAE round trip alone is a row of its own (no model gets
    its credit); PSNR on the object reads only the object's pixels."""
    from evs_cli.eval.metrics import PSNR_CAP
    from evs_cli.toy.bench import REFERENCES, psnr_inside
    from evs_cli.toy.data import COLORS, object_mask, render, spec_for

    preset, models = toy
    rows, outputs = run(models, preset, held_out_clips([5000], FAMILY), REFERENCES)
    assert rows["clean"]["psnr"] == rows["clean"]["psnr_object"] == PSNR_CAP and rows["clean"]["ssim"] == 1.0
    assert rows["clean"]["sharpness_gap"] == 0.0
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
