"""tune's choice (tune/choose.py), case by case: the front's ties, the tiers of "worse than the input" at the
boundary of "most videos", the spread of a gain, ties broken for the base, and the sentence that says why."""

import math

import numpy as np
import pytest

from evs_cli.tune.choose import Point, _mostly_worse, _tier, axes_of, choose, front, mean_relative, objective

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
