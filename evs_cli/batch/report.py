"""What a run shows: a rich progress display on a terminal, one plain line per video otherwise, and a
closing summary. (What each video ended as is the run's ledger, run_ledger.py; its log, run_log.py.)"""

from __future__ import annotations

import os
import sys
import time
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
from .events import Fatal, Loaded, StageDone, Started


def bar_columns() -> tuple:
    """What every evs progress bar shows: description, bar, n/N, elapsed, and time left."""
    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("left"), TimeRemainingColumn())


class Reporter:
    """Shows a run as the run's ledger (run_ledger.py) tells it: what loads, each worker's video and stages,
    each video's end, and the closing summary. It keeps no run state but what the display needs."""

    def __init__(self, jobs, log: Path | None, quiet: bool, n_stages: int):
        self.jobs, self.log_path, self.quiet, self.n_stages = jobs, log, quiet, n_stages
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.tty = self.err.is_terminal and not quiet
        self.to_run = len(jobs)  # videos that go to a worker (the bar and n/N count these)
        self.ran = 0
        self.started = time.perf_counter()
        self.progress = None
        self._shown: dict[int, float] = {}  # video -> share of it the overall bar has moved by (its stages)
        if self.tty:
            self.progress = Progress(*bar_columns(), console=self.err, transient=False)
            self.overall = self.progress.add_task("videos", total=len(jobs))
            self.workers: dict[str, int] = {}
            self.progress.start()

    def planned(self, to_run: int, skipped: int, total: int) -> None:
        """The plan left `to_run` of `total` videos to the workers, `skipped` of them done already."""
        self.to_run = to_run
        if self.progress:  # instant skips would make the time left look shorter than it is
            self.progress.update(self.overall, total=to_run)
        if to_run and not self.quiet and skipped:
            self.err.print(f"evs: {skipped} of {total} outputs exist already (skipped; --overwrite redoes them)")

    def loading(self, preset, workers: str) -> None:
        """One line before the models load (tens of seconds on a cold disk): what loads, from where, where to."""
        if not self.quiet:
            vae = f" with VAE {preset.vae_model}" if preset.vae_model else ""
            self.err.print(f"evs: loading T2I {preset.t2i_model} and T2V {preset.t2v_model}{vae} on {workers}",
                           markup=False)

    def show(self, event, indexed: list) -> None:
        """An event other than a video's end; `indexed`: the jobs its index refers to."""
        if isinstance(event, Fatal):
            self.error(f"worker {event.worker} on {event.device} could not start: {event.error}")
        elif isinstance(event, Loaded):
            self._loaded(event)
        elif isinstance(event, Started) and self.progress and event.worker in self.workers:
            # reset, not update: the per-video timer starts again for each video
            self.progress.reset(self.workers[event.worker], total=self.n_stages,
                                description=f"  {event.worker}: {one_line(indexed[event.index].input.name)}")
        elif isinstance(event, StageDone) and self.progress and event.worker in self.workers:
            self.progress.update(self.workers[event.worker], completed=event.stage.index + 1)
            # the overall bar moves with each stage (writing is the last share), so its time left moves too
            share = 1 / (self.n_stages + 1)
            self._shown[event.index] = self._shown.get(event.index, 0.0) + share
            self.progress.advance(self.overall, share)

    def set_aside(self, index: int) -> None:
        """A video held by another run: shown when the ledger closes it (it moved the bar by none of its stages)."""
        self._shown.pop(index, None)

    def error(self, message: str) -> None:
        self.err.print(f"evs: error: {one_line(message)}", markup=False)

    def waiting(self, n: int) -> None:
        if not self.quiet:
            self.err.print(f"evs: waiting for {n} video{'' if n == 1 else 's'} that another run is refining "
                           "(--wait)", markup=False)

    def _loaded(self, event: Loaded) -> None:
        if self.progress:
            self.workers[event.worker] = self.progress.add_task(f"  {event.device} idle", total=self.n_stages)
        elif not self.quiet:
            print(f"loaded\tworker {event.worker}\t{event.device}\t{time.perf_counter() - self.started:.1f} s",
                  file=sys.stderr, flush=True)

    def done(self, rec: dict, counted: bool = True, index: int | None = None) -> None:
        """A video's record, closed. `counted`: given to a worker this run; `index`: its event's, whose stages
        the overall bar has already moved by."""
        shown = self._shown.pop(index, 0.0) if index is not None else 0.0
        self.ran += counted
        if self.progress and counted:
            self.progress.advance(self.overall, 1 - shown)
        status = rec["status"]
        if status == "failed":
            self.error(rec["error"])
        elif not self.quiet and not self.tty:
            own = video_seconds(rec)
            extra = f"{own:.1f} s" if status == "ok" and own is not None else rec.get("reason", "")
            n = f"{self.ran}/{self.to_run}" if counted else "-"
            print(f"{n}\t{status}\t{one_line(rec['input'])}\t{one_line(rec['output'])}\t{extra}", file=sys.stderr,
                  flush=True)

    def close(self, records: list[dict], counts: Counter, log_error: str | None, summary: bool = True) -> None:
        if self.progress:
            self.progress.stop()
        if summary and not self.quiet:
            if records:  # an interrupt before any video ended: the lines below say it, not an empty table
                self.err.print(self._summary(records, counts))
            for line in self._after_table(records, log_error):
                self.err.print(line, markup=False, highlight=False)
        elif summary and counts.get("held"):  # --quiet still says why the exit code is 75
            self.err.print(_held_line(counts["held"]), markup=False, highlight=False)

    def _after_table(self, records: list[dict], log_error: str | None) -> list[str]:
        """The failures again (they scrolled by), what was left undone, and where the results are."""
        lines = [f"failed: {one_line(r['error'])}" for r in records if r["status"] == "failed"]
        if log_error:
            lines.append(f"failed: {one_line(log_error)}")
        held = sum(r["status"] == "held" for r in records)
        if held:
            lines.append(_held_line(held))
        undone = len(self.jobs) - len(records)
        if undone:
            lines.append(f"not done: {undone} video{'' if undone == 1 else 's'} (interrupted; rerun the same "
                         "command to finish them)")
        where = os.path.commonpath([str(j.output.parent.resolve()) for j in self.jobs]) if self.jobs else None
        if where and os.path.isdir(where):  # not a folder the run made and removed again, empty
            lines.append(f"outputs: {where}" + (f"; log: {self.log_path}" if self.log_path else ""))
        return lines

    def _summary(self, records: list[dict], counts: Counter) -> Table:
        n, wall = len(records), time.perf_counter() - self.started
        refined = counts.get("ok", 0)
        rate = f", {refined * 3600 / wall:.0f} videos/hour" if refined and wall > 0 else ""
        t = Table(title=f"evs refine: {n} video{'' if n == 1 else 's'} in {wall:.1f} s{rate}", title_justify="left")
        for col in ("status", "videos", "frames", "seconds (mean of each video's own steps)"):
            t.add_column(col)
        for status in ("ok", "skipped", "held", "failed"):
            recs = [r for r in records if r["status"] == status]
            if recs:
                secs = [s for s in map(video_seconds, recs) if s is not None]
                frames = sum(r.get("frames", 0) for r in recs)
                t.add_row(status, str(len(recs)), str(frames) if status == "ok" else "-",
                          f"{sum(secs) / len(secs):.2f}" if secs and status == "ok" else "-")
        return t


def _held_line(n: int) -> str:
    return (f"held: {n} video{'' if n == 1 else 's'} that another live run is refining (not written by this run; "
            "rerun later, or add --wait)")
