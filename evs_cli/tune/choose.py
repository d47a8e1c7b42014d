"""The choice: each setting as a point (consistency, imaging), the Pareto front, and the rule that picks one.

1. Every measure becomes an error that lower makes better, and is taken relative to the video's input as the
   log of their ratio (`relative`): warp error and flicker as they are, PSNR as its MSE, SSIM, motion
   smoothness and subject consistency as 1 - score, DOVER as 100 - score, the aesthetic score as 10 - score,
   the sharpness gap and the detail lost (log ratios themselves) as exp(gap). So -0.1 is 10% less error than the input on any
   measure, and a clip with twice the flicker does not count twice.
2. An axis is the mean of its measures' relative errors over measures and sampled videos; each axis is then
   normalised over the grid and the input: 1 for the best and 0 for the worst of the settings and the input
   (an axis on which all agree: 1 each). With the input as an end of the scale, two
   settings that both improve on the input alike stay close (0.0187 and 0.0190 against an input's 0.05 are
   0.98 and 1, not 0 and 1), and a grid of two settings does not tie by construction.
3. Objective: the distance to the ideal (1, 1), sqrt(w_c (1 - c)^2 + w_i (1 - i)^2), with weights (w_c, w_i)
   (an axis past 1, possible on other videos, counts as 1)
   by --prefer: consistency (0.75, 0.25), balanced (0.5, 0.5), imaging (0.25, 0.75). The nearest setting
   lies on the front (a dominated one is further away on both axes).
4. Safety. "Worse than the input" means worse on one of measures.AGAINST_INPUT for most (over half) of the
   sampled videos. If some settings are worse than the input on no measure, the choice is among them; else
   among the settings worse only where the base is too (there that measure cannot tell them apart). A base
   among the candidates stays unless a setting beats it clearly: the objective on each video alone, minus
   the base's, must have a mean below 0 by more than its standard error over the videos (a few videos can
   favour a setting by chance; the base was chosen for a reason). The nearest candidate left is chosen.
The same ranges score any setting on other videos (`objective` of `mean_relative`), so a choice can be checked
on held-out clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .measures import AGAINST_INPUT, MEASURES

WEIGHTS = {"consistency": (0.75, 0.25), "balanced": (0.5, 0.5), "imaging": (0.25, 0.75)}


@dataclass
class Point:
    label: str
    means: dict[str, float]  # measure -> mean over the sampled videos (what the table shows)
    relative: dict[str, float] = field(default_factory=dict)  # axis -> mean relative error (what is normalised)
    consistency: float = 0.0  # normalised axis, 1 best on the grid
    imaging: float = 0.0
    objective: float = 0.0  # distance to the ideal; lower is better
    on_front: bool = False
    worse_than_input: dict[str, int] = field(default_factory=dict)  # measure -> videos it is worse on
    is_base: bool = False
    per_video: list[float] = field(default_factory=list)  # the objective on each sampled video alone
    gain: float = 0.0  # mean over videos of (objective - the base's); below 0 is better than the base
    gain_se: float = 0.0  # its standard error over the videos


@dataclass
class Choice:
    points: list[Point]
    chosen: Point
    base: Point
    measures: list[str]
    ranges: dict[str, tuple[float, float]]  # axis -> (lowest, highest) mean relative error over the grid and input
    prefer: str
    videos: int
    why: str  # one sentence: how the choice was made


# Each measure as an error (lower is better, positive), so that one log ratio compares any two videos' values.
ERROR = {
    "warp_error": lambda x: x, "flicker": lambda x: x,
    "psnr": lambda x: 10 ** (-x / 10), "sharpness_gap": math.exp, "detail_loss": math.exp,
    "ssim": lambda x: 1 - x, "motion_smoothness": lambda x: 1 - x, "subject_consistency": lambda x: 1 - x,
    "dover": lambda x: 100 - x, "aesthetic": lambda x: 10 - x,
}
AXES = ("consistency", "imaging")


def relative(scores: dict, input_scores: dict, measures) -> dict[str, float]:
    """One video's measures against its input's: log(error / input's error); below 0 is better than the input."""
    return {m: math.log(max(ERROR[m](scores[m]), 1e-9) / max(ERROR[m](input_scores[m]), 1e-9)) for m in measures}


def mean_relative(rows: dict[str, dict], inputs: dict[str, dict], measures) -> dict[str, float]:
    """Per axis, the mean of `relative` over its measures and the videos: rows[video], inputs[video] are scores."""
    per = [relative(rows[v], inputs[v], measures) for v in inputs]
    return {a: float(np.mean([r[m] for r in per for m in measures if MEASURES[m] == a] or [0.0])) for a in AXES}


def ranges_of(axes: list[dict]) -> dict[str, tuple[float, float]]:
    """Per axis (lowest, highest) relative error over the settings and the input (whose relative error is 0)."""
    return {a: (min(0.0, *(d[a] for d in axes)), max(0.0, *(d[a] for d in axes))) for a in AXES}


def axes_of(relative_axes: dict, ranges: dict) -> tuple[float, float]:
    """(consistency, imaging) of one setting's `mean_relative`, each normalised by the grid's range (1 best)."""
    return tuple(1.0 if hi == lo else (hi - relative_axes[a]) / (hi - lo) for a, (lo, hi) in
                 ((a, ranges[a]) for a in AXES))


def objective(relative_axes: dict, ranges: dict, prefer: str = "balanced") -> float:
    """The rule's distance to the ideal for one setting's `mean_relative` (on any videos), on the tune's ranges."""
    c, i = axes_of(relative_axes, ranges)
    wc, wi = WEIGHTS[prefer]
    # Beyond the grid's best (another video, or one video alone) is the ideal, not a step away from it.
    return math.sqrt(wc * max(0.0, 1 - c) ** 2 + wi * max(0.0, 1 - i) ** 2)


def front(points: list[Point]) -> list[Point]:
    """The points no other point beats on one axis without losing on the other."""
    def dominated(p):
        return any(q.consistency >= p.consistency and q.imaging >= p.imaging and
                   (q.consistency > p.consistency or q.imaging > p.imaging) for q in points)

    return [p for p in points if not dominated(p)]


def choose(per_video: dict[str, dict[str, dict]], inputs: dict[str, dict], base: str, prefer: str,
           measures: list[str]) -> Choice:
    """`per_video[label][video]`: that setting's measures on that video; `inputs[video]`: the input's."""
    if prefer not in WEIGHTS:
        raise ValueError(f"prefer must be one of {', '.join(WEIGHTS)}, got {prefer!r}")
    videos = sorted(inputs)
    points = []
    for label, rows in per_video.items():
        means = {m: float(np.mean([rows[v][m] for v in videos])) for m in measures}
        worse = {}
        for m in measures:
            if m in AGAINST_INPUT:
                n = sum(relative(rows[v], inputs[v], [m])[m] > 0 for v in videos)
                if n:
                    worse[m] = n
        rel = mean_relative({v: rows[v] for v in videos}, {v: inputs[v] for v in videos}, measures)
        points.append(Point(label, means, rel, worse_than_input=worse, is_base=label == base))
    ranges = ranges_of([p.relative for p in points])
    for p in points:
        p.consistency, p.imaging = axes_of(p.relative, ranges)
        p.objective = objective(p.relative, ranges, prefer)
    for p in front(points):
        p.on_front = True
    base_point = next(p for p in points if p.is_base)
    for p in points:  # the objective video by video, on the same ranges: how sure is a gain over the base?
        p.per_video = [objective(mean_relative({v: per_video[p.label][v]}, {v: inputs[v]}, measures), ranges, prefer)
                       for v in videos]
    for p in points:
        d = np.array(p.per_video) - np.array(base_point.per_video)
        p.gain, p.gain_se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    n = len(videos)
    tier = {p.label: _tier(p, base_point, n) for p in points}
    safest = min(tier.values())  # 0 where some setting is worse than the input on no measure
    candidates = [p for p in points if tier[p.label] == safest]
    if base_point in candidates:  # the base stays unless a setting beats it clearly
        candidates = [p for p in candidates if p.is_base or p.gain + p.gain_se < 0]
    best = min(points, key=lambda p: (p.objective, not p.is_base))
    chosen = min(candidates, key=lambda p: (p.objective, not p.is_base))
    why = f"nearest the ideal with --prefer {prefer}"
    if chosen is not best:
        worse = _mostly_worse(best, None, n) if safest == 0 else _mostly_worse(best, base_point, n)
        if tier[best.label] > safest:
            why = (f"{best.label} was nearer the ideal but worse than the input on {', '.join(worse)} for most "
                   "videos, where " + ("other settings are not" if safest == 0 else "the base is not"))
        else:
            why = (f"{best.label} was nearer the ideal but did not beat the base by more than its spread over the "
                   f"videos (objective change {best.gain:+.3f} ± {best.gain_se:.3f})")
        why += f"; {chosen.label} is the nearest that is " + ("not" if not chosen.is_base else "left")
    elif safest > 0:
        why += (f"; every setting is worse than the input on {', '.join(_mostly_worse(chosen, None, n))} for most "
                "videos")
    return Choice(points, chosen, base_point, measures, ranges, prefer, len(videos), why)


def _mostly_worse(p: Point, base: Point | None, videos: int) -> list[str]:
    """The measures on which `p` is worse than the input on most videos (and, given a base, the base is not)."""
    return [m for m, n in p.worse_than_input.items()
            if n * 2 > videos and (base is None or base.worse_than_input.get(m, 0) * 2 <= videos)]


def _tier(p: Point, base: Point, videos: int) -> int:
    """0: worse than the input on no measure for most videos; 1: only where the base is too; 2: otherwise."""
    if not _mostly_worse(p, None, videos):
        return 0
    return 1 if not _mostly_worse(p, base, videos) else 2
