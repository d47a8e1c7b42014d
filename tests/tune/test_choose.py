"""tune's choice (tune/choose.py), case by case: the front's ties, the tiers of "worse than the input" at the
boundary of "most videos", the spread of a gain, ties broken for the base, and the sentence that says why."""

import hashlib
import json
import math

import numpy as np
import pytest

from evs_cli.tune.choose import Point, _mostly_worse, _tier, axes_of, choose, front, mean_relative, objective, relative

MS = ["warp_error", "psnr"]
INPUTS = {v: {"warp_error": 0.05, "psnr": 20.0} for v in ("v1", "v2")}


def _same(table, measures=MS, videos=("v1", "v2")):
    """{label: values} the same on every video."""
    return {k: {v: dict(zip(measures, values)) for v in videos} for k, values in table.items()}


def _point(label, consistency, imaging, worse=None):
    return Point(label, {}, consistency=consistency, imaging=imaging, worse_than_input=worse or {})


def test_a_point_is_dominated_only_by_one_as_good_on_both_axes_and_better_on_one():
    a, b, c, d = _point("a", 1.0, 0.3), _point("b", 1.0, 0.5), _point("c", 0.2, 1.0), _point("d", 0.2, 1.0)
    assert front([a, b, c, d]) == [b, c, d]  # a loses to b on imaging alone; c and d tie: neither dominates
    assert front([_point("e", 0.5, 0.3), _point("f", 0.5, 0.3)]) != []
    assert front([_point("g", 0.4, 0.5), _point("h", 0.5, 0.5)])[0].label == "h"


def test_an_axis_without_measures_is_zero_and_an_axis_all_settings_share_is_one():
    rel = mean_relative({"v": {"warp_error": 0.025}}, {"v": {"warp_error": 0.05}}, ["warp_error"])
    assert rel == {"consistency": pytest.approx(math.log(0.5)), "imaging": 0.0}
    assert axes_of(rel, {"consistency": (-1.0, -1.0), "imaging": (0.0, 0.0)}) == (1.0, 1.0)
    assert axes_of({"consistency": -0.5, "imaging": 0.0}, {"consistency": (-1.0, 0.0), "imaging": (0.0, 1.0)}) == (
        0.5, 1.0)


def test_prefer_must_be_one_of_the_three():
    with pytest.raises(ValueError, match=r"^prefer must be one of consistency, balanced, imaging, got 'speed'$"):
        choose(_same({"base": (0.03, 21.0)}), INPUTS, "base", "speed", MS)


def test_a_choice_carries_its_points_means_base_measures_ranges_and_videos():
    c = choose(_same({"base": (0.03, 21.0), "a": (0.02, 20.5)}), INPUTS, "base", "imaging", MS)
    pts = {p.label: p for p in c.points}
    assert pts["a"].means == {"warp_error": 0.02, "psnr": 20.5} and pts["base"].means == {"warp_error": 0.03,
                                                                                           "psnr": 21.0}
    assert c.base is pts["base"] and c.base.is_base and not pts["a"].is_base
    assert (c.measures, c.prefer, c.videos) == (MS, "imaging", 2)
    # the input is an end of each range (both settings beat it on both axes)
    assert c.ranges == {"consistency": (pytest.approx(math.log(0.4)), 0.0),
                        "imaging": (pytest.approx(-0.1 * math.log(10)), 0.0)}


def test_a_measure_equal_to_the_inputs_is_not_worse_than_it():
    c = choose(_same({"base": (0.05, 20.0), "a": (0.06, 19.0)}), INPUTS, "base", "balanced", MS)
    pts = {p.label: p for p in c.points}
    assert pts["base"].worse_than_input == {} and pts["a"].worse_than_input == {"warp_error": 2, "psnr": 2}


def test_the_objective_on_each_video_uses_the_tunes_preference_and_ranges():
    per = {"base": {"v1": {"warp_error": 0.03, "psnr": 21.0}, "v2": {"warp_error": 0.04, "psnr": 22.0}},
           "a": {"v1": {"warp_error": 0.02, "psnr": 20.5}, "v2": {"warp_error": 0.025, "psnr": 20.2}}}
    c = choose(per, INPUTS, "base", "consistency", MS)
    for p in c.points:
        assert p.per_video == [pytest.approx(objective(mean_relative({v: per[p.label][v]}, {v: INPUTS[v]}, MS),
                                                       c.ranges, "consistency")) for v in ("v1", "v2")]


def test_a_gains_spread_is_its_standard_error_over_the_videos_and_none_with_one_video():
    per = {"base": {"v1": {"warp_error": 0.03, "psnr": 21.0}, "v2": {"warp_error": 0.03, "psnr": 21.0}},
           "a": {"v1": {"warp_error": 0.02, "psnr": 21.5}, "v2": {"warp_error": 0.028, "psnr": 21.1}},
           "z": {"v1": {"warp_error": 0.04, "psnr": 20.5}, "v2": {"warp_error": 0.04, "psnr": 20.5}}}
    c = choose(per, INPUTS, "base", "balanced", MS)
    a, base = (next(p for p in c.points if p.label == k) for k in ("a", "base"))
    d = np.array(a.per_video) - np.array(base.per_video)
    assert a.gain == pytest.approx(d.mean()) and a.gain_se == pytest.approx(abs(d[0] - d[1]) / 2) and a.gain_se > 0
    one = choose({k: {"v1": rows["v1"]} for k, rows in per.items()}, {"v1": INPUTS["v1"]}, "base", "balanced", MS)
    assert [p.gain_se for p in one.points] == [0.0, 0.0, 0.0] and one.videos == 1


def test_between_equals_the_base_is_kept_and_nothing_else_is_said():
    c = choose(_same({"twin": (0.03, 21.0), "base": (0.03, 21.0), "worse": (0.04, 20.5)}), INPUTS, "base",
               "balanced", MS)
    assert c.chosen.label == "base" and c.why == "nearest the ideal with --prefer balanced"


def test_the_nearest_setting_is_said_as_such():
    c = choose(_same({"base": (0.03, 21.0), "a": (0.02, 22.0)}), INPUTS, "base", "imaging", MS)
    assert c.chosen.label == "a" and c.why == "nearest the ideal with --prefer imaging"


def test_why_a_nearer_setting_worse_than_the_input_was_passed_over():
    per = _same({"base": (0.030, 21.0), "a": (0.010, 19.95), "b": (0.020, 20.2), "d": (0.011, 19.0)})
    c = choose(per, INPUTS, "base", "balanced", MS)
    assert c.chosen.label == "b" and c.why == (
        "a was nearer the ideal but worse than the input on psnr for most videos, where other settings are not; "
        "b is the nearest that is not")


def test_why_a_nearer_setting_worse_where_the_base_is_not_was_passed_over():
    ms = ["warp_error", "flicker", "psnr"]
    inputs = {v: {"warp_error": 0.05, "flicker": 0.010, "psnr": 20.0} for v in ("v1", "v2")}
    per = _same({"base": (0.030, 0.009, 19.0), "a": (0.040, 0.009, 19.5), "b": (0.010, 0.011, 19.9)}, ms)
    c = choose(per, inputs, "base", "balanced", ms)
    pts = {p.label: p for p in c.points}
    assert pts["b"].worse_than_input == {"flicker": 2, "psnr": 2} and min(c.points, key=lambda p: p.objective) is pts["b"]
    assert c.chosen.label == "a" and c.why == (
        "b was nearer the ideal but worse than the input on flicker for most videos, where the base is not; "
        "a is the nearest that is not")


def test_when_every_setting_is_worse_than_the_input_somewhere_the_sentence_says_where():
    ms = ["warp_error", "flicker"]
    inputs = {v: {"warp_error": 0.05, "flicker": 0.010} for v in ("v1", "v2")}
    c = choose(_same({"base": (0.030, 0.012), "c": (0.015, 0.011)}, ms), inputs, "base", "balanced", ms)
    assert c.chosen.label == "c" and c.why == (
        "nearest the ideal with --prefer balanced; every setting is worse than the input on flicker for most videos")


def test_most_videos_means_over_half_for_the_setting_and_for_the_base():
    p = _point("p", 0, 0, {"flicker": 3, "psnr": 2, "ssim": 4})  # of 4 videos: worse on 3, 2 (half) and 4
    assert _mostly_worse(p, None, 4) == ["flicker", "ssim"]
    base = _point("base", 0, 0, {"flicker": 2, "ssim": 3})
    assert _mostly_worse(p, base, 4) == ["flicker"]  # the base is worse on ssim for most too; on flicker for half
    assert _mostly_worse(p, None, 5) == ["flicker", "ssim"]  # 3 of 5 is most, 2 of 5 is not
    assert _mostly_worse(p, _point("b", 0, 0, {"flicker": 3, "ssim": 2}), 5) == ["ssim"]
    assert _mostly_worse(_point("q", 0, 0, {"psnr": 1}), None, 1) == ["psnr"]


def test_a_settings_tier_is_0_for_never_worse_1_for_worse_only_where_the_base_is_and_2_otherwise():
    base = _point("base", 0, 0, {"psnr": 2})
    assert _tier(_point("a", 0, 0, {"psnr": 1}), base, 2) == 0
    assert _tier(_point("b", 0, 0, {"psnr": 2}), base, 2) == 1
    assert _tier(_point("c", 0, 0, {"psnr": 2, "ssim": 2}), base, 2) == 2


def test_the_sentence_lists_every_measure_a_setting_is_worse_on():
    ms = ["warp_error", "psnr", "ssim"]
    inputs = {v: {"warp_error": 0.05, "psnr": 20.0, "ssim": 0.70} for v in ("v1", "v2")}
    per = _same({"base": (0.030, 21.0, 0.72), "a": (0.005, 19.95, 0.695), "b": (0.028, 20.2, 0.71)}, ms)
    c = choose(per, inputs, "base", "consistency", ms)
    assert c.why.startswith("a was nearer the ideal but worse than the input on psnr, ssim for most videos, ")
    per = _same({"base": (0.030, 19.0, 0.60), "c": (0.015, 19.5, 0.65)}, ms)
    c = choose(per, inputs, "base", "balanced", ms)
    assert c.why.endswith("; every setting is worse than the input on psnr, ssim for most videos")


def test_a_measure_the_base_never_was_worse_on_counts_against_the_setting_on_one_video():
    p = _point("p", 0, 0, {"psnr": 1})
    assert _mostly_worse(p, _point("base", 0, 0, {"ssim": 1}), 1) == ["psnr"]


# -- the rule over whole grids (moved from the tune's combined test module) ------------------------

MEASURES = ["warp_error", "psnr"]


def _per_video(table):
    """{label: (warp, psnr)} the same on two videos."""
    return {k: {v: {"warp_error": w, "psnr": p} for v in ("v1", "v2")} for k, (w, p) in table.items()}




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
