"""What a worker does with the videos it is given, apart from where it runs: the other half of the dispatch
seam (dispatch/seam.py). A work is plain picklable data (it crosses to spawned processes and Ray actors):

- `items`: what a worker is handed for each job, by the job's index;
- `load(device)`: the worker, built once where it runs (its models loaded); its `notes` are said once;
- `serve(worker, items, name, emit, stop)`: each (index, item) turned into events (events.py), one Finished each;
- `capacity`, `read_limit`: videos a worker holds at once, and the seconds one may take to be read;
- `on_stuck(index)`: what a run in one process leaves behind when it must stop at a stuck video;
- `for_cluster()`: the same work with every path absolute (actors run elsewhere).

Every worker loads its models with model_set.load_model_set. `refine` gives RefineWork; `evs tune` gives
tune.work.TuneWork; both run on the same backends (pool.py, cluster.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..options import RunOptions
from ..planning.outputs import Job


@dataclass(frozen=True)
class RefineWork:
    options: RunOptions
    items: tuple[Job, ...]

    @property
    def capacity(self) -> int:
        return 3 if self.options.pipelined else 1  # one read ahead, one on the device, one being written

    @property
    def read_limit(self) -> float | None:
        from ..planning.timeouts import read_limit

        return read_limit(self.options.preset.video_timeout)

    def load(self, device: str):
        from .job import VideoRefiner

        return VideoRefiner(self.options, device)

    def serve(self, worker, items, name: str, emit, stop=None) -> None:
        from .stream import run_worker

        run_worker(worker, items, name, emit, stop)

    def on_stuck(self, index: int) -> None:
        from ..planning.settings import fingerprint
        from ..planning.timeouts import mark_timed_out

        job = self.items[index]
        mark_timed_out(job.output, job.input, fingerprint(self.options), self.options.preset.video_timeout)

    def for_cluster(self) -> RefineWork:
        jobs = tuple(replace(j, input=j.input.resolve(), output=j.output.resolve()) for j in self.items)
        return RefineWork(absolute_models(self.options), jobs)


def absolute_models(options: RunOptions) -> RunOptions:
    """Model paths that exist here are made absolute: actors do not share the driver's working directory."""
    models = options.preset.data["models"]
    fixed = {k: str(Path(v).resolve()) for k, v in models.items() if isinstance(v, str) and v and Path(v).exists()}
    return replace(options, preset=options.preset.with_overrides([{"models": fixed}])) if fixed else options
