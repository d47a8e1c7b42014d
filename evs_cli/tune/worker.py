"""One device's share of a tune: the models loaded once, then each sampled video refined at every setting it
still lacks, the common first stages once (engine.shared), each result scored and handed back as a record."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import EvsError, first_line
from .records import INPUT


@dataclass(frozen=True)
class TuneOptions:
    """What every worker needs, in any process (picklable)."""

    run: object  # batch.options.RunOptions: the base preset, prompts, seeds, compile cache
    labels: tuple[str, ...]  # one per setting, the base first
    presets: tuple  # engine.preset.Preset per setting
    fingerprints: tuple[str, ...]  # settings fingerprint per setting
    flow: str = "dis"
    weighted: bool = True  # VBench / DOVER / AP scores where their weights are local


@dataclass(frozen=True)
class VideoTask:
    input: Path
    rel: Path
    reference: Path | None
    todo: tuple[tuple[int, str], ...]  # (setting index, pair key) still without a record
    input_pair: str  # the pair key of the input's own scores
    input_scored: bool = False  # a record of them exists


class TuneWorker:
    def __init__(self, options: TuneOptions, device: str):
        from ..batch.worker.model_set import load_model_set
        from ..engine.pipeline import Engine

        self.options, self.device = options, device
        models, _ = load_model_set(options.run.preset, device, options.run.compile_cache)
        self.engines = [Engine(models, p) for p in options.presets]
        self.notes: list[str] = []  # weighted measures skipped, and why
        self.scorers = self._scorers() if options.weighted else {}

    def _scorers(self) -> dict:
        from ..eval.evaluate import weighted_scorers

        scorers = weighted_scorers(self.device)
        missing = [m for m in ("motion_smoothness", "subject_consistency", "dover", "aesthetic") if m not in scorers]
        if missing:
            self.notes.append(f"no local weights for {', '.join(missing)}: not measured (`evs eval --help` says "
                              "where each one's weights are looked for)")
        return scorers

    def run(self, task: VideoTask, emit) -> dict:
        """Refine and score one video; `emit(record)` for each pair as it is scored. Returns the model calls made
        and the calls the same settings make one by one. EvsError: the video cannot be tuned (one line)."""
        from ..engine.shared import refine_shared
        from ..engine.stages import count_calls
        from ..io.prompts import resolve_prompt
        from ..io.video import read_video, target_size
        from .measures import gap_target, score

        o = self.options
        video = read_video(task.input)
        prompt, _ = resolve_prompt(task.input, task.rel, o.run.prompts.text, o.run.prompts.table)
        ref = read_video(task.reference).frames.numpy() if task.reference is not None else None
        frames = video.frames.numpy()
        target = gap_target(frames, ref)
        base = {"video": task.rel.as_posix(), "input": str(task.input), "prompt": prompt,
                "reference": str(task.reference) if task.reference else None}
        if not task.input_scored:
            emit({**base, "pair": task.input_pair, "setting": INPUT,
                  "scores": score(frames, target, ref, o.flow, self.scorers)})
        if not task.todo:
            return {"t2i": 0, "t2v": 0, "alone_t2i": 0, "alone_t2v": 0}
        seed = o.run.seeds.for_video(task.rel)
        engines = [self.engines[i] for i, _ in task.todo]
        alone = [count_calls(e.stages) for e in engines]
        x0 = engines[0].encode(video.frames, target_size(*video.size, o.run.preset.resize))
        clock = [time.perf_counter()]

        def scored(n, latent, reports):
            i, pair = task.todo[n]
            if not torch.isfinite(latent).all():
                raise EvsError(f"{task.input}: setting {o.labels[i]} diverged (NaN or inf latents)")
            out = engines[n].decode(latent, video.size).numpy()
            now = time.perf_counter()
            emit({**base, "pair": pair, "setting": o.labels[i], "settings": o.fingerprints[i], "seed": seed,
                  "values": dict(o.presets[i].data["schedule"]), "calls": {k: alone[n][k] for k in ("t2i", "t2v")},
                  "seconds": round(now - clock[0], 4), "device": self.device,
                  "scores": score(out, target, ref, o.flow, self.scorers)})
            clock[0] = time.perf_counter()

        run = refine_shared(engines, x0, prompt, seed, on_setting=scored)
        return {"t2i": run.calls["t2i"], "t2v": run.calls["t2v"],
                "alone_t2i": sum(c["t2i"] for c in alone), "alone_t2v": sum(c["t2v"] for c in alone)}


def run_safely(worker: TuneWorker, task: VideoTask, emit) -> tuple[dict | None, str | None]:
    """(calls, None), or (None, one line) when this video fails: the rest of the tune goes on."""
    try:
        with torch.no_grad():
            return worker.run(task, emit), None
    except EvsError as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - a library's error on one video is that video's failure, named
        return None, f"{task.input}: {first_line(e)}"
