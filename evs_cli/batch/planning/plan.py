"""A run, planned once, before any model loads: the preset's stages and grids (on the T2I model's own
scheduler config wherever it is local), the videos and their outputs, and for each video its decision:
refine, skip (and why), or fail (and why). The dry run prints this plan; the local and the Ray run execute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from ...errors import EvsError
from ..options import OutputPolicy, Prompts, Request, RunOptions
from ..record import VideoRecord, closed_record
from .outputs import Job, output_exists, plan_jobs
from .settings import fingerprint, prompt_key, recorded


class Action(str, Enum):
    REFINE = "refine"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""  # why skipped, or the error
    made_with: str | None = None  # the settings fingerprint the existing output records

    def record(self, job: Job, settings: str) -> VideoRecord:
        """The log record of a video the plan does not refine."""
        if self.action is Action.SKIP:
            return closed_record(job, "skipped", reason=self.reason)
        return closed_record(job, "failed", settings=settings, output_settings=self.made_with, error=self.reason)


def decide(job: Job, out: OutputPolicy, settings: str, prompt: str | None, legacy: str | None = None) -> Decision:
    """What a run does with a video whose output may exist, judged the same way by the plan and by a worker
    (another run may finish a video meanwhile). `prompt`: the one this run would use (None: none found).

    --overwrite or no output: refine. An input changed since its output was made (settings.InputId): refine
    again, whatever --resume says. Otherwise --resume any keeps every output; same keeps outputs made with
    these settings and this prompt, and those that record none (a png folder), and fails one made otherwise,
    saying how to choose."""
    output = job.output
    if out.overwrite or not output_exists(output):
        return Decision(Action.REFINE)
    made = recorded(output)
    if made is not None and made.input is not None and not made.input.matches(job.input):
        return Decision(Action.REFINE, "the input changed since its output was made", made.settings)
    if out.resume == "any":
        return Decision(Action.SKIP, "output exists")
    if made is None:
        return Decision(Action.SKIP, "output exists (it records no evs settings: an older evs, or a png folder)")
    if made.settings != settings and not (made.prompt is None and made.settings == legacy):  # evs 0.1's tag
        return Decision(Action.FAIL, f"{output}: exists, made with other settings ({made.settings}; this run: "
                                     f"{settings}); --overwrite redoes it, --resume any keeps it", made.settings)
    if prompt is not None and made.prompt is not None and made.prompt != prompt_key(prompt):
        return Decision(Action.FAIL, f"{output}: exists, made with another prompt (its prompt changed since); "
                                     "--overwrite redoes it, --resume any keeps it", made.settings)
    return Decision(Action.SKIP, "output exists, made with the same settings", made.settings)


def prompt_for(job: Job, prompts: Prompts) -> str | None:
    """The prompt a worker will use for this video (io.prompts), or None when it has none (that fails later,
    in the worker, with the reason)."""
    from ...io.prompts import resolve_prompt

    try:
        return resolve_prompt(job.input, job.rel, prompts.text, prompts.table)[0]
    except EvsError:
        return None


@dataclass
class Plan:
    request: Request
    options: RunOptions  # the request's, with the --prompts table read
    stages: list  # engine.stages.Stage
    grids: dict  # model -> engine.diffusion.Grid
    settings: str  # fingerprint of what decides the outputs' pixels (settings.py)
    legacy: str  # the same settings as evs 0.1 fingerprinted them (its outputs are still judged by it)
    jobs: list[Job]
    decisions: list[Decision]
    notes: list[str] = field(default_factory=list)  # what the user should know (an input named twice)
    # (alias, job): another path to a job's input, with the same prompt; it gets a link of the job's result
    aliases: list[tuple[Job, Job]] = field(default_factory=list)

    @property
    def todo(self) -> list[Job]:
        """The videos that go to a worker, in order."""
        return [j for j, d in zip(self.jobs, self.decisions) if d.action is Action.REFINE]

    def closed(self) -> list[dict]:
        """The records of the videos that the plan skips or fails (no worker sees them)."""
        return [d.record(j, self.settings) for j, d in zip(self.jobs, self.decisions) if d.action is not Action.REFINE]

    def judge(self, job: Job) -> Decision:
        """The decision for one video, judged again now (--wait: after another run let it go)."""
        return decide(job, self.options.output, self.settings, prompt_for(job, self.options.prompts), self.legacy)


def make_plan(request: Request, prompts_file: Path | None = None) -> Plan:
    """Every check that needs no model, in the order a user meets them; EvsError names the first problem."""
    from ...engine.loaders.sources import local_scheduler_config, unknown_words_note
    from ...engine.pipeline import preset_grids
    from ...engine.stages import build_stages
    from ...io.inputs import find_inputs
    from ...io.prompts import load_prompt_table

    options = request.options
    preset = options.preset
    grids = preset_grids(preset, local_scheduler_config(preset.t2i_model))
    stages = build_stages(preset.schedule_params())
    notes: list[str] = []
    twice: list[tuple[Path, Path, Path]] = []
    found = find_inputs(list(request.inputs), list(request.listed), request.base,
                        on_duplicate=lambda f, rel, kept: twice.append((f, rel, kept)))
    if prompts_file is not None:
        options = replace(options, prompts=replace(options.prompts, table=load_prompt_table(prompts_file)))
    jobs, aliases = plan_aliases(found, twice, request, options.prompts, notes)
    if not jobs and request.shard is None:
        raise EvsError(f"no video files found in {named(request.inputs + request.listed)}")
    settings = fingerprint(options)
    legacy = fingerprint(options, legacy=True)
    prompts = [prompt_for(j, options.prompts) for j in jobs]  # read once: a sidecar is a file per video
    decisions = [decide(j, options.output, settings, p, legacy) for j, p in zip(jobs, prompts)]
    decisions = [_unless_stuck_before(j, d, options, settings) for j, d in zip(jobs, decisions)]
    notes += unknown_words_note(preset.t2i_model, preset.tokenizer,
                                [p for p, d in zip(prompts, decisions) if d.action is Action.REFINE])
    return Plan(request, options, stages, grids, settings, legacy, jobs, decisions, notes, aliases)


def _unless_stuck_before(job: Job, decision: Decision, options: RunOptions, settings: str) -> Decision:
    """A video that got a run in one process stuck past its limit (timeouts.py) fails at once, so that the rerun
    refines the others, until the settings, --timeout or the input change, or --overwrite."""
    from .timeouts import timed_out_before

    if decision.action is not Action.REFINE or options.output.overwrite:
        return decision
    stuck = timed_out_before(job.input, job.output, settings, options.preset.video_timeout)
    return Decision(Action.FAIL, stuck) if stuck else decision


def plan_aliases(found: list, twice: list, request: Request, prompts: Prompts, notes: list[str]):
    """(jobs, aliases) of shard K of N. A file reached by two paths (a symlink in a VBench-style tree) is
    refined once, and each other path whose prompt is the same gets its own output as a link of that result
    (batch.aliases); one with another prompt is refined as its own video, and one that names the same output
    again is only said."""
    from .outputs import in_shard

    kept_rel = {f: rel for f, rel in found}
    others, paths = [], {(f, rel) for f, rel in found}
    for f, rel, kept in twice:
        if rel == kept_rel[kept] or (f, rel) in paths:  # the same output again
            notes.append(f"{f} is the same file as {kept}: refined once")
        else:
            others.append((f, rel, kept))
            paths.add((f, rel))
    every = plan_jobs(found + [(f, rel) for f, rel, _ in others], request.out, request.options.output.fmt)
    by_path = {(j.input, j.rel): j for j in every}  # inputs inside --out were left out
    jobs = [by_path[f, rel] for f, rel in found if (f, rel) in by_path]
    aliases = []
    for f, rel, kept in others:
        if (f, rel) not in by_path or (kept, kept_rel[kept]) not in by_path:
            continue
        alias, job = by_path[f, rel], by_path[kept, kept_rel[kept]]
        if prompt_for(alias, prompts) == prompt_for(job, prompts):
            aliases.append((alias, job))
        else:
            jobs.append(alias)
            notes.append(f"{f} is the same file as {kept} with another prompt: refined for each")
    shard = request.shard or (0, 1)
    return ([j for j in jobs if in_shard(j.rel, shard)],
            [(a, j) for a, j in aliases if in_shard(j.rel, shard)])  # an alias goes where its video goes


def named(inputs) -> str:
    inputs = list(inputs)
    return ", ".join(inputs[:3]) + (f" and {len(inputs) - 3} more" if len(inputs) > 3 else "")
