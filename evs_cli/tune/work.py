"""A tune's work on the batch seam (batch/worker/spec.py): the same backends as refine's (one device in this
process, a spawned process per device, or Ray actors), with their retry of a dead worker's video, their
watchdog and their interrupt handling. A worker loads the models once and tunes one video at a time: each
pair's record comes back as a Result event as soon as it is scored (an interrupted tune keeps it), and the
video's Finished record carries its model calls, or the one line that says why it failed."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..batch.events import Finished, Result, Started, Taken
from ..batch.record import VideoRecord
from ..batch.worker.spec import absolute_models
from .worker import TuneOptions, TuneWorker, VideoTask, run_safely


@dataclass(frozen=True)
class TuneWork:
    options: TuneOptions
    items: tuple[VideoTask, ...]
    capacity: int = 1  # one video at a time: its settings share the device
    read_limit: float | None = None  # a tune has no --timeout

    def load(self, device: str) -> TuneWorker:
        return TuneWorker(self.options, device)

    def serve(self, worker: TuneWorker, items, name: str, emit, stop=None) -> None:
        for index, task in items:
            emit(Taken(name, index))
            emit(Started(name, index))
            calls, error = run_safely(worker, task, lambda rec, i=index: emit(Result(name, i, rec)))
            # the dispatcher's ledger sets input and output as the tune's job names them (its output: tune.jsonl)
            rec = VideoRecord(str(task.input), "", "failed" if error else "ok", worker=name)
            emit(Finished(name, index, rec.set(error=error) if error else rec.set(calls=calls)))

    def on_stuck(self, index: int) -> None:
        pass  # no limit, so never stuck past one

    def for_cluster(self) -> TuneWork:
        options = replace(self.options, run=absolute_models(self.options.run))  # settings share the base's models
        tasks = tuple(replace(t, input=t.input.resolve(), reference=t.reference.resolve() if t.reference else None)
                      for t in self.items)
        return replace(self, options=options, items=tasks)
