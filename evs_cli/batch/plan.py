"""A run, planned once, before any model loads: the preset's stages and grids (on the T2I model's own
scheduler config wherever it is local), the videos and their outputs, and for each video its decision:
refine, skip (and why), or fail (and why). The dry run prints this plan; the local and the Ray run execute it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from ..errors import EvsError
from .options import Request, RunOptions
from .outputs import Job, output_exists, plan_jobs
from .settings import fingerprint, recorded_fingerprint
from .work import closed_record


class Action(str, Enum):
    REFINE = "refine"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""  # why skipped, or the error
    made_with: str | None = None  # the settings fingerprint the existing output records

    def record(self, job: Job, settings: str) -> dict:
        """The log record of a video the plan does not refine."""
        if self.action is Action.SKIP:
            return closed_record(job, "skipped", reason=self.reason)
        return closed_record(job, "failed", settings=settings, output_settings=self.made_with, error=self.reason)


def decide(output: Path, overwrite: bool, resume: str, settings: str) -> Decision:
    """What a run does with a video whose output may exist, judged the same way by the plan and by a worker
    (another run may finish a video meanwhile).

    --overwrite or no output: refine. Otherwise --resume any keeps every output; same keeps outputs made
    with `settings`, and those that record none (an older evs, a png folder), and fails one made with other
    settings, saying how to choose."""
    if overwrite or not output_exists(output):
        return Decision(Action.REFINE)
    if resume == "any":
        return Decision(Action.SKIP, "output exists")
    made_with = recorded_fingerprint(output)
    if made_with == settings:
        return Decision(Action.SKIP, "output exists, made with the same settings", made_with)
    if made_with is None:
        return Decision(Action.SKIP, "output exists (it records no evs settings: an older evs, or a png folder)")
    return Decision(Action.FAIL, f"{output}: exists, made with other settings ({made_with}; this run: {settings}); "
                                 "--overwrite redoes it, --resume any keeps it", made_with)


@dataclass
class Plan:
    request: Request
    options: RunOptions  # the request's, with the --prompts table read
    stages: list  # engine.stages.Stage
    grids: dict  # model -> engine.diffusion.Grid
    settings: str  # fingerprint of what decides the outputs' pixels (settings.py)
    jobs: list[Job]
    decisions: list[Decision]

    @property
    def todo(self) -> list[Job]:
        """The videos that go to a worker, in order."""
        return [j for j, d in zip(self.jobs, self.decisions) if d.action is Action.REFINE]

    def closed(self) -> list[dict]:
        """The records of the videos that the plan skips or fails (no worker sees them)."""
        return [d.record(j, self.settings) for j, d in zip(self.jobs, self.decisions) if d.action is not Action.REFINE]


def make_plan(request: Request, prompts_file: Path | None = None) -> Plan:
    """Every check that needs no model, in the order a user meets them; EvsError names the first problem."""
    from ..engine.pipeline import preset_grids
    from ..engine.sources import local_scheduler_config
    from ..engine.stages import build_stages
    from ..io.inputs import find_inputs
    from ..io.prompts import load_prompt_table

    options = request.options
    preset = options.preset
    grids = preset_grids(preset, local_scheduler_config(preset.t2i_model))
    stages = build_stages(preset.schedule_params())
    jobs = plan_jobs(find_inputs(list(request.inputs)), request.out, options.output.fmt, request.shard or (0, 1))
    if prompts_file is not None:
        options = replace(options, prompts=replace(options.prompts, table=load_prompt_table(prompts_file)))
    if not jobs and request.shard is None:
        raise EvsError(f"no video files found in {named(request.inputs)}")
    settings = fingerprint(options)
    out = options.output
    decisions = [decide(j.output, out.overwrite, out.resume, settings) for j in jobs]
    return Plan(request, options, stages, grids, settings, jobs, decisions)


def named(inputs) -> str:
    inputs = list(inputs)
    return ", ".join(inputs[:3]) + (f" and {len(inputs) - 3} more" if len(inputs) > 3 else "")
