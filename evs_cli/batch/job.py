"""Refine one video into one output, safely: claim, read, refine, write to a temp name, rename, log record."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import EvsError
from ..io.inputs import TMP_MARK
from ..io.prompts import resolve_prompt
from ..io.video import output_size, probe, read_video, target_size, write_mp4, write_pngs
from .memory import check_memory
from .outputs import Claim, Job, discard, output_exists, publish, remove_others_temps, temp_path
from .settings import TAG_PREFIX, fingerprint


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
    max_pixels: int = 4 * 2**20  # working frame size (after resize) above which a video is refused
    max_memory: int | None = None  # bytes a video may need (None: what the host and the device have free)
    scale: float | None = None  # output = input size x scale (default 1: the input's size)
    size: tuple[int, int] | None = None  # output size (W, H), instead of scale
    seed_per_video: bool = True  # derive each video's seed from `seed` and its relative path
    pipelined: bool = True  # read the next video and write the last one while the device refines (stream.py)


@dataclass
class Work:
    """One video on its way through a worker: read and claimed, then refined, then written."""

    job: Job
    rec: dict
    started: float
    claim: Claim | None = None
    tmp: Path | None = None
    video: object = None  # io.video.Video, until written
    prompt: str = ""
    size: tuple[int, int] = (0, 0)  # working size: sides multiples of 64
    out_size: tuple[int, int] = (0, 0)  # what is written
    out: torch.Tensor | None = None

    @property
    def open(self) -> bool:
        """Still to be refined or written (not skipped, not failed)."""
        return self.rec["status"] == "failed" and self.rec["error"] is None


class VideoRefiner:
    """Loads the models once (per worker) and refines jobs, each in three steps that may overlap between
    videos (batch/stream.py): `prepare` (claim, decode), `refine` (the device), `finish` (encode, write,
    rename). Every step turns a failure into that video's record, and `abandon` cleans up an interrupted one.
    """

    def __init__(self, options: RunOptions, device: str):
        from ..engine.models import load_models, parse_dtype, resolve_dtype
        from ..engine.pipeline import Engine
        from ..engine.speed import speed_up

        self.options, self.device = options, device
        p = options.preset
        self.cuda = torch.device(device).type == "cuda"
        self.dtype_name = resolve_dtype(p.dtype, device)
        models = load_models(p.t2i_model, p.t2v_model, device, parse_dtype(self.dtype_name), p.tokenizer)
        speed_up(models, compile=p.compile)
        self.engine = Engine(models, p)
        self.settings = fingerprint(options)

    def process(self, job: Job, worker: str = "0", on_stage=None) -> dict:
        """All three steps, one after the other."""
        work = self.prepare(job, worker)
        try:
            self.refine(work, on_stage)
            return self.finish(work)
        except BaseException:
            self.abandon(work)
            raise

    def prepare(self, job: Job, worker: str = "0") -> Work:
        o = self.options
        rec = {"input": str(job.input), "output": str(job.output), "status": "failed", "error": None,
               "worker": worker, "device": self.device, "dtype": self.dtype_name, "host": socket.gethostname(),
               "preset": o.preset.name, "params": _params(o.preset, self.dtype_name),
               "seed": video_seed(o.seed, job.rel) if o.seed_per_video else o.seed, "base_seed": o.seed,
               "settings": self.settings,
               "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        work = Work(job, rec, time.perf_counter())
        if output_exists(job.output) and not o.overwrite:
            return self._close(work, "skipped", reason="output exists")
        with self._failures(work):
            claim = Claim(job.output, o.stale_after)
            if not claim.acquire():
                return self._close(work, "skipped", reason="claimed by another run")
            work.claim = claim
        if work.rec["error"] is not None:
            return work
        work.tmp = temp_path(job.output)
        if output_exists(job.output) and not o.overwrite:  # finished by another run meanwhile
            return self._close(work, "skipped", reason="output exists")
        with self._failures(work):
            removed = remove_others_temps(job.output)  # we hold the claim: these are a killed run's leftovers
            if removed:
                work.rec["removed_leftovers"] = [p.name for p in removed]
            t = time.perf_counter()
            check_fits(job.input, o, self.device)
            # Not pinned: cudaHostAlloc from the reader thread can stall the thread launching kernels,
            # and a 16-frame clip's copy to the device takes milliseconds either way.
            work.video = read_video(job.input)
            work.prompt, source = resolve_prompt(job.input, job.rel, o.prompt, o.prompt_table)
            work.size = target_size(*work.video.size, o.preset.resize)
            work.out_size = output_size(*work.video.size, o.scale, o.size, even=o.fmt == "mp4")
            audio = "none" if not work.video.has_audio else "kept" if o.fmt == "mp4" else "dropped (png frames)"
            rec.update(prompt=work.prompt, prompt_source=source, fps=float(work.video.fps),
                       frames_in=int(work.video.frames.shape[0]), audio=audio,
                       input_size=list(work.video.size), working_size=list(work.size),
                       output_size=list(work.out_size),
                       seconds={"read": round(time.perf_counter() - t, 4)})
        return work

    def refine(self, work: Work, on_stage=None) -> Work:
        if not work.open:
            return work
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        with self._failures(work):
            out, report = self.engine.refine(work.video.frames, work.prompt, work.rec["seed"], on_stage=on_stage,
                                             size=work.size, out_size=work.out_size)
            sec = report["seconds"]
            work.out = out
            work.rec["seconds"].update(encode=round(sec["encode"], 4), stages=[round(s["seconds"], 4) for s in
                                       report["stages"]], decode=round(sec["decode"], 4))
            work.rec.update(frames=int(out.shape[0]),
                            stages=[{**s, "seconds": round(s["seconds"], 4)} for s in report["stages"]],
                            calls=report["calls"], inversion_calls=report["inversion_calls"],
                            peak_gpu_memory_bytes=int(torch.cuda.max_memory_allocated(self.device)) if self.cuda
                            else None, pid=os.getpid())
        return work

    def finish(self, work: Work) -> dict:
        o, job = self.options, work.job
        if work.open:
            with self._failures(work):
                t = time.perf_counter()
                job.output.parent.mkdir(parents=True, exist_ok=True)
                if o.fmt == "mp4":
                    write_mp4(work.out, work.tmp, work.video.fps, o.crf,
                              audio_from=job.input if work.video.has_audio else None,
                              comment=TAG_PREFIX + self.settings)
                else:
                    write_pngs(work.out, work.tmp)
                work.rec["seconds"]["write"] = round(time.perf_counter() - t, 4)
                if o.evaluate:
                    from ..eval.metrics import weight_free

                    work.rec["metrics"] = weight_free(work.out.numpy())
                publish(work.tmp, job.output)
                self._close(work, "ok")
        self.abandon(work)
        return work.rec

    def abandon(self, work: Work) -> None:
        """Remove the temporary file and release the claim (a no-op once done); frees the frames."""
        if work.tmp is not None:
            discard(work.tmp)
        if work.claim is not None:
            work.claim.release()
        work.video = work.out = None
        seconds = work.rec.setdefault("seconds", {})
        seconds["total"] = round(time.perf_counter() - work.started, 4)

    def _close(self, work: Work, status: str, **extra) -> Work:
        work.rec.update(status=status, **extra)
        if status == "skipped":
            self.abandon(work)
        return work

    @contextmanager
    def _failures(self, work: Work):
        """A failure of this video becomes its record's one-line error; anything else propagates."""
        try:
            yield
        except EvsError as e:
            msg = str(e)
            work.rec["error"] = msg if msg.startswith(str(work.job.input)) else f"{work.job.input}: {msg}"
        except OSError as e:
            if e.errno is None:  # not from the filesystem (PyAV wraps FFmpeg's codec errors in OSError too)
                work.rec["error"] = f"{work.job.input}: {type(e).__name__}: {e}"
            else:  # a full disk, a quota, a vanished folder: say where (the output, not its temporary name)
                where = e.filename if e.filename and TMP_MARK not in str(e.filename) else work.job.output
                work.rec["error"] = f"{work.job.input}: {where}: {e.strerror}"
            work.rec["traceback"] = traceback.format_exc(limit=4)
        except (torch.cuda.OutOfMemoryError, RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            work.rec["error"] = f"{work.job.input}: {type(e).__name__}: {first}"
            work.rec["traceback"] = traceback.format_exc(limit=4)
            if isinstance(e, torch.cuda.OutOfMemoryError):
                torch.cuda.empty_cache()  # the next video on this worker starts from a clean allocator
        if work.rec["error"] is not None:
            self.abandon(work)


def check_fits(path: Path, o: RunOptions, device: str | None = None) -> None:
    """Refuse, from the container header and before decoding, a video too large to refine: frames over
    --max-pixels (an 8192x8192 clip), or more frames than memory holds (see batch.memory)."""
    head = probe(path)
    if head is None:
        return
    w, h = target_size(head.width, head.height, o.preset.resize)
    if w * h > o.max_pixels:
        raise EvsError(f"{path}: frames of {head.width}x{head.height} would be refined at {w}x{h} ({w * h / 1e6:.1f} "
                       f"megapixels), over --max-pixels {o.max_pixels}; raise it, or --resize down")
    out = output_size(head.width, head.height, o.scale, o.size, even=o.fmt == "mp4")
    check_memory(path, head.frames, (head.width, head.height), (w, h), out, o.max_memory, device)


def video_seed(seed: int, rel: Path) -> int:
    """A seed of its own for each video: stable across runs, machines and listing order (no hash())."""
    digest = hashlib.sha256(f"{seed}:{rel.as_posix()}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: what torch.Generator.manual_seed takes


def _params(preset, dtype_name: str) -> dict:
    d = preset.data
    return {"schedule": d["schedule"], "t2i": d["t2i"], "t2v": d["t2v"], "runtime": {**d["runtime"], "dtype": dtype_name},
            "models": d["models"]}
