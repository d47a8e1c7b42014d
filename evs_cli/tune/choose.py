"""The choice: each setting as a point (consistency, imaging), the Pareto front, and the rule that picks one.

1. Each measure's mean over the sampled videos is normalised over the grid: 1 for the best setting, 0 for the
   worst (a measure on which all settings agree counts 1 for each). An axis is the mean of its measures.
2. Objective: the distance to the ideal (1, 1), sqrt(w_c (1 - c)^2 + w_i (1 - i)^2), with weights (w_c, w_i)
   by --prefer: consistency (0.75, 0.25), balanced (0.5, 0.5), imaging (0.25, 0.75). The nearest setting
   lies on the front (a dominated one is further away on both axes).
3. Safety: a setting that is worse than the input on one of measures.AGAINST_INPUT on most (over half) of the
   sampled videos is not chosen over the base preset, unless the base is too (then that measure cannot tell
   them apart); the nearest setting that passes is chosen, and the base always passes.
The same ranges score any setting on other videos (`objective`), so a choice can be checked on held-out clips.
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
    means: dict[str, float]  # measure -> mean over the sampled videos
    consistency: float = 0.0  # normalised axis, 1 best on the grid
    imaging: float = 0.0
    objective: float = 0.0  # distance to the ideal; lower is better
    on_front: bool = False
    worse_than_input: dict[str, int] = field(default_factory=dict)  # measure -> videos it is worse on
    is_base: bool = False


@dataclass
class Choice:
    points: list[Point]
    chosen: Point
    base: Point
    measures: list[str]
    ranges: dict[str, tuple[float, float]]  # measure -> (lowest, highest) mean over the grid
    prefer: str
    videos: int
    why: str  # one sentence: how the choice was made


def ranges_of(means: list[dict], measures: list[str]) -> dict[str, tuple[float, float]]:
    return {m: (min(d[m] for d in means), max(d[m] for d in means)) for m in measures}


def axes_of(means: dict, ranges: dict) -> tuple[float, float]:
    """(consistency, imaging) of one setting's means, each measure normalised by the grid's range."""
    per = {"consistency": [], "imaging": []}
    for m, (lo, hi) in ranges.items():
        axis, higher = MEASURES[m]
        g = 1.0 if hi == lo else (means[m] - lo) / (hi - lo)
        per[axis].append(g if higher else 1.0 - g if hi != lo else 1.0)
    return tuple(float(np.mean(per[a])) if per[a] else 1.0 for a in ("consistency", "imaging"))


def objective(means: dict, ranges: dict, prefer: str = "balanced") -> float:
    """The rule's distance to the ideal for `means` (one setting, on any videos), on the tune's own ranges."""
    c, i = axes_of(means, ranges)
    wc, wi = WEIGHTS[prefer]
    return math.sqrt(wc * (1 - c) ** 2 + wi * (1 - i) ** 2)


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
                higher = MEASURES[m][1]
                n = sum((rows[v][m] < inputs[v][m]) if higher else (rows[v][m] > inputs[v][m]) for v in videos)
                if n:
                    worse[m] = n
        points.append(Point(label, means, worse_than_input=worse, is_base=label == base))
    ranges = ranges_of([p.means for p in points], measures)
    for p in points:
        p.consistency, p.imaging = axes_of(p.means, ranges)
        p.objective = objective(p.means, ranges, prefer)
    for p in front(points):
        p.on_front = True
    base_point = next(p for p in points if p.is_base)
    unsafe = {p.label: _mostly_worse(p, base_point, len(videos)) for p in points}
    best = min(points, key=lambda p: (p.objective, not p.is_base))
    chosen = min((p for p in points if not unsafe[p.label]), key=lambda p: (p.objective, not p.is_base))
    why = f"nearest the ideal with --prefer {prefer}"
    if chosen is not best:
        why = (f"{best.label} was nearer the ideal but worse than the input on {', '.join(unsafe[best.label])} for "
               f"most videos, where the base is not; {chosen.label} is the nearest that is not")
    return Choice(points, chosen, base_point, measures, ranges, prefer, len(videos), why)


def _mostly_worse(p: Point, base: Point, videos: int) -> list[str]:
    """The measures on which `p` is worse than the input on most videos and the base is not."""
    return [m for m, n in p.worse_than_input.items() if n * 2 > videos and base.worse_than_input.get(m, 0) * 2 <= videos]
