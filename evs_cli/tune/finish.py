"""The end of a tune: the choice made from every scored pair, and what it leaves in --out (tuned.yaml, a preset
for `evs refine`, and tradeoff.png), each written whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..batch.planning.outputs import write_whole
from .choose import Choice, choose
from .measures import used
from .report import draw_tradeoff, tuned_yaml
from .run import PICTURE, TUNED, TunePlan, results


@dataclass
class TuneResult:
    choice: Choice
    inputs: dict  # video -> the input's scores
    measures: list[str]
    tuned: Path
    picture: Path


def choose_and_write(plan: TunePlan) -> TuneResult:
    """Choose by the rule (choose.py) over the scored pairs and write tuned.yaml and tradeoff.png whole.
    OSError: --out cannot take them (nothing partial is left)."""
    req = plan.request
    per, inputs = results(plan)
    measures = used([*inputs.values(), *(r for rows in per.values() for r in rows.values())])
    choice = choose(per, inputs, "base", req.prefer, measures)
    chosen = next(s for s in plan.settings if s.label == choice.chosen.label)
    videos = sorted(inputs)
    text = tuned_yaml(choice, req.run.preset, chosen.preset, videos, ", ".join(req.inputs + req.listed))
    req.out.mkdir(parents=True, exist_ok=True)
    title = f"evs tune: {req.run.preset.name} on {len(videos)} videos, --prefer {req.prefer}"
    write_whole(req.out / TUNED, lambda tmp: tmp.write_text(text))
    write_whole(req.out / PICTURE, lambda tmp: draw_tradeoff(choice, tmp, title))
    return TuneResult(choice, inputs, measures, req.out / TUNED, req.out / PICTURE)
