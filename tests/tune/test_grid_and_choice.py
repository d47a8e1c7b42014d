"""The tune's pure parts: the settings a grid gives, the sample, the records file, and the rule that chooses."""

import hashlib
import json
import math

import numpy as np
import pytest

from evs_cli.engine.preset import load_preset
from evs_cli.errors import EvsError
from evs_cli.tune.choose import axes_of, choose, front, mean_relative, objective, relative
from evs_cli.tune.grid import default_axes, parse_grid, settings_of, split_values
from evs_cli.tune.records import Records
from evs_cli.tune.sample import sample


# -- grid ---------------------------------------------------------------------------------------------
def test_values_split_at_commas_outside_brackets():
    assert split_values("1, 2,[up.1,mid],{a: 1, b: 2}") == ["1", "2", "[up.1,mid]", "{a: 1, b: 2}"]


@pytest.mark.parametrize("text,message", [
    ("tV", "expects KEY=V1,V2"), ("tV=", "expects KEY=V1,V2"), ("tV=1,,2", "an empty value"),
    ("models.t2i=a,b", "shares its models"), ("runtime.resize=1,2", "shares its models"),
    ("t2i.loras=[a.safetensors]", "shares its models"), ("stages=x", "shares its models")])
def test_a_grid_it_cannot_tune_is_one_line_naming_it(text, message):
    with pytest.raises(EvsError, match=message):
        parse_grid([text])


def test_a_key_gridded_twice_is_refused_whichever_way_it_is_spelt():
    with pytest.raises(EvsError, match="given twice"):
        parse_grid(["tV=1,2", "schedule.tV=3"])


def test_the_grid_is_the_product_without_invalid_or_repeated_schedules():
    base = load_preset("toy")  # tI 6, tT2V 2, tV 1, nV 1
    settings, notes = settings_of(base, parse_grid(["tV=1,2", "nV=1,2", "composition=evs,t2v"]))
    labels = [s.label for s in settings]
    # evs: (1,1) is the base itself, (1,2) is invalid, (2,1), (2,2); t2v: nV does not matter -> tV 1 and 2 once each
    assert labels == ["base", "tV=1 composition=t2v", "tV=2 nV=1 composition=evs", "tV=2 composition=t2v",
                      "tV=2 nV=2 composition=evs"]
    assert any("1 combination left out: nV must be" in n for n in notes)
    assert any("3 combinations gave a schedule already in the grid" in n for n in notes)  # base, t2v twice
    assert settings[0].is_base and settings[4].preset.data["schedule"]["nV"] == 2


def test_a_grid_of_nothing_new_is_an_error():
    with pytest.raises(EvsError, match="no setting other than the base"):
        settings_of(load_preset("toy"), parse_grid(["tV=1"]))


@pytest.mark.parametrize("grid,named,why", [
    (["tV=1,2,99"], "tV=99", "tV must be an integer in 1..8, got 99"),
    (["tV=2,abc"], "tV=abc", "got 'abc'"),
    (["t2v.family=v2,v9"], "t2v.family=v9", "got 'v9'"),
    (["tV=1,2", "nV=1,9"], "nV=9", "nV must be an integer in 1..2, got 9")])  # said for the widest tV
def test_a_value_no_combination_can_use_is_an_error_naming_it(grid, named, why):
    with pytest.raises(EvsError) as e:
        settings_of(load_preset("toy"), parse_grid(grid))
    assert str(e.value).startswith(f"--grid {named}: no combination can use this value (") and why in str(e.value)


def test_a_value_only_some_combinations_reject_is_left_out_with_the_presets_own_message():
    settings, notes = settings_of(load_preset("toy"), parse_grid(["tV=1,2", "nV=1,2"]))
    assert [s.label for s in settings] == ["base", "tV=2 nV=1", "tV=2 nV=2"]
    assert notes[0] == "1 combination left out: nV must be an integer in 1..1, got 2"


def test_the_default_grid_is_one_step_around_the_base_block():
    assert default_axes(load_preset("vc2")) == [("tT2V", ["4", "8", "12"]), ("tV", ["2", "3", "4"]),
                                                ("nV", ["1", "2", "3"])]  # vc2: tI 20, tT2V 8, tV 3, nV 2
    toy = dict(default_axes(load_preset("toy")))  # tI 6, tT2V 2, tV 1, nV 1: clipped at the grid's ends
    assert toy == {"tT2V": ["1", "2", "3"], "tV": ["1", "2"], "nV": ["1", "2"]}


# -- sample -------------------------------------------------------------------------------------------
def test_the_sample_is_spread_over_subfolders_and_independent_of_listing_order(tmp_path):
    from pathlib import Path

    found = [(tmp_path / d / f"{i}.mp4", Path(d) / f"{i}.mp4") for d in ("a", "b", "c") for i in range(10)]
    picked = sample(found, 6, seed=1)
    assert sorted(p.parts[0] for _, p in picked) == ["a", "a", "b", "b", "c", "c"]
    assert sample(list(reversed(found)), 6, seed=1) == picked
    assert sample(found, 6, seed=2) != picked
    assert len(sample(found, 100)) == 30


# -- records ------------------------------------------------------------------------------------------
def test_a_cut_last_record_is_dropped_and_the_next_append_starts_a_line(tmp_path):
    path = tmp_path / "tune.jsonl"
    path.write_text(json.dumps({"pair": "a", "scores": {}}) + "\n" + '{"pair": "b", "sco')
    warned = []
    r = Records(path, warned.append)
    assert "a" in r and "b" not in r and "cut off" in warned[0]
    r.append({"pair": "c", "scores": {}})
    assert [json.loads(x)["pair"] for x in path.read_text().splitlines()] == ["a", "c"]


def test_a_broken_line_inside_the_records_is_an_error_naming_it(tmp_path):
    path = tmp_path / "tune.jsonl"
    path.write_text('not json\n{"pair": "a"}\n')
    with pytest.raises(EvsError, match="line 1 is not a JSON record"):
        Records(path)


@pytest.mark.parametrize("line,problem", [
    ('{"pair": "b", "scores": null}', "its scores are null, not a table of measures"),
    ('{"pair": "b"}', "its scores are null, not a table of measures"),
    ('{"pair": "b", "scores": {"psnr": "high"}}', 'its score psnr is "high", not a number'),
    ('{"pair": "b", "scores": {"psnr": true}}', "its score psnr is true, not a number"),
    ('{"pair": 7, "scores": {}}', "its pair is not a string"),
    ('["b", {}]', "a JSON list, not an object")])
def test_a_record_of_another_shape_is_refused_naming_its_line_and_what_is_wrong(tmp_path, line, problem):
    path = tmp_path / "tune.jsonl"
    path.write_text('{"pair": "a", "scores": {"psnr": 30.5, "flicker": 1}}\n' + line + "\n")
    with pytest.raises(EvsError) as e:
        Records(path)
    assert str(e.value) == f"{path}: line 2 is not a record evs wrote ({problem}); move the file away to start afresh"
    assert path.read_text().endswith(line + "\n")  # refused, not rewritten


# -- the rule -----------------------------------------------------------------------------------------
MEASURES = ["warp_error", "psnr"]


def _per_video(table):
    """{label: (warp, psnr)} the same on two videos."""
    return {k: {v: {"warp_error": w, "psnr": p} for v in ("v1", "v2")} for k, (w, p) in table.items()}


INPUTS = {v: {"warp_error": 0.05, "psnr": 20.0} for v in ("v1", "v2")}


def test_each_axis_is_normalised_over_the_grid_and_the_input_and_the_nearest_to_the_ideal_wins():
    per = _per_video({"base": (0.030, 22.0), "a": (0.020, 21.0), "b": (0.025, 23.0), "c": (0.040, 21.5)})
    c = choose(per, INPUTS, "base", "balanced", MEASURES)
    pts = {p.label: p for p in c.points}
    # every setting beats the input (warp 0.05, 20 dB): 0 is the input's level, 1 the best setting's
    assert (pts["a"].consistency, pts["a"].imaging) == (1.0, pytest.approx(1 / 3))  # PSNR +1 of the best +3 dB
    # warp error counts as a ratio to the input's (0.05): b at 0.025 sits log(0.5)/log(0.4) of the way up
    cb = math.log(0.025 / 0.05) / math.log(0.020 / 0.05)
    assert pts["b"].consistency == pytest.approx(cb) and pts["b"].imaging == 1.0
    assert pts["c"].consistency == pytest.approx(math.log(0.8) / math.log(0.4)) and pts["c"].imaging == pytest.approx(0.5)
    assert pts["b"].objective == pytest.approx(math.sqrt(0.5 * (1 - cb) ** 2))
    assert pts["a"].objective == pytest.approx(math.sqrt(0.5 * (2 / 3) ** 2))
    assert c.chosen.label == "b" and {p.label for p in front(c.points)} == {"a", "b"}
    assert not pts["c"].on_front and pts["a"].on_front
    # consistency weighted 3:1: b (sqrt(0.75 * 0.24^2) = 0.21) is still nearer than a (sqrt(0.25 * 0.67^2) = 0.33)
    assert choose(per, INPUTS, "base", "consistency", MEASURES).chosen.label == "b"
    far = _per_video({"base": (0.030, 22.0), "a": (0.020, 21.9), "b": (0.029, 23.0)})
    assert choose(far, INPUTS, "base", "consistency", MEASURES).chosen.label == "a"
    assert choose(far, INPUTS, "base", "imaging", MEASURES).chosen.label == "b"


def test_two_settings_that_improve_on_the_input_alike_stay_close_and_a_grid_of_two_does_not_tie():
    inputs = {v: {"warp_error": 0.05, "psnr": 20.0} for v in ("v1", "v2")}
    close = _per_video({"base": (0.0190, 21.0), "a": (0.0187, 21.0)})
    pts = {p.label: p for p in choose(close, inputs, "base", "balanced", MEASURES).points}
    assert pts["base"].consistency == pytest.approx(math.log(0.0190 / 0.05) / math.log(0.0187 / 0.05))  # 0.98
    assert pts["base"].consistency > 0.98 and pts["a"].consistency == 1.0
    # each better on one axis: over the grid alone they were (1, 0) and (0, 1), a tie at any --prefer balanced
    two = _per_video({"base": (0.030, 21.0), "a": (0.020, 20.5)})
    c = choose(two, inputs, "base", "balanced", MEASURES)
    pts = {p.label: p for p in c.points}
    assert (pts["a"].consistency, pts["a"].imaging) == (1.0, pytest.approx(0.5))
    assert pts["a"].objective != pytest.approx(pts["base"].objective)
    # with a setting worse than the input on an axis, the worse end is that setting, not the input
    worse = _per_video({"base": (0.030, 21.0), "a": (0.060, 19.0)})
    c = choose(worse, inputs, "base", "balanced", MEASURES)
    assert c.ranges["consistency"] == (pytest.approx(math.log(0.6)), pytest.approx(math.log(1.2)))
    assert {p.label: p.consistency for p in c.points}["a"] == 0.0
    # every setting worse than the input on an axis: the input is that axis's best end, no setting reaches 1
    behind = _per_video({"base": (0.060, 21.0), "a": (0.080, 21.0)})
    c = choose(behind, inputs, "base", "balanced", MEASURES)
    assert c.ranges["consistency"] == (0.0, pytest.approx(math.log(1.6)))
    assert {p.label: p.consistency for p in c.points}["base"] == pytest.approx(1 - math.log(1.2) / math.log(1.6))


def test_a_setting_worse_than_the_input_on_most_videos_is_not_chosen_over_the_base():
    # 'a' is nearest the ideal but loses PSNR to the input (20 dB) on both videos; the base does not
    per = _per_video({"base": (0.030, 21.0), "a": (0.010, 19.95), "b": (0.020, 20.2), "d": (0.011, 19.0)})
    c = choose(per, INPUTS, "base", "balanced", MEASURES)
    best = min(c.points, key=lambda p: p.objective)
    assert best.label == "a" and c.chosen.label != "a"
    assert c.chosen.label == "b" and "worse than the input on psnr" in c.why
    # ... unless the base is worse there too: then that measure cannot tell them apart
    per = _per_video({"base": (0.030, 19.0), "a": (0.010, 19.95), "b": (0.020, 19.5)})
    assert choose(per, INPUTS, "base", "balanced", MEASURES).chosen.label == "a"


def test_every_measure_is_a_log_error_ratio_to_the_input_and_the_objective_uses_the_tunes_ranges():
    ms = ["warp_error", "flicker", "psnr", "ssim", "sharpness_gap"]
    inp = {"warp_error": 0.04, "flicker": 0.02, "psnr": 20.0, "ssim": 0.6, "sharpness_gap": 1.0}
    out = {"warp_error": 0.02, "flicker": 0.02, "psnr": 23.0103, "ssim": 0.8, "sharpness_gap": 0.5}
    rel = relative(out, inp, ms)
    assert rel == pytest.approx({"warp_error": math.log(0.5), "flicker": 0.0, "psnr": math.log(0.5),
                                 "ssim": math.log(0.5), "sharpness_gap": -0.5}, abs=1e-5)
    # a clip twice as flickery as another, halved by the setting, counts the same as the other halved
    twice = relative({**out, "warp_error": 0.04}, {**inp, "warp_error": 0.08}, ["warp_error"])
    assert twice["warp_error"] == pytest.approx(rel["warp_error"])
    axes = mean_relative({"v": out}, {"v": inp}, ms)
    assert axes == pytest.approx({"consistency": math.log(0.5) / 2, "imaging": (2 * math.log(0.5) - 0.5) / 3})
    ranges = {"consistency": (axes["consistency"], 0.0), "imaging": (axes["imaging"], 0.0)}
    assert axes_of(axes, ranges) == (1.0, 1.0) and objective(axes, ranges) == 0.0
    beyond = {"consistency": 2 * axes["consistency"], "imaging": axes["imaging"]}  # better than the grid's best
    assert axes_of(beyond, ranges)[0] == pytest.approx(2.0) and objective(beyond, ranges) == 0.0
    half = {a: v / 2 for a, v in axes.items()}
    assert objective(half, ranges) == pytest.approx(0.5)
    assert objective({"consistency": axes["consistency"], "imaging": 0.0}, ranges, "consistency") == pytest.approx(
        math.sqrt(0.25))


def test_a_setting_that_beats_the_base_by_less_than_its_spread_over_the_videos_leaves_the_base():
    inputs = {v: {"warp_error": 0.05, "psnr": 20.0} for v in ("v1", "v2", "v3")}
    base = {v: {"warp_error": 0.030, "psnr": 22.0} for v in inputs}
    # 'a' is nearer the ideal on the means, but only because of v1; on v2 and v3 it is worse than the base
    a = {"v1": {"warp_error": 0.010, "psnr": 24.0}, "v2": {"warp_error": 0.032, "psnr": 21.8},
         "v3": {"warp_error": 0.033, "psnr": 21.7}}
    worst = {v: {"warp_error": 0.040, "psnr": 21.0} for v in inputs}
    c = choose({"base": base, "a": a, "worst": worst}, inputs, "base", "balanced", MEASURES)
    pts = {p.label: p for p in c.points}
    assert pts["a"].objective < pts["base"].objective and pts["a"].gain < 0 < pts["a"].gain + pts["a"].gain_se
    assert c.chosen.is_base and c.why == (
        f"a was nearer the ideal but did not beat the base by more than its spread over the videos (objective change "
        f"{pts['a'].gain:+.3f} ± {pts['a'].gain_se:.3f}); base is the nearest that is left")
    # the same gain on every video is clear
    steady = {v: {"warp_error": 0.025, "psnr": 22.5} for v in inputs}
    assert choose({"base": base, "a": steady, "worst": worst}, inputs, "base", "balanced", MEASURES).chosen.label == "a"


def test_where_some_setting_is_worse_than_the_input_on_nothing_the_choice_is_among_those():
    """Toy blocky inputs: every EVS setting adds a little flicker, T2I alone at a low tI does not."""
    ms = ["warp_error", "flicker"]
    inputs = {v: {"warp_error": 0.05, "flicker": 0.010} for v in ("v1", "v2")}
    per = {k: {v: {"warp_error": w, "flicker": f} for v in inputs}
           for k, (w, f) in {"base": (0.030, 0.012), "c": (0.015, 0.011), "a": (0.040, 0.009)}.items()}
    c = choose(per, inputs, "base", "balanced", ms)
    assert min(c.points, key=lambda p: p.objective).label == "c"
    assert c.chosen.label == "a" and "worse than the input on flicker for most videos, where other settings are not" \
        in c.why
    # when nothing is better than the input on flicker, the rule says so
    per.pop("a")
    c = choose(per, inputs, "base", "balanced", ms)
    assert c.chosen.label == "c" and "every setting is worse than the input on flicker" in c.why


def test_without_a_reference_sharpening_is_no_fault_and_old_records_are_not_reused():
    from pathlib import Path

    from evs_cli.tune.measures import MEASURES, score
    from evs_cli.tune.records import pair_key

    frames = (np.random.default_rng(0).random((4, 32, 32, 3)) * 255).astype(np.uint8)
    row = score(frames, target_sharpness=1.0, reference=None)
    assert "sharpness_gap" not in row and row["detail_loss"] == 0.0  # far sharper than the target: nothing lost
    assert MEASURES["detail_loss"] == "imaging"
    blurred = score(frames, target_sharpness=1e12, reference=None)
    assert blurred["detail_loss"] > 0
    with_ref = score(frames, target_sharpness=1.0, reference=frames)
    assert "detail_loss" not in with_ref and with_ref["sharpness_gap"] > 0
    # records scored with the old two-sided gap to the input have other keys; with a reference, the same keys
    rel = Path("a/clip.mp4")
    assert pair_key("s", rel, "sha", None, "dis") != pair_key("s", rel, "sha", "None", "dis")
    old = hashlib.sha256(json.dumps(["s", "a/clip.mp4", "sha", None, "dis"]).encode()).hexdigest()[:20]
    assert pair_key("s", rel, "sha", None, "dis") != old
    assert pair_key("s", rel, "sha", "ref", "dis") == hashlib.sha256(
        json.dumps(["s", "a/clip.mp4", "sha", "ref", "dis"]).encode()).hexdigest()[:20]
