"""What each selected video of a run ended as: the one place a run's state is kept, across the plan (videos
skipped or failed before any model loads), each dispatch round (--wait comes back for the videos another
run held) and the aliases linked at the end. It writes each video's record to the log once, the reporter
shows what it is told, and the exit code is decided from it (outcome).

Which worker holds which video during a round is the dispatcher's ledger (dispatch/ledger.py); this one sees
that round's events after it, and each video's Finished once.
"""

from __future__ import annotations

from collections import Counter
from enum import Enum

from .events import Fatal, Finished
from .record import VideoRecord
from .run_log import RunLog, now, run_fields


class Outcome(Enum):
    OK = "every selected video has its output"
    FAILED = "some video failed"
    HELD = "another live run holds some videos; none failed"
    SETUP = "no worker could start"
    INTERRUPTED = "interrupted"


def outcome(counts: dict, log_failed: bool, fatal: int, local_devices: int) -> Outcome:
    """What a finished run ends as: no local worker could start; some video failed (or its log could not be
    written); another live run holds some; else every selected video has its output. `counts`: status -> n."""
    if fatal and fatal == local_devices:  # on Ray (no local devices) actors that cannot start fail the run sooner
        return Outcome.SETUP
    if counts.get("failed") or log_failed:
        return Outcome.FAILED
    return Outcome.HELD if counts.get("held") else Outcome.OK


class RunLedger:
    """Takes a run's events (events.py) after the dispatcher: each video's record, once; the videos another
    live run held, until they are judged again; the workers that could not start."""

    def __init__(self, jobs: list, reporter, log: RunLog | None = None):
        self.jobs, self.reporter, self.log = jobs, reporter, log  # jobs: every selected video, aliases included
        self.run_fields = run_fields()  # evs version, run id, command line: in every record of this run
        self.records: list[dict] = []
        self.held: list = []  # jobs another live run held: not done with until judged again (or the run closes)
        self._held_records: dict[int, VideoRecord] = {}  # id(job) -> its "held" record
        self.fatal: list[str] = []
        self.indexed: list = jobs  # what the events' index refers to: the videos of the running round

    @property
    def log_error(self) -> str | None:
        return self.log.error if self.log else None

    def record_plan(self, plan) -> None:
        """Record the videos the plan skips or fails (a finished folder is done without loading a model); the
        events that follow index the videos it leaves to run."""
        for rec in plan.closed():
            self._close(rec, counted=False)
        self.indexed = plan.todo
        self.reporter.planned(len(plan.todo), sum(r["status"] == "skipped" for r in self.records), len(self.jobs))

    def __call__(self, event) -> None:
        if isinstance(event, Fatal):
            self.fatal.append(f"worker {event.worker} ({event.device}): {event.error}")
        if not isinstance(event, Finished):
            self.reporter.show(event, self.indexed)
        elif event.record.status == "held":
            job = self.indexed[event.index]
            self.held.append(job)
            self._held_records[id(job)] = event.record
            self.reporter.set_aside(event.index)
        else:
            self._close(event.record, index=event.index)

    def closed(self, rec: VideoRecord) -> None:
        """The record of a video no worker saw (an alias linked after its video)."""
        self._close(rec, counted=False)

    def judge_again(self, free: list, plan) -> list:
        """Held videos whose claim is free now, judged as the plan judges: the records of those not to refine
        (the other run made them), and the jobs to refine (its run died), which the next round's events index."""
        from .planning.plan import Action

        todo = []
        for job in free:
            self._forget_held(job)
            d = plan.judge(job)
            if d.action is Action.REFINE:
                todo.append(job)
            else:
                self._close(d.record(job, plan.settings))
        self.indexed = todo
        return todo

    def settle_held(self, plan) -> None:
        """Before the run ends, each video still held is judged again: one the other run finished meanwhile is
        recorded as the plan judges it now (skipped: its output exists), one still without an output as held."""
        from .planning.plan import Action

        for job in list(self.held):
            record = self._forget_held(job)
            d = plan.judge(job)
            self._close(record if d.action is Action.REFINE else d.record(job, plan.settings))

    def close(self, summary: bool = True) -> Counter:
        """End the run's record: videos still held (interrupted, or a setup error) are logged as they were seen;
        the reporter says the summary; the counts by status."""
        for job in list(self.held):
            self._close(self._forget_held(job))
        if self.log is not None:
            self.log.close()
        counts = Counter(r["status"] for r in self.records)
        self.reporter.close(self.records, counts, self.log_error, summary)
        return counts

    def outcome(self, local_devices: int) -> Outcome:
        """What the closed run ends as (its exit code): local_devices 0 on Ray."""
        return outcome(Counter(r["status"] for r in self.records), bool(self.log_error), len(self.fatal),
                       local_devices)

    def _forget_held(self, job) -> VideoRecord:
        self.held.remove(job)
        return self._held_records.pop(id(job))

    def _close(self, record: VideoRecord, counted: bool = True, index: int | None = None) -> None:
        """`counted`: a video given to a worker this run (the display's n/N counts these); `index`: its event's."""
        rec = {**self.run_fields, **record.as_dict(), "finished": now()}
        self.records.append(rec)
        if self.log is not None and (error := self.log.write(rec)):
            self.reporter.error(error)
        self.reporter.done(rec, counted, index)
