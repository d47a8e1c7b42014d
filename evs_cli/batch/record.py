"""A video's log record (docs/batch.md: --log) as one typed object, from what makes it (a worker, the plan,
the dispatcher when a worker dies) to the line the run writes (run_ledger.py adds the run's own fields).

Every record has input, output, status and worker; each other field is written only when something set it,
None included (a refined video's `error` is null, a CPU's `peak_gpu_memory_bytes` too), so the lines are those
evs has always written. Plain picklable data: a record crosses process queues and Ray inside Finished.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import Enum


class _Unset(Enum):
    UNSET = "unset"  # an Enum member stays itself across pickling, so `is UNSET` holds after a queue or Ray


UNSET = _Unset.UNSET


@dataclass(frozen=True)
class VideoRecord:
    input: str
    output: str
    status: str  # ok | skipped | held | failed
    error: object = UNSET  # one line that names the input; null on a video a worker refined
    worker: str = "-"  # the worker that had it ("-": none)
    # how a worker made it
    device: object = UNSET
    dtype: object = UNSET
    host: object = UNSET
    preset: object = UNSET
    params: object = UNSET  # the preset's values (schedule, t2i, t2v, runtime, models)
    seed: object = UNSET
    base_seed: object = UNSET
    settings: object = UNSET  # the settings fingerprint (planning/settings.py)
    output_settings: object = UNSET  # the fingerprint an existing output was made with (a refused overwrite)
    started: object = UNSET
    reason: object = UNSET  # why it was skipped, held or linked
    linked_from: object = UNSET  # an alias: the output it is a link of
    removed_leftovers: object = UNSET
    # what reading it told
    prompt: object = UNSET
    prompt_source: object = UNSET
    fps: object = UNSET
    frames_in: object = UNSET
    audio: object = UNSET
    input_size: object = UNSET
    working_size: object = UNSET
    output_size: object = UNSET
    frame_rate: object = UNSET  # said only when the input's frames were unevenly timed
    seconds: object = UNSET  # per phase, and the video's own steps against its waits
    # what the device did
    frames: object = UNSET
    stages: object = UNSET
    calls: object = UNSET
    inversion_calls: object = UNSET
    peak_gpu_memory_bytes: object = UNSET
    pid: object = UNSET
    metrics: object = UNSET  # --eval
    traceback: object = UNSET  # an unexpected error's, for a bug report
    # on Ray: the actor that had it, and its node
    actor: object = UNSET
    node: object = UNSET
    # the dispatcher's, when workers died while they held it (and it was retried)
    retried: object = UNSET
    retry_reasons: object = UNSET

    def set(self, **values) -> VideoRecord:
        """This record with these fields set (a TypeError names a field that does not exist)."""
        return replace(self, **values)

    def as_dict(self) -> dict:
        """The log line's fields, in this order, without those nothing set."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not UNSET}


def closed_record(job, status: str, worker: str = "-", **values) -> VideoRecord:
    """The record of a video that no worker refined (skipped or failed before, or with, its worker)."""
    return VideoRecord(str(job.input), str(job.output), status, worker=worker, **values)
