"""Refine one video into one output, safely: claim, read, refine, write to a temporary name, rename.

A `VideoRefiner` loads the models once (per worker) and takes each video through three steps that may
overlap between videos (stream.py): `prepare` (claim, decode), `refine` (the device), `finish` (encode,
write, rename). A failure in any step closes that video as failed with one line; `abandon` cleans up an
interrupted one.
"""

from __future__ import annotations

import time
import traceback
from contextlib import contextmanager

import torch

from ...errors import EvsError, first_line
from ...io.inputs import TMP_MARK
from ...io.prompts import resolve_prompt
from ...io.video import output_size, read_video, target_size, write_mp4, write_pngs
from ..options import RunOptions
from ..planning.memory import check_fits
from ..planning.outputs import Job, discard, publish, remove_others_temps
from ..planning.plan import Action, decide, prompt_for
from ..planning.settings import Made, fingerprint, input_id, prompt_key
from ..planning.timeouts import TimedOut, clear_timed_out, video_limit
from .claims import Claim, this_process
from .work import Refined, Source, State, VideoWork


class VideoRefiner:
    notes: tuple[str, ...] = ()  # what a worker says once it is loaded (spec.py): a refiner has nothing to add

    def __init__(self, options: RunOptions, device: str):
        from ...engine.pipeline import Engine
        from .model_set import load_model_set

        self.options, self.device = options, device
        self.cuda = torch.device(device).type == "cuda"
        models, self.dtype_name = load_model_set(options.preset, device, options.compile_cache)
        self.engine = Engine(models, options.preset)
        self.settings, self.legacy = fingerprint(options), fingerprint(options, legacy=True)

    def prepare(self, job: Job, worker: str = "0") -> VideoWork:
        o = self.options
        work = VideoWork(job, worker, self.device, self.dtype_name, o.seeds.for_video(job.rel))
        prompt = prompt_for(job, o.prompts)  # None: no prompt, which fails below, after the decoder has its say
        if not self._still_to_do(work, prompt):
            return work
        with self._failures(work):
            claim = Claim(job.output, o.limits.lease)
            if not claim.acquire():
                work.hold()
                return self._closed(work)
            work.claim = claim
        if not work.open or not self._still_to_do(work, prompt):  # finished by another run meanwhile?
            return work
        with self._failures(work):
            mine = this_process().token
            work.removed_leftovers = [p.name for p in remove_others_temps(job.output, mine)]  # a killed run's
            t = time.perf_counter()
            work.made_from = input_id(job.input)  # before decoding: a file replaced meanwhile is redone later
            self._set_limit(work, check_fits(job.input, o, self.device))
            # Not pinned: cudaHostAlloc from the reader thread can stall the thread launching kernels,
            # and a 16-frame clip's copy to the device takes milliseconds either way.
            video = read_video(job.input)
            prompt, source = resolve_prompt(job.input, job.rel, o.prompts.text, o.prompts.table)
            out = o.output
            audio = "none" if not video.has_audio else "pending" if out.fmt == "mp4" else "dropped (png frames)"
            work.video = video
            work.source = Source(prompt, source, float(video.fps), int(video.frames.shape[0]), audio,
                                 tuple(video.size), target_size(*video.size, o.preset.resize),
                                 output_size(*video.size, out.scale, out.size, even=out.even_sides),
                                 video.variable_rate)
            work.seconds["read"] = round(time.perf_counter() - t, 4)
            self._in_time(work)
        work.end_step()
        return work

    def _set_limit(self, work: VideoWork, head) -> None:
        p = self.options.preset
        frames = head.frames if head is not None else None
        working = target_size(head.width, head.height, p.resize) if head is not None else (1024, 1024)
        work.limit = video_limit(p.video_timeout, frames, working, self.device)

    def _in_time(self, work: VideoWork) -> None:
        left = work.left()
        if left is not None and left < 0:
            raise TimedOut(f"{work.job.input}: took longer than its time limit of {work.limit:.0f} s (--timeout); "
                           "stopped")

    def refine(self, work: VideoWork, on_stage=None) -> VideoWork:
        if not work.open:
            return work
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        work.begin_step()
        with self._failures(work):
            s = work.source

            def staged(report) -> None:  # between stages: a video past its time limit stops here
                self._in_time(work)
                if on_stage is not None:
                    on_stage(report)

            out, report = self.engine.refine(work.video.frames, s.prompt, work.seed, on_stage=staged,
                                             size=s.working_size, out_size=s.output_size)
            work.out = out
            work.seconds.update(encode=round(report.seconds["encode"], 4),
                                stages=[round(r.seconds, 4) for r in report.stages],
                                decode=round(report.seconds["decode"], 4))
            peak = int(torch.cuda.max_memory_allocated(self.device)) if self.cuda else None
            work.refined = Refined(int(out.shape[0]), report, peak)
            if self.options.preset.compile:  # what this video compiled is signed now, not only at exit
                from ...engine.runtime.compile_cache import seal_compile_caches

                seal_compile_caches()
        work.end_step()
        return work

    def finish(self, work: VideoWork) -> dict:
        o, job = self.options.output, work.job
        if work.open:
            work.begin_step()
            with self._failures(work):
                self._in_time(work)
                t = time.perf_counter()
                work.tmp = work.claim.create_temp(folder=o.fmt != "mp4")
                if o.fmt == "mp4":
                    made = Made(self.settings, prompt_key(work.source.prompt), work.made_from)
                    work.source.audio = write_mp4(work.out, work.tmp, work.video.fps, o.crf, comment=made.tag(),
                                                  audio_from=job.input if work.video.has_audio else None)
                else:
                    write_pngs(work.out, work.tmp)
                work.seconds["write"] = round(time.perf_counter() - t, 4)
                if o.evaluate:
                    from ...eval.metrics import weight_free

                    work.metrics = weight_free(work.out.numpy())
                if not work.claim.renew():  # taken over while this run froze past its lease: not ours to write
                    raise EvsError(f"{job.output}: another run took its claim over; not written")
                publish(work.tmp, job.output)
                clear_timed_out(job.output)  # stuck in an earlier run, done now
                work.state = State.DONE
        self.abandon(work)
        return work.record(self.options.preset, self.settings, self.options.seeds.base)

    def abandon(self, work: VideoWork) -> None:
        """Remove the temporary file and release the claim (a no-op once done); frees the frames."""
        if work.tmp is not None:
            discard(work.tmp)
        if work.claim is not None:
            work.claim.release()
        work.video = work.out = None
        total, steps = time.perf_counter() - work.started, work.own_seconds()
        # its own steps, and the time it waited for the device or the writer between them (a queue, not its cost)
        work.seconds.update(total=round(total, 4), steps=round(steps, 4), waited=round(max(0.0, total - steps), 4))

    def _still_to_do(self, work: VideoWork, prompt: str | None) -> bool:
        """Judge an existing output as the plan did (another run may have finished it since)."""
        decision = decide(work.job, self.options.output, self.settings, prompt, self.legacy)
        if decision.action is Action.SKIP:
            work.skip(decision.reason)
        elif decision.action is Action.FAIL:
            work.fail(decision.reason)
        if not work.open:
            self._closed(work)
        return work.open

    def _closed(self, work: VideoWork) -> VideoWork:
        self.abandon(work)
        return work

    @contextmanager
    def _failures(self, work: VideoWork):
        """A failure of this video closes it with a one-line error; anything else propagates."""
        name = work.job.input
        try:
            yield
        except EvsError as e:
            msg = str(e)
            work.fail(msg if msg.startswith(str(name)) else f"{name}: {msg}")
        except OSError as e:
            if e.errno is None:  # not from the filesystem (PyAV wraps FFmpeg's codec errors in OSError too)
                work.fail(f"{name}: {type(e).__name__}: {e}", traceback.format_exc(limit=4))
            else:  # a full disk, a quota, a vanished folder: say where (the output, not its temporary name)
                where = e.filename if e.filename and TMP_MARK not in str(e.filename) else work.job.output
                work.fail(f"{name}: {where}: {e.strerror}", traceback.format_exc(limit=4))
        except (torch.cuda.OutOfMemoryError, RuntimeError, ValueError) as e:
            work.fail(f"{name}: {type(e).__name__}: {first_line(e) if str(e).strip() else ''}",
                      traceback.format_exc(limit=4))
            if isinstance(e, torch.cuda.OutOfMemoryError):
                torch.cuda.empty_cache()  # the next video on this worker starts from a clean allocator
        if work.state is State.FAILED:
            self.abandon(work)
