"""tune/report.py: the table's columns, the choice in plain words, round ticks, labels that never collide, and
a choice off the Pareto front that says so on the plot."""

import math

import pytest
from PIL import Image, ImageDraw

from evs_cli.eval.compare import _font
from evs_cli.tune.choose import choose
from evs_cli.tune.report import _labels, choice_line, draw_tradeoff, nice_ticks, table_rows, vs_input, why_on_plot

MS = ["warp_error", "psnr"]
INPUTS = {v: {"warp_error": 0.05, "psnr": 20.0} for v in ("v1", "v2")}


def _same(table):
    return {k: {v: dict(zip(MS, values)) for v in INPUTS} for k, values in table.items()}


def test_changes_against_the_input_read_as_percent():
    assert [vs_input(math.log(r)) for r in (0.54, 1.29, 1.0, 1.004, 0.996)] == ["-46%", "+29%", "0%", "0%", "0%"]


def test_the_table_gives_raw_means_changes_against_the_input_normalised_axes_and_the_objective():
    c = choose(_same({"base": (0.03, 21.0), "a": (0.02, 20.0)}), INPUTS, "base", "balanced", MS)
    head, rows = table_rows(c, INPUTS)
    assert head == ["setting", "warp", "PSNR", "consistency vs input", "imaging vs input", "consist. 0-1",
                    "imaging 0-1", "objective", ""]
    assert rows[0] == ["input", "0.0500", "20.00", "0%", "0%", "", "", "", ""]
    by = {r[0]: r for r in rows[1:]}
    # a: warp 0.02 of 0.05 (-60%), PSNR as the input's; base: -40% and an MSE 10^(-0.1) of the input's (-21%)
    assert by["a"][1:5] == ["0.0200", "20.00", "-60%", "0%"] and by["base"][3:5] == ["-40%", "-21%"]
    assert by["a"][5:7] == ["1.00", "0.00"] and by["base"][6] == "1.00"
    assert [r[0] for r in rows[1:]] == sorted(by, key=lambda k: float(by[k][7]))  # best objective first


def test_the_choice_line_says_what_it_does_against_the_input_and_the_base():
    c = choose(_same({"base": (0.03, 21.0), "a": (0.02, 22.0)}), INPUTS, "base", "balanced", MS)
    assert choice_line(c) == ("chosen: a: consistency error -60%, imaging error -37% against the input (the base: "
                              "-40%, -21%); nearest the ideal with --prefer balanced")
    c = choose(_same({"base": (0.02, 22.0), "a": (0.03, 21.0)}), INPUTS, "base", "balanced", MS)
    assert choice_line(c).startswith("chosen: base: consistency error -60%, imaging error -37% against the input; ")


@pytest.mark.parametrize("lo, hi, ticks", [(-3.1, 52.0, [0, 10, 20, 30, 40, 50]), (-0.5, 0.5, [-0.4, -0.2, 0, 0.2, 0.4]),
                                           (12.0, 13.0, [12.0, 12.2, 12.4, 12.6, 12.8, 13.0])])
def test_ticks_are_round_numbers_inside_the_range(lo, hi, ticks):
    assert nice_ticks(lo, hi) == pytest.approx(ticks)


def test_labels_never_overlap_and_only_those_that_must_be_shown_take_a_crowded_place():
    d = ImageDraw.Draw(Image.new("RGB", (400, 300)))
    items = [(f"tV={k} nV=2", (200.0, 150.0), k == 0) for k in range(10)]  # ten points on one spot
    boxes = _labels(d, items, _font(12), (0, 0, 400, 300))
    assert 1 <= len(boxes) <= 6
    assert not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                   for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_a_choice_off_the_front_says_on_the_plot_which_setting_beats_it_and_why(tmp_path):
    # c beats every setting on consistency but adds flicker against the input, as the base does; a does not
    inputs = {v: {"warp_error": 0.05, "flicker": 0.010} for v in ("v1", "v2")}
    per = {k: {v: {"warp_error": w, "flicker": f} for v in inputs}
           for k, (w, f) in {"base": (0.030, 0.012), "c": (0.015, 0.011), "a": (0.040, 0.009)}.items()}
    c = choose(per, inputs, "base", "balanced", ["warp_error", "flicker"])
    assert c.chosen.label == "a" and not c.chosen.on_front
    assert why_on_plot(c) == f"chosen although c beats it on both axes: a: {c.why}"
    assert "worse than the input on flicker" in c.why
    on_front = choose(_same({"base": (0.03, 21.0), "a": (0.02, 22.0)}), INPUTS, "base", "balanced", MS)
    assert why_on_plot(on_front) == "chosen: a: nearest the ideal with --prefer balanced"
    draw_tradeoff(c, tmp_path / "t.png", "title")
    assert Image.open(tmp_path / "t.png").size == (900, 680)
