"""Which worker holds which video, for every backend: videos wait, are handed to a worker with room, and are
finished exactly once. A worker's death puts each video it held back at the front of the queue, or fails it
once it has taken `max_deaths` workers down (a video that kills every worker must not take the run down).
"""

from __future__ import annotations

import math
from collections import Counter, deque

from ..events import Read, Started, Taken
from ..planning.outputs import Job
from ..record import VideoRecord, closed_record


class Ledger:
    def __init__(self, jobs: list[Job], capacity: int, max_deaths: int = 1):
        self.jobs, self.capacity, self.max_deaths = jobs, capacity, max_deaths
        self.waiting: deque[int] = deque(range(len(jobs)))
        self.held: dict[str, set[int]] = {}  # worker -> videos it holds, for the workers that are up
        self.given: set[int] = set()  # every video ever handed out (what an interrupt must clean up)
        self.finished: set[int] = set()
        self.deaths: Counter = Counter()
        self.death_reasons: dict[int, list[str]] = {}
        self.clock: dict[int, tuple[float, float]] = {}  # video -> (since, seconds it may run) while a step runs
        self.killed: dict[str, list[int]] = {}  # worker stopped -> the stuck videos it still holds claims of

    @property
    def done(self) -> bool:
        return len(self.finished) == len(self.jobs)

    @property
    def busy(self) -> bool:
        """Work is left: waiting, or held by a worker."""
        return bool(self.waiting) or any(self.held.values())

    def join(self, worker: str) -> None:
        self.held.setdefault(worker, set())

    def hand_out(self) -> list[tuple[str, int]]:
        """(worker, video) pairs that fill every worker up to its capacity, in the order workers joined."""
        given = []
        for worker, held in self.held.items():
            while len(held) < self.capacity and self.waiting:
                i = self.waiting.popleft()
                held.add(i)
                self.given.add(i)
                given.append((worker, i))
        return given

    def finish(self, index: int, record: VideoRecord) -> VideoRecord | None:
        """The record to report for this video, or None when it was finished already (a late event)."""
        for held in self.held.values():
            held.discard(index)
        if index in self.finished:
            return None
        self.finished.add(index)
        job = self.jobs[index]
        record = record.set(input=str(job.input), output=str(job.output))  # as the user named them
        if self.deaths[index] and self.max_deaths > 1:  # retried on another worker
            record = record.set(retried=self.deaths[index], retry_reasons=self.death_reasons[index])
        return record

    def timing(self, event, now: float, read_limit: float | None) -> None:
        """Run a video's clock while its worker works on it: from Taken (it is read) to Read, and from Started
        (the device) on; not while it waits for the device between the two."""
        if isinstance(event, Taken) and read_limit is not None:
            self.clock[event.index] = (now, read_limit)
        elif isinstance(event, Read):
            self.clock.pop(event.index, None)
        elif isinstance(event, Started) and event.left is not None:
            self.clock[event.index] = (now, event.left)

    def overdue(self, now: float, grace: float) -> list[tuple[str, int, VideoRecord]]:
        """(worker, video, failed record) for each video whose clock ran past its limit and `grace` more: its
        worker is stuck inside one step and must be killed (the worker's own check did not fire)."""
        found = []
        for worker, held in self.held.items():
            for i in sorted(held - self.finished):
                since, budget = self.clock.get(i, (now, math.inf))
                if now - since > budget + grace:
                    error = (f"{self.jobs[i].input}: stuck past its time limit (--timeout); its worker was "
                             "stopped")
                    found.append((worker, i, self.finish(i, closed_record(self.jobs[i], "failed", worker,
                                                                          error=error))))
                    self.killed.setdefault(worker, []).append(i)
                    break
        return found

    def died(self, worker: str, where: str, reason: str) -> tuple[list[int], list[tuple[int, VideoRecord]]]:
        """(videos the worker held, [(video, failed record)] for those it was their last chance)."""
        held = sorted(self.held.pop(worker, set()) - self.finished)
        failed = []
        if worker in self.killed:  # its other videos are innocent: back in the queue, no death counted
            self.waiting.extendleft(reversed(held))
            return sorted(held + self.killed.pop(worker)), []  # the stuck one's claim is cleared too
        for i in reversed(held):  # back at the front in their original order
            self.deaths[i] += 1
            self.death_reasons.setdefault(i, []).append(f"{where} died: {reason}")
            if self.deaths[i] < self.max_deaths:
                self.waiting.appendleft(i)
                continue
            if self.max_deaths == 1:
                error = f"{self.jobs[i].input}: {where} died ({reason})"
            else:
                error = (f"{self.jobs[i].input}: {self.max_deaths} workers died while refining it (last: {where}: "
                         f"{reason})")
            failed.append((i, self.finish(i, closed_record(self.jobs[i], "failed", worker, error=error))))
        return held, failed[::-1]

    def fail_rest(self, why: str) -> list[tuple[int, VideoRecord]]:
        """Fail every unfinished video with `why` (no worker is left to refine it)."""
        return [(i, self.finish(i, closed_record(self.jobs[i], "failed", error=f"{self.jobs[i].input}: {why}")))
                for i in range(len(self.jobs)) if i not in self.finished]
