"""One video's work inside a worker: its state (open, skipped, failed, done), what was learnt about it on the
way (prompt, sizes, the engine's report, timings) as typed fields, and its log record, built once at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ..planning.outputs import Job
from ..record import VideoRecord
from .claims import Claim


class State(str, Enum):
    OPEN = "open"  # still to be refined or written
    SKIPPED = "skipped"
    HELD = "held"  # another live run holds its claim: not done, not failed (exit 75, or --wait)
    FAILED = "failed"
    DONE = "ok"


@dataclass
class Source:
    """What reading a video told: set once, when it has been decoded and its prompt found."""

    prompt: str
    prompt_source: str
    fps: float
    frames_in: int
    audio: str  # none | dropped (png frames) | what writing did: copied (aac) | re-encoded to AAC (from opus)
    input_size: tuple[int, int]
    working_size: tuple[int, int]  # sides multiples of 64
    output_size: tuple[int, int]  # what is written
    variable_rate: bool = False  # the input's frames were unevenly timed; the output's are even, at `fps`


@dataclass
class Refined:
    """What the device did: set once, when the engine returned."""

    frames: int
    report: object  # engine.pipeline.RefineReport
    peak_gpu_memory_bytes: int | None


@dataclass
class VideoWork:
    job: Job
    worker: str
    device: str
    dtype: str
    seed: int
    state: State = State.OPEN
    reason: str | None = None  # why it was skipped
    error: str | None = None  # why it failed, one line naming the input
    traceback: str | None = None
    made_from: object = None  # settings.InputId of the input, taken before decoding it
    source: Source | None = None
    refined: Refined | None = None
    seconds: dict = field(default_factory=dict)  # read, encode, stages, decode, write, total
    removed_leftovers: list[str] = field(default_factory=list)
    limit: float | None = None  # seconds its own steps may take (timeouts.py); None: no limit
    spent: float = 0.0  # seconds spent in its steps so far (waiting for the device or the writer is not counted)
    metrics: dict | None = None
    # held while in flight, dropped when done with
    claim: Claim | None = None
    tmp: Path | None = None
    video: object = None  # io.video.Video
    out: object = None  # refined uint8 frames
    started: float = field(default_factory=time.perf_counter)
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))

    step_from: float | None = field(default_factory=time.perf_counter)  # when the running step began

    def begin_step(self) -> None:
        self.step_from = time.perf_counter()

    def end_step(self) -> None:
        if self.step_from is not None:
            self.spent += time.perf_counter() - self.step_from
            self.step_from = None

    def own_seconds(self) -> float:
        """Seconds spent in its own steps so far (reading, refining, writing), the running one included."""
        return self.spent + (time.perf_counter() - self.step_from if self.step_from is not None else 0.0)

    def left(self) -> float | None:
        """Seconds its steps may still take, or None for no limit."""
        if self.limit is None:
            return None
        running = time.perf_counter() - self.step_from if self.step_from is not None else 0.0
        return self.limit - self.spent - running

    @property
    def open(self) -> bool:
        return self.state is State.OPEN

    def skip(self, reason: str) -> None:
        self.state, self.reason = State.SKIPPED, reason

    def hold(self) -> None:
        self.state, self.reason = State.HELD, "claimed by another run that is still working on it"

    def fail(self, error: str, traceback: str | None = None) -> None:
        self.state, self.error, self.traceback = State.FAILED, error, traceback

    def record(self, preset, settings: str, base_seed: int) -> VideoRecord:
        """The log record (docs/batch.md: --log): the fields of what happened, and no others."""
        status = "failed" if self.state is State.OPEN else self.state.value  # never closed: an interrupt
        rec = VideoRecord(str(self.job.input), str(self.job.output), status, error=self.error, worker=self.worker,
                          device=self.device, dtype=self.dtype, host=socket.gethostname(), preset=preset.name,
                          params=run_params(preset, self.dtype), seed=self.seed, base_seed=base_seed,
                          settings=settings, started=self.started_at, seconds=self.seconds)
        if self.reason is not None:
            rec = rec.set(reason=self.reason)
        if self.removed_leftovers:
            rec = rec.set(removed_leftovers=self.removed_leftovers)
        if self.source is not None:
            s = self.source
            rec = rec.set(prompt=s.prompt, prompt_source=s.prompt_source, fps=s.fps, frames_in=s.frames_in,
                          audio=s.audio, input_size=list(s.input_size), working_size=list(s.working_size),
                          output_size=list(s.output_size))
            if s.variable_rate:
                rec = rec.set(frame_rate=f"variable in the input; written at a constant {s.fps:.3f} fps")
        if self.refined is not None:
            r = self.refined.report
            rec = rec.set(frames=self.refined.frames,
                          stages=[{**s.as_dict(), "seconds": round(s.seconds, 4)} for s in r.stages],
                          calls=r.calls, inversion_calls=r.inversion_calls,
                          peak_gpu_memory_bytes=self.refined.peak_gpu_memory_bytes, pid=os.getpid())
        if self.metrics is not None:
            rec = rec.set(metrics=self.metrics)
        if self.traceback is not None:
            rec = rec.set(traceback=self.traceback)
        return rec


def run_params(preset, dtype_name: str) -> dict:
    d = preset.data
    return {"schedule": d["schedule"], "t2i": d["t2i"], "t2v": d["t2v"],
            "runtime": {**d["runtime"], "dtype": dtype_name}, "models": d["models"]}
