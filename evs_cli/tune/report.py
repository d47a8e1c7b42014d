"""What a tune leaves: the table (stdout), tuned.yaml (the base preset with the choice, and how it was made)
and tradeoff.png (consistency against imaging, the paper's Figure 7 for the user's own videos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

from ..eval.compare import PALETTE, _font
from .choose import Choice
from .measures import MEASURES

SHORT = {"warp_error": "warp", "flicker": "flicker", "psnr": "PSNR", "ssim": "SSIM", "sharpness_gap": "gap",
         "motion_smoothness": "MS", "subject_consistency": "SC", "dover": "DOVER", "aesthetic": "AP"}


def table_rows(choice: Choice, inputs: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the input, then every setting (best objective first), measures as means."""
    head = ["setting", *(SHORT[m] for m in choice.measures), "consist.", "imaging", "objective", ""]
    rows = [["input", *(_num(np.mean([v[m] for v in inputs.values()]), m) for m in choice.measures), "", "", "", ""]]
    for p in sorted(choice.points, key=lambda p: p.objective):
        mark = " ".join(x for x, on in (("chosen", p is choice.chosen), ("base", p.is_base), ("front", p.on_front)) if on)
        rows.append([p.label, *(_num(p.means[m], m) for m in choice.measures), f"{p.consistency:.2f}",
                     f"{p.imaging:.2f}", f"{p.objective:.3f}", mark])
    return head, rows


def _num(v: float, m: str) -> str:
    return f"{v:.2f}" if m in ("psnr", "sharpness_gap", "dover") else f"{v:.4f}"


def tuned_yaml(choice: Choice, base, chosen_preset, videos: list[str], inputs_named: str) -> str:
    """The base preset's values with the chosen setting, headed by comments: the rule, the sample, the scores."""
    p, b = choice.chosen, choice.base
    data = dict(chosen_preset.data)
    data["name"] = f"{base.name}-tuned"
    data["description"] = f"{base.name} tuned by evs tune on {len(videos)} videos of {inputs_named}"
    lines = [f"# Made by `evs tune` from preset {base.source}: setting {p.label!r} of {len(choice.points)} tried.",
             f"# Rule: {choice.why}; objective = distance to the ideal on axes normalised over the grid "
             f"(consistency: {', '.join(_axis(choice, 'consistency'))}; imaging: {', '.join(_axis(choice, 'imaging'))}).",
             f"# Sample: {len(videos)} videos: {', '.join(videos[:8])}{' ...' if len(videos) > 8 else ''}",
             f"# Chosen: {_scores(p, choice)}; objective {p.objective:.3f}",
             f"# Base:   {_scores(b, choice)}; objective {b.objective:.3f}"]
    return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False)


def _axis(choice: Choice, axis: str) -> list[str]:
    return [m for m in choice.measures if MEASURES[m] == axis]


def _scores(p, choice: Choice) -> str:
    return ", ".join(f"{m} {_num(p.means[m], m)}" for m in choice.measures)


def draw_tradeoff(choice: Choice, path: Path, title: str) -> None:
    """One point per setting at (imaging, consistency), both normalised (1 best), the front joined by a line, the
    base and the choice ringed; the front, the base and the choice labelled (every point, on a small grid)."""
    W, H, pad = 900, 680, 70
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font, small = _font(15), _font(11)
    pts = choice.points

    def span(vals):
        lo, hi = min(vals), max(vals)
        return (lo - 0.05, hi + 0.05) if hi > lo else (lo - 0.5, hi + 0.5)

    (x0, x1), (y0, y1) = span([p.imaging for p in pts]), span([p.consistency for p in pts])

    def at(p):
        return (pad + (p.imaging - x0) / (x1 - x0) * (W - 2 * pad), H - pad - (p.consistency - y0) / (y1 - y0) * (H - 2 * pad))

    d.rectangle([pad, pad, W - pad, H - pad], outline=(120, 120, 120))
    d.text((pad, 20), title, fill="black", font=font)
    d.text((W // 2 - 160, H - pad + 30), "imaging (normalised over the grid; right is better)", fill="black", font=small)
    d.text((8, pad - 18), "consistency (up is better)", fill="black", font=small)
    for v in np.linspace(x0, x1, 5):
        x = pad + (v - x0) / (x1 - x0) * (W - 2 * pad)
        d.text((x - 10, H - pad + 6), f"{v:.2f}", fill=(90, 90, 90), font=small)
    for v in np.linspace(y0, y1, 5):
        y = H - pad - (v - y0) / (y1 - y0) * (H - 2 * pad)
        d.text((pad - 36, y - 6), f"{v:.2f}", fill=(90, 90, 90), font=small)
    front = sorted((p for p in pts if p.on_front), key=lambda p: p.imaging)
    if len(front) > 1:
        d.line([at(p) for p in front], fill=PALETTE[0], width=2)
    for p in pts:
        x, y = at(p)
        colour = PALETTE[0] if p.on_front else (150, 150, 150)
        d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        if p.on_front or p.is_base or p is choice.chosen or len(pts) <= 12:  # a label on every point of a big grid
            text = p.label                                                 # would hide them all
            tx = x + 8 if x < W / 2 else x - 8 - d.textlength(text, font=small)
            d.text((tx, y - 14), text, fill=(40, 40, 40), font=small)
    for p, colour, name in ((choice.base, PALETTE[1], "base"), (choice.chosen, PALETTE[3], "chosen")):
        x, y = at(p)
        r = 9 if name == "base" else 13
        d.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=3)
    d.text((pad, 44), f"blue: Pareto front (labelled)   orange ring: base   red ring: chosen ({choice.chosen.label})",
           fill="black", font=small)
    img.save(path, format="PNG")
