"""What a run shows and records: a rich progress display on a terminal, one plain line per video
otherwise, JSON-lines timing records, and a closing summary."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..errors import one_line
from ..eval.log_records import video_seconds
from .events import Fatal, Finished, Loaded, StageDone, Started


def bar_columns() -> tuple:
    """What every evs progress bar shows: description, bar, n/N, elapsed, and time left."""
    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("left"), TimeRemainingColumn())


def open_log(path: Path) -> int:
    """An O_APPEND descriptor: one os.write per record, so runs sharing a log never interleave lines."""
    from ..errors import EvsError

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as e:
        raise EvsError(f"{path}: cannot open the log ({e.strerror})") from e


def run_fields() -> dict:
    from ..version import __version__

    return {"evs_version": __version__, "run_id": uuid.uuid4().hex[:12], "command": sys.argv[:]}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Reporter:
    """Consumes a run's events (events.py): shows them, and writes each video's record to the log once."""

    def __init__(self, jobs, log: Path | None, quiet: bool, n_stages: int):
        self.jobs, self.quiet, self.n_stages = jobs, quiet, n_stages
        # Jobs another live run held, with their "held" records: not done with until judged again (--wait, and
        # before the run ends: the other run may have finished them meanwhile).
        self.held: list = []
        self._held_records: dict[int, dict] = {}  # id(job) -> its "held" record
        self.indexed = jobs  # what the events' index refers to (record_plan: the videos left to run)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.tty = self.err.is_terminal and not quiet
        self.log = open_log(log) if log else None
        self.log_path = log
        self.log_error: str | None = None  # the log could not be written (a full disk): the run fails
        self.run_fields = run_fields()  # evs version, run id, command line: in every record of this run
        self.records: list[dict] = []
        self.to_run = len(jobs)  # videos that go to a worker (the bar and n/N count these)
        self.ran = 0
        self.fatal: list[str] = []
        self.started = time.perf_counter()
        self.progress = None
        self._shown: dict[int, float] = {}  # video -> share of it the overall bar has moved by (its stages)
        if self.tty:
            self.progress = Progress(*bar_columns(), console=self.err, transient=False)
            self.overall = self.progress.add_task("videos", total=len(jobs))
            self.workers: dict[str, int] = {}
            self.progress.start()

    def record_plan(self, plan) -> None:
        """Record the videos the plan skips or fails: a finished folder is done without loading a model."""
        for rec in plan.closed():
            self._done(rec, counted=False)
        todo = plan.todo
        self.to_run, self.indexed = len(todo), todo  # the events' index is a position in `todo`
        if self.progress:  # instant skips would make the time left look shorter than it is
            self.progress.update(self.overall, total=self.to_run)
        skipped = sum(r["status"] == "skipped" for r in self.records)
        if todo and not self.quiet and skipped:
            self.err.print(f"evs: {skipped} of {len(self.jobs)} outputs exist already (skipped; --overwrite redoes "
                           "them)")

    def loading(self, preset, workers: str) -> None:
        """One line before the models load (tens of seconds on a cold disk): what loads, from where, where to."""
        if not self.quiet:
            vae = f" with VAE {preset.vae_model}" if preset.vae_model else ""
            self.err.print(f"evs: loading T2I {preset.t2i_model} and T2V {preset.t2v_model}{vae} on {workers}",
                           markup=False)

    def __call__(self, event) -> None:
        if isinstance(event, Fatal):
            self.fatal.append(f"worker {event.worker} ({event.device}): {event.error}")
            self.err.print(f"evs: error: worker {event.worker} on {event.device} could not start: {event.error}",
                           markup=False)
        elif isinstance(event, Loaded):
            self._loaded(event)
        elif isinstance(event, Started) and self.progress and event.worker in self.workers:
            # reset, not update: the per-video timer starts again for each video
            self.progress.reset(self.workers[event.worker], total=self.n_stages,
                                description=f"  {event.worker}: {one_line(self.indexed[event.index].input.name)}")
        elif isinstance(event, StageDone) and self.progress and event.worker in self.workers:
            self.progress.update(self.workers[event.worker], completed=event.stage["index"] + 1)
            # the overall bar moves with each stage (writing is the last share), so its time left moves too
            share = 1 / (self.n_stages + 1)
            self._shown[event.index] = self._shown.get(event.index, 0.0) + share
            self.progress.advance(self.overall, share)
        elif isinstance(event, Finished):
            shown = self._shown.pop(event.index, 0.0)
            if event.record["status"] == "held":
                job = self.indexed[event.index]
                self.held.append(job)
                self._held_records[id(job)] = event.record
            else:
                self._done(event.record, shown=shown)

    def closed(self, rec: dict) -> None:
        """The record of a video no worker saw (an alias linked after its video)."""
        self._done(rec, counted=False)

    def waiting(self, n: int) -> None:
        if not self.quiet:
            self.err.print(f"evs: waiting for {n} video{'' if n == 1 else 's'} that another run is refining "
                           "(--wait)", markup=False)

    def judge_again(self, free: list, plan) -> list:
        """Held videos whose claim is free now, judged as the plan judges: the records of those not to refine
        (the other run made them), and the jobs to refine (its run died), which later events index."""
        from .planning.plan import Action

        todo = []
        for job in free:
            self._forget_held(job)
            d = plan.judge(job)
            if d.action is Action.REFINE:
                todo.append(job)
            else:
                self._done(d.record(job, plan.settings))
        self.indexed = todo
        return todo

    def settle_held(self, plan) -> None:
        """Before the run ends, each video still held is judged again: one the other run finished meanwhile is
        recorded as the plan judges it now (skipped: its output exists), one still without an output as held."""
        from .planning.plan import Action

        for job in list(self.held):
            record = self._forget_held(job)
            d = plan.judge(job)
            self._done(record if d.action is Action.REFINE else d.record(job, plan.settings))

    def _forget_held(self, job) -> dict:
        self.held.remove(job)
        return self._held_records.pop(id(job))

    def _loaded(self, event: Loaded) -> None:
        if self.progress:
            self.workers[event.worker] = self.progress.add_task(f"  {event.device} idle", total=self.n_stages)
        elif not self.quiet:
            print(f"loaded\tworker {event.worker}\t{event.device}\t{time.perf_counter() - self.started:.1f} s",
                  file=sys.stderr, flush=True)

    def _done(self, rec: dict, counted: bool = True, shown: float = 0.0) -> None:
        """`shown`: the share of this video the overall bar already moved by, stage by stage."""
        rec = {**self.run_fields, **rec, "finished": _now()}
        self.records.append(rec)
        self.ran += counted
        if self.log is not None:
            self._log(rec)
        if self.progress and counted:
            self.progress.advance(self.overall, 1 - shown)
        status = rec["status"]
        if status == "failed":
            self.err.print(f"evs: error: {one_line(rec['error'])}", markup=False)
        elif not self.quiet and not self.tty:
            own = video_seconds(rec)
            extra = f"{own:.1f} s" if status == "ok" and own is not None else rec.get("reason", "")
            n = f"{self.ran}/{self.to_run}" if counted else "-"
            print(f"{n}\t{status}\t{one_line(rec['input'])}\t{one_line(rec['output'])}\t{extra}", file=sys.stderr,
                  flush=True)

    def _log(self, rec: dict) -> None:
        """One record, one line, one write; a log that cannot be written is one error line, and the run goes
        on without it (its outputs are what matters) and fails at the end."""
        line = (json.dumps(rec, default=str) + "\n").encode("utf-8")
        try:
            before = os.fstat(self.log).st_size
            written = os.write(self.log, line)
            if written != len(line):  # a full disk took part of it: take the part back if nobody wrote after it
                if os.fstat(self.log).st_size == before + written:
                    os.ftruncate(self.log, before)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as e:
            os.close(self.log)
            self.log = None
            self.log_error = (f"{self.log_path}: cannot write the log ({e.strerror}); outputs already written are "
                              "kept, and the log lacks the records from here on")
            self.err.print(f"evs: error: {one_line(self.log_error)}", markup=False)

    def close(self, summary: bool = True) -> Counter:
        for job in list(self.held):  # interrupted, or a setup error: they stay as they were seen, held
            self._done(self._forget_held(job))
        if self.progress:
            self.progress.stop()
        if self.log is not None:
            os.close(self.log)
            self.log = None
        counts = Counter(r["status"] for r in self.records)
        if summary and not self.quiet:
            if self.records:  # an interrupt before any video ended: the lines below say it, not an empty table
                self.err.print(self._summary(counts))
            for line in self._after_table():
                self.err.print(line, markup=False, highlight=False)
        elif summary and counts.get("held"):  # --quiet still says why the exit code is 75
            self.err.print(_held_line(counts["held"]), markup=False, highlight=False)
        return counts

    def _after_table(self) -> list[str]:
        """The failures again (they scrolled by), what was left undone, and where the results are."""
        lines = [f"failed: {one_line(r['error'])}" for r in self.records if r["status"] == "failed"]
        if self.log_error:
            lines.append(f"failed: {one_line(self.log_error)}")
        held = sum(r["status"] == "held" for r in self.records)
        if held:
            lines.append(_held_line(held))
        undone = len(self.jobs) - len(self.records)
        if undone:
            lines.append(f"not done: {undone} video{'' if undone == 1 else 's'} (interrupted; rerun the same "
                         "command to finish them)")
        where = os.path.commonpath([str(j.output.parent.resolve()) for j in self.jobs]) if self.jobs else None
        if where and os.path.isdir(where):  # not a folder the run made and removed again, empty
            lines.append(f"outputs: {where}" + (f"; log: {self.log_path}" if self.log_path else ""))
        return lines

    def _summary(self, counts: Counter) -> Table:
        n, wall = len(self.records), time.perf_counter() - self.started
        refined = counts.get("ok", 0)
        rate = f", {refined * 3600 / wall:.0f} videos/hour" if refined and wall > 0 else ""
        t = Table(title=f"evs refine: {n} video{'' if n == 1 else 's'} in {wall:.1f} s{rate}", title_justify="left")
        for col in ("status", "videos", "frames", "seconds (mean of each video's own steps)"):
            t.add_column(col)
        for status in ("ok", "skipped", "held", "failed"):
            recs = [r for r in self.records if r["status"] == status]
            if recs:
                secs = [s for s in map(video_seconds, recs) if s is not None]
                frames = sum(r.get("frames", 0) for r in recs)
                t.add_row(status, str(len(recs)), str(frames) if status == "ok" else "-",
                          f"{sum(secs) / len(secs):.2f}" if secs and status == "ok" else "-")
        return t


def _held_line(n: int) -> str:
    return (f"held: {n} video{'' if n == 1 else 's'} that another live run is refining (not written by this run; "
            "rerun later, or add --wait)")
