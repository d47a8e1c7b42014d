"""What a tune leaves: the table (stdout), tuned.yaml (the base preset with the choice, and how it was made)
and tradeoff.png (consistency against imaging, the paper's Figure 7 for the user's own videos)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

from ..eval.compare import PALETTE, _font, fit_lines
from .choose import Choice
from .measures import MEASURES

SHORT = {"warp_error": "warp", "flicker": "flicker", "psnr": "PSNR", "ssim": "SSIM", "sharpness_gap": "gap", "detail_loss": "detail lost",
         "motion_smoothness": "MS", "subject_consistency": "SC", "dover": "DOVER", "aesthetic": "AP"}


def vs_input(relative_error: float) -> str:
    """A mean relative error (log of error / the input's) as the change of the error in percent: -35%."""
    text = f"{(math.exp(relative_error) - 1) * 100:+.0f}%"
    return "0%" if text in ("+0%", "-0%") else text


def table_rows(choice: Choice, inputs: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the input, then every setting (best objective first): the measures' means as they are,
    each axis as the change of its error against the input and normalised (0-1), and the objective."""
    head = ["setting", *(SHORT[m] for m in choice.measures), "consistency vs input", "imaging vs input",
            "consist. 0-1", "imaging 0-1", "objective", ""]
    rows = [["input", *(_num(np.mean([v[m] for v in inputs.values()]), m) for m in choice.measures),
             "0%", "0%", "", "", "", ""]]
    for p in sorted(choice.points, key=lambda p: p.objective):
        mark = " ".join(x for x, on in (("chosen", p is choice.chosen), ("base", p.is_base), ("front", p.on_front)) if on)
        rows.append([p.label, *(_num(p.means[m], m) for m in choice.measures), vs_input(p.relative["consistency"]),
                     vs_input(p.relative["imaging"]), f"{p.consistency:.2f}", f"{p.imaging:.2f}",
                     f"{p.objective:.3f}", mark])
    return head, rows


TABLE_NOTE = ("vs input: how much less (-) or more (+) error than the input, each axis the mean of its measures; "
              "0-1: from the worst (0) to the best (1) of the settings and the input; objective: distance to the "
              "best on both axes, lower is better.")


def choice_line(choice: Choice) -> str:
    """The choice in plain words: what it does against the input, what the base did, and why it was chosen."""
    p, b = choice.chosen, choice.base

    def effect(q):
        return (f"consistency error {vs_input(q.relative['consistency'])}, imaging error "
                f"{vs_input(q.relative['imaging'])} against the input")

    line = f"chosen: {p.label}: {effect(p)}"
    if p is not b:
        line += f" (the base: {vs_input(b.relative['consistency'])}, {vs_input(b.relative['imaging'])})"
    return line + f"; {choice.why}"


def _num(v: float, m: str) -> str:
    return f"{v:.2f}" if m in ("psnr", "sharpness_gap", "detail_loss", "dover") else f"{v:.4f}"


def tuned_yaml(choice: Choice, base, chosen_preset, videos: list[str], inputs_named: str) -> str:
    """The base preset's values with the chosen setting, headed by comments: the rule, the sample, the scores."""
    p, b = choice.chosen, choice.base
    data = dict(chosen_preset.data)
    data["name"] = f"{base.name}-tuned"
    data["description"] = f"{base.name} tuned by evs tune on {len(videos)} videos of {inputs_named}"
    lines = [f"# Made by `evs tune` from preset {base.source}: setting {p.label!r} of {len(choice.points)} tried.",
             f"# Rule: {choice.why}; objective = distance to the ideal on axes normalised over the grid and the input "
             f"(consistency: {', '.join(_axis(choice, 'consistency'))}; imaging: {', '.join(_axis(choice, 'imaging'))}).",
             f"# Sample: {len(videos)} videos: {', '.join(videos[:8])}{' ...' if len(videos) > 8 else ''}",
             f"# Chosen: {_scores(p, choice)}; objective {p.objective:.3f}",
             f"# Base:   {_scores(b, choice)}; objective {b.objective:.3f}"]
    return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False)


def _axis(choice: Choice, axis: str) -> list[str]:
    return [m for m in choice.measures if MEASURES[m] == axis]


def _scores(p, choice: Choice) -> str:
    return ", ".join(f"{m} {_num(p.means[m], m)}" for m in choice.measures)


def nice_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten apart) inside [lo, hi], at most `most` of them."""
    span = hi - lo
    for exp in range(int(math.floor(math.log10(span))) - 1, int(math.ceil(math.log10(span))) + 1):
        for m in (1, 2, 2.5, 5):
            step = m * 10 ** exp
            ticks = [k * step for k in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)]
            if 2 <= len(ticks) <= most:
                return ticks
    return [lo, hi]


def _percent(v: float) -> str:
    return f"{v:+.{0 if abs(v) >= 10 or float(v).is_integer() else 1}f}%".replace("+0%", "0%")


def draw_tradeoff(choice: Choice, path: Path, title: str) -> None:
    """Every setting and the input at (imaging, consistency), each axis the change of its error against the
    input in percent (right and up: less error), the Pareto front joined, base and choice ringed, labels that
    do not collide, and the choice's reason written on the plot (always: also when the choice is off the front)."""
    W, H, left, right, top, bottom = 900, 680, 80, 30, 120, 60
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font, small = _font(15), _font(12)
    pts = choice.points
    change = {p.label: tuple((math.exp(p.relative[a]) - 1) * 100 for a in ("imaging", "consistency")) for p in pts}
    xs, ys = [0.0, *(v[0] for v in change.values())], [0.0, *(v[1] for v in change.values())]

    def span(vals):
        lo, hi = min(vals), max(vals)
        margin = (hi - lo) * 0.08 or 1.0
        return lo - margin, hi + margin

    (x0, x1), (y0, y1) = span(xs), span(ys)

    def at(x, y):  # less error is better: right and up
        return (left + (x1 - x) / (x1 - x0) * (W - left - right), top + (y - y0) / (y1 - y0) * (H - top - bottom))

    d.rectangle([left, top, W - right, H - bottom], outline=(120, 120, 120))
    for v in nice_ticks(x0, x1):
        x, _ = at(v, y0)
        d.line([x, H - bottom, x, H - bottom + 4], fill=(90, 90, 90))
        d.text((x - d.textlength(_percent(v), font=small) / 2, H - bottom + 6), _percent(v), fill=(90, 90, 90), font=small)
    for v in nice_ticks(y0, y1):
        _, y = at(x0, v)
        d.line([left - 4, y, left, y], fill=(90, 90, 90))
        d.text((left - 8 - d.textlength(_percent(v), font=small), y - 7), _percent(v), fill=(90, 90, 90), font=small)
    d.text((left, 10), title, fill="black", font=font)
    d.text((W // 2 - 200, H - bottom + 26), "imaging: error against the input (right: less error, better)",
           fill="black", font=small)
    d.text((8, top - 18), "consistency: error against the input (up: less error, better)", fill="black", font=small)
    d.text((left, 32), "blue: Pareto front   grey: the others   orange ring: base   red ring: chosen   black: input",
           fill="black", font=small)
    for k, line in enumerate(fit_lines(d, why_on_plot(choice), small, W - left - right, 4)):
        d.text((left, 50 + 15 * k), line, fill=PALETTE[3] if not choice.chosen.on_front else "black", font=small)
    front = sorted((p for p in pts if p.on_front), key=lambda p: change[p.label][0])
    if len(front) > 1:
        d.line([at(*change[p.label]) for p in front], fill=PALETTE[0], width=2)
    ix, iy = at(0.0, 0.0)
    d.rectangle([ix - 4, iy - 4, ix + 4, iy + 4], fill="black")
    for p in pts:
        x, y = at(*change[p.label])
        d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=PALETTE[0] if p.on_front else (150, 150, 150))
    for p, colour, r in ((choice.base, PALETTE[1], 9), (choice.chosen, PALETTE[3], 13)):
        x, y = at(*change[p.label])
        d.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=3)
    _labels(d, [("input", (ix, iy), True)] + [(p.label, at(*change[p.label]), p is choice.chosen or p.is_base)
                                             for p in sorted(pts, key=lambda p: (p is not choice.chosen, not p.is_base,
                                                                                 not p.on_front))],
            small, (left, top, W - right, H - bottom))
    img.save(path, format="PNG")


def why_on_plot(choice: Choice) -> str:
    """The choice and its reason, as the plot says it; a choice another setting beats on both axes says so first."""
    p = choice.chosen
    if p.on_front:
        return f"chosen: {p.label}: {choice.why}"
    better = [q.label for q in choice.points if q.on_front and q.consistency >= p.consistency and q.imaging >= p.imaging]
    return f"chosen although {', '.join(better)} beat{'s' * (len(better) == 1)} it on both axes: {p.label}: {choice.why}"


def _labels(d: ImageDraw.ImageDraw, items: list, font, box: tuple) -> list[tuple]:
    """Each label beside its point where it overlaps no label placed before it (in the order given: the
    chosen, the base, the front, the rest) and stays inside the plot; a label with no free place is left out,
    unless it must be shown (then it takes its first place)."""
    placed: list[tuple[float, float, float, float]] = []
    for text, (x, y), must in items:
        w, h = d.textlength(text, font=font), 13
        spots = [(x + 16, y - 15), (x + 16, y + 3), (x - 16 - w, y - 15), (x - 16 - w, y + 3), (x - w / 2, y - 30),
                 (x - w / 2, y + 16)]
        free = [(sx, sy) for sx, sy in spots if box[0] <= sx and sx + w <= box[2] and box[1] <= sy and sy + h <= box[3]
                and not any(sx < b[2] and b[0] < sx + w and sy < b[3] and b[1] < sy + h for b in placed)]
        if not free and not must:
            continue
        sx, sy = (free or spots)[0]
        placed.append((sx - 2, sy - 1, sx + w + 2, sy + h + 1))
        d.text((sx, sy), text, fill=(30, 30, 30), font=font)
    return placed
