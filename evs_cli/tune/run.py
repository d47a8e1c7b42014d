"""A tune, planned before any model loads (settings, sample, references, prompts, the pairs still to do), then
executed on the chosen backend with every scored pair kept in tune.jsonl as it comes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import EvsError
from .grid import Setting, default_axes, parse_grid, settings_of
from .records import INPUT, Records, pair_key
from .worker import TuneOptions, VideoTask

DEFAULT_SAMPLE = 5
RECORDS, TUNED, PICTURE = "tune.jsonl", "tuned.yaml", "tradeoff.png"


@dataclass(frozen=True)
class TuneRequest:
    inputs: tuple[str, ...]
    run: object  # batch.options.RunOptions: base preset (overrides applied), prompts, seeds
    out: Path
    listed: tuple[str, ...] = ()
    base: Path | None = None  # listed files keep their path below it
    sample: int = DEFAULT_SAMPLE
    grid: tuple[str, ...] = ()  # --grid KEY=V1,V2 texts; none: default_axes
    prefer: str = "balanced"
    reference: Path | None = None
    flow: str = "dis"
    devices: tuple[str, ...] = ()
    ray: bool = False
    ray_address: str | None = None
    weighted: bool = True


@dataclass
class TunePlan:
    request: TuneRequest
    settings: list[Setting]
    videos: list[tuple[Path, Path]]  # (file, relative path), the sample
    tasks: list[VideoTask]
    options: TuneOptions
    records: Records
    pairs: dict[str, list[str]]  # video rel -> the pair keys of its input and of each setting, in settings order
    notes: list[str] = field(default_factory=list)
    found: int = 0  # videos among the inputs

    @property
    def left(self) -> int:
        return sum(len(t.todo) for t in self.tasks)


def make_plan(req: TuneRequest, warn=lambda message: None) -> TunePlan:
    """Every check that needs no model; EvsError names the first problem."""
    from ..batch.planning.outputs import check_out_folder
    from ..batch.planning.settings import content_hash, fingerprint
    from ..engine.loaders.fit import check_models
    from ..engine.loaders.loras import check_lora_files
    from ..engine.loaders.sources import local_scheduler_config, unknown_words_note
    from ..engine.pipeline import preset_grids
    from ..eval.evaluate import reference_for, reference_index
    from ..io.inputs import find_inputs
    from ..io.prompts import resolve_prompt
    from .sample import sample

    base = req.run.preset
    axes = parse_grid(list(req.grid)) if req.grid else default_axes(base)
    settings, notes = settings_of(base, axes)
    scheduler_config = local_scheduler_config(base.t2i_model)
    for s in settings:  # a scheduler setting diffusers rejects fails here, naming the setting
        try:
            preset_grids(s.preset, scheduler_config)
        except EvsError as e:
            raise EvsError(f"grid setting {s.label}: {e}") from None
    check_out_folder(req.out)
    if req.reference is not None and not req.reference.exists():
        raise EvsError(f"--reference: {req.reference}: no such file or folder")
    check_models(base.t2i_model, base.t2v_model, base.vae_model, base.tokenizer)
    check_lora_files(base.t2i.loras + base.t2v.loras)
    found = find_inputs(list(req.inputs), list(req.listed), req.base)
    if not found:
        raise EvsError(f"no video files found in {', '.join(req.inputs + req.listed)}")
    videos = sample(found, req.sample, req.run.seeds.base)
    refs = reference_index(req.reference)
    prints = [fingerprint(replace(req.run, preset=s.preset)) for s in settings]
    options = TuneOptions(req.run, tuple(s.label for s in settings), tuple(s.preset for s in settings),
                          tuple(prints), req.flow, req.weighted)
    req.out.mkdir(parents=True, exist_ok=True)
    records = Records(req.out / RECORDS, warn)
    tasks, pairs, prompts = [], {}, []
    for f, rel in videos:
        prompts.append(resolve_prompt(f, rel, req.run.prompts.text, req.run.prompts.table)[0])  # none: one line, now
        ref = reference_for(f, rel, req.reference, refs)
        video_sha, ref_sha = content_hash(f), content_hash(ref) if ref else None
        keys = [pair_key(INPUT, rel, video_sha, ref_sha, req.flow)]
        keys += [pair_key(p, rel, video_sha, ref_sha, req.flow) for p in prints]
        pairs[rel.as_posix()] = keys
        todo = tuple((i, k) for i, k in enumerate(keys[1:]) if k not in records)
        if todo or keys[0] not in records:
            tasks.append(VideoTask(f, rel, ref, todo, keys[0], keys[0] in records))
    notes += unknown_words_note(base.t2i_model, base.tokenizer, prompts)
    return TunePlan(req, settings, videos, tasks, options, records, pairs, notes, len(found))


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)  # one line per video that could not be tuned
    calls: dict[str, int] = field(default_factory=lambda: {"t2i": 0, "t2v": 0, "alone_t2i": 0, "alone_t2v": 0})
    notes: list[str] = field(default_factory=list)


def execute(plan: TunePlan, progress=lambda done, total, what=None: None) -> Outcome:
    """Refine and score the pairs still to do on the batch seam (tune/work.py), appending each record as it
    comes. KeyboardInterrupt: every record appended so far is whole and counts for the next tune. EvsError: no
    worker could start."""
    from ..batch.dispatch.pool import check_devices, default_devices, run_jobs
    from ..batch.events import Fatal, Finished, Loaded, Result
    from ..batch.planning.outputs import Job
    from .work import TuneWork

    req = plan.request
    devices = [] if req.ray else list(req.devices) or default_devices()
    check_devices(devices)
    outcome, fatal = Outcome(), []
    total, done = plan.left, [0]
    progress(0, total, f"{len(plan.tasks)} videos x {len(plan.settings)} settings")

    def on_event(event) -> None:
        if isinstance(event, Result):
            rec = event.record
            if rec["pair"] not in plan.records:
                plan.records.append(rec)
                if rec["setting"] != INPUT:
                    done[0] += 1
                    progress(done[0], total, f"{rec['video']}: {rec['setting']}")
        elif isinstance(event, Loaded):
            outcome.notes += [n for n in event.notes if n not in outcome.notes]
        elif isinstance(event, Fatal):
            fatal.append(event.error)
        elif isinstance(event, Finished):
            _count(event.record, plan.tasks[event.index], outcome)

    if plan.tasks:
        # a job per video for the ledger (its input names it in errors); the worker is handed its task
        jobs = [Job(t.input, t.rel, plan.records.path) for t in plan.tasks]
        work = TuneWork(plan.options, tuple(plan.tasks))
        if req.ray:
            from ..batch.dispatch.cluster import run_on_ray

            run_on_ray(jobs, work, on_event, req.ray_address)
        else:
            run_jobs(jobs, devices, work, on_event)
        if fatal and len(fatal) == len(devices) and len(outcome.failures) == len(plan.tasks):
            raise EvsError(fatal[0])  # no worker could start: a setup error, as refine's
    progress(total, total, "done")
    return outcome


def _count(record, task, outcome: Outcome) -> None:
    """A video's Finished record (batch.record.VideoRecord): its model calls, or its failure as one line that
    names it."""
    if record.status == "ok":
        for k in outcome.calls:
            outcome.calls[k] += record.calls[k]
        return
    error = record.error if isinstance(record.error, str) else "failed"
    outcome.failures.append(error if error.startswith(str(task.input)) else f"{task.input}: {error}")


def results(plan: TunePlan) -> tuple[dict, dict]:
    """(per_video[label][video] = scores, inputs[video] = scores) from the records of this tune's pairs; videos
    missing any pair are left out."""
    per: dict[str, dict[str, dict]] = {s.label: {} for s in plan.settings}
    inputs: dict[str, dict] = {}
    for video, keys in plan.pairs.items():
        recs = [plan.records.get(k) for k in keys]
        if any(r is None for r in recs):
            continue
        inputs[video] = recs[0]["scores"]
        for s, r in zip(plan.settings, recs[1:]):
            per[s.label][video] = r["scores"]
    return per, inputs
