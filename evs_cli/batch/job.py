"""Refine one video into one output, safely: claim, refine, write to a temp name, rename, log record."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import EvsError
from ..io.prompts import resolve_prompt
from ..io.video import read_video, resize, target_size, write_mp4, write_pngs
from .outputs import Claim, Job, discard, output_exists, publish, temp_path


@dataclass
class RunOptions:
    """Everything a worker needs to rebuild the same refiner in another process (picklable)."""

    preset: object  # evs_cli.preset.Preset, overrides applied
    seed: int = 0
    crf: int = 17
    fmt: str = "mp4"
    overwrite: bool = False
    prompt: str | None = None
    prompt_table: dict = field(default_factory=dict)
    stale_after: float = 6 * 3600
    evaluate: bool = False  # add weight-free metrics of each output to its record


class VideoRefiner:
    """Loads the models once (per worker) and refines jobs one after another."""

    def __init__(self, options: RunOptions, device: str):
        from ..engine.models import load_models, parse_dtype
        from ..engine.pipeline import Engine

        self.options, self.device = options, device
        p = options.preset
        self.dtype_name = p.dtype if torch.device(device).type == "cuda" or p.dtype == "fp32" else "fp32"
        # fp16 kernels are slow or missing on CPUs; a CPU worker computes in fp32 (recorded in the log).
        self.engine = Engine(load_models(p.t2i_model, p.t2v_model, device, parse_dtype(self.dtype_name),
                                         p.tokenizer), p)

    def process(self, job: Job, worker: str = "0", on_stage=None) -> dict:
        o = self.options
        rec = {"input": str(job.input), "output": str(job.output), "status": "failed", "error": None,
               "worker": worker, "device": self.device, "dtype": self.dtype_name, "host": socket.gethostname(),
               "preset": o.preset.name, "params": _params(o.preset), "seed": o.seed,
               "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        t_all = time.perf_counter()
        if output_exists(job.output) and not o.overwrite:
            return {**rec, "status": "skipped", "reason": "output exists"}
        claim = Claim(job.output, o.stale_after)
        if not claim.acquire():
            return {**rec, "status": "skipped", "reason": "claimed by another run"}
        tmp = temp_path(job.output)
        try:
            if output_exists(job.output) and not o.overwrite:  # finished by another run meanwhile
                return {**rec, "status": "skipped", "reason": "output exists"}
            rec.update(self._refine(job, tmp, on_stage))
            publish(tmp, job.output)
            rec["status"] = "ok"
        except EvsError as e:
            rec["error"] = str(e)
        except (torch.cuda.OutOfMemoryError, RuntimeError, ValueError, OSError) as e:
            rec["error"] = f"{job.input}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            rec["traceback"] = traceback.format_exc(limit=4)
            if isinstance(e, torch.cuda.OutOfMemoryError):
                torch.cuda.empty_cache()  # the next video on this worker starts from a clean allocator
        finally:
            discard(tmp)
            claim.release()
            rec["seconds"] = {**rec.get("seconds", {}), "total": round(time.perf_counter() - t_all, 4)}
        return rec

    def _refine(self, job: Job, tmp: Path, on_stage) -> dict:
        o, engine = self.options, self.engine
        cuda = torch.device(self.device).type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        t = time.perf_counter()
        video = read_video(job.input)
        prompt, prompt_source = resolve_prompt(job.input, job.rel, o.prompt, o.prompt_table)
        w, h = target_size(*video.size, o.preset.resize)
        frames = resize(video.frames, w, h)
        read_s = time.perf_counter() - t
        out, report = engine.refine(frames, prompt, o.seed, on_stage=on_stage)
        t = time.perf_counter()
        job.output.parent.mkdir(parents=True, exist_ok=True)
        if o.fmt == "mp4":
            write_mp4(out, tmp, video.fps, o.crf, audio_from=job.input if video.has_audio else None)
        else:
            write_pngs(out, tmp)
        write_s = time.perf_counter() - t
        sec = report["seconds"]
        metrics = {}
        if o.evaluate:
            from ..eval.metrics import weight_free

            metrics = {"metrics": weight_free(out.numpy())}
        return {**metrics,
            "prompt": prompt, "prompt_source": prompt_source, "frames": int(out.shape[0]),
            "fps": float(video.fps), "input_size": list(video.size), "output_size": [w, h],
            "seconds": {"read": round(read_s, 4), "encode": round(sec["encode"], 4),
                        "stages": [round(s["seconds"], 4) for s in report["stages"]],
                        "decode": round(sec["decode"], 4), "write": round(write_s, 4)},
            "stages": [{**s, "seconds": round(s["seconds"], 4)} for s in report["stages"]],
            "calls": report["calls"], "inversion_calls": report["inversion_calls"],
            "peak_gpu_memory_bytes": int(torch.cuda.max_memory_allocated(self.device)) if cuda else None,
            "pid": os.getpid(),
        }


def _params(preset) -> dict:
    d = preset.data
    return {"schedule": d["schedule"], "t2i": d["t2i"], "t2v": d["t2v"], "runtime": d["runtime"],
            "models": d["models"]}
