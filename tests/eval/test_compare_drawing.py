"""What `evs compare` draws: labels that tell files apart and are never cut inside a word, every curve of
the error plot (also a one-value one), x-axis ticks, and side-by-side labels inside their own panel."""

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from evs_cli.eval.compare import (
    PALETTE,
    _font,
    _ticks,
    distinct_labels,
    error_plot,
    fit_lines,
    side_by_side,
)

DRAW = ImageDraw.Draw(Image.new("RGB", (1, 1)))


@pytest.mark.parametrize("paths,labels", [
    (["x/in.mp4", "y/out.mp4"], ["in", "out"]),
    (["runs/a/clip.mp4", "runs/b/clip.mp4"], ["a/clip", "b/clip"]),
    (["p/a/x/clip.mp4", "q/b/x/clip.mp4", "other.mp4"], ["a/x/clip", "b/x/clip", "other"]),
    (["same.mp4", "same.mp4"], ["same (1)", "same (2)"]),
])
def test_default_labels_tell_files_of_the_same_name_apart(paths, labels):
    assert distinct_labels([Path(p) for p in paths]) == labels


@pytest.mark.parametrize("text", [
    "EVS T2I+[T2V]+T2I refined with the vc2 preset",
    "vbench/subject_consistency/a-person-riding-a-bike-0",
    "short",
])
def test_labels_wrap_between_words_within_the_width(text):
    font = _font(14)
    lines = fit_lines(DRAW, text, font, 148, 10)
    assert all(DRAW.textlength(line, font=font) <= 148 for line in lines)
    words = set(re.split(r"[\s/_.-]+", text))
    for line in lines:  # every word on a line is a whole word of the label
        assert set(w for w in re.split(r"[\s/_.-]+", line) if w) <= words
    assert re.sub(r"[\s]", "", "".join(lines)) == re.sub(r"[\s]", "", text)  # nothing lost


def test_a_label_too_long_for_its_lines_ends_after_a_whole_word():
    font = _font(14)
    lines = fit_lines(DRAW, "one two three four five six seven eight nine ten", font, 100, 2)
    assert len(lines) == 2 and lines[1].endswith("\u2026")
    assert set(lines[1][:-1].split()) <= {"four", "five", "six", "seven", "eight"}


@pytest.mark.parametrize("n,ticks", [(1, [0]), (8, list(range(8))), (15, [0, 2, 4, 6, 8, 10, 12, 14]),
                                     (17, [0, 5, 10, 15]), (127, [0, 20, 40, 60, 80, 100, 120])])
def test_ticks_take_a_round_step(n, ticks):
    assert _ticks(n) == ticks


def _has_colour(img: np.ndarray, colour, tolerance=30) -> int:
    return int((np.abs(img.astype(int) - np.array(colour)).sum(axis=2) < tolerance).sum())


def test_every_curve_is_drawn_also_a_one_value_one_and_the_legend_fits():
    rng = np.random.default_rng(0)
    series = {"one value": [0.05]}
    series |= {f"video {k} with a label longer than the legend": list(rng.random(15) * 0.1) for k in range(12)}
    img = np.asarray(error_plot(series))
    plot_area = img[30:img.shape[0] - 46, 60:img.shape[1] - 190]
    for k in range(10):  # the palette's ten colours: each one's curve (and dots) inside the axes
        assert _has_colour(plot_area, PALETTE[k]) > 5, f"curve {k} missing"
    assert img.shape[0] > 360  # grown to hold thirteen two-line legend entries
    # ticks: short dark lines under the x axis at the first and last frame pair
    axis_y = img.shape[0] - 46
    below = img[axis_y + 1:axis_y + 4]
    for x in (60, img.shape[1] - 190):
        assert below[:, x - 1:x + 2].min() < 100


def test_side_by_side_labels_stay_inside_their_panel(tmp_path):
    videos = [np.full((4, 64, 64, 3), 40, np.uint8), np.full((4, 64, 96, 3), 40, np.uint8)]
    labels = ["EVS T2I+[T2V]+T2I refined output", "input"]
    from fractions import Fraction

    from evs_cli.io.video import read_video

    side_by_side(videos, labels, tmp_path / "s.mp4", Fraction(8))
    frame = read_video(tmp_path / "s.mp4").frames.numpy()[0]
    bright = frame[..., 0] > 150  # the white label text
    first, second = bright[:, :64], bright[:, 64:]
    assert first[:, :60].any() and not first[:, 62:].any()  # the long label wraps before its panel's edge
    assert second.any()
