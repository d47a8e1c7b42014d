"""The one seam between a planned run and where it runs. A backend starts workers, hands them videos and
reports what they say, as events (events.py); local worker processes (pool.py) and Ray actors (cluster.py)
are two backends, and a worker in this process (pool.InProcess) a third. One Seam, the same for all, keeps
the ledger (ledger.py) by those events and passes them on to the run's own ledger, so which worker holds which
video, and what its death or a stuck step does to each, is decided once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..events import Died, Finished, Loaded, Read, Started, Taken
from ..planning.outputs import Job
from ..planning.timeouts import grace
from .ledger import Ledger


class Backend(Protocol):
    capacity: int  # videos a worker holds at once (being read, refined, written)
    max_deaths: int  # a video during which this many workers died is failed, not retried
    read_limit: float | None  # seconds a video may take before its worker says its own limit (timeouts.py)

    def start(self) -> None:
        """Start the workers; each says Loaded (or Fatal) when its models are ready."""

    def poll(self, timeout: float) -> list:
        """The events since the last poll, a worker's death (Died) among them; waits up to `timeout`."""

    def give(self, worker: str, index: int) -> None:
        """Hand video `index` to a worker that said Loaded."""

    def kill(self, worker: str, index: int) -> None:
        """Stop a worker stuck inside one step (video `index`, past its time limit); it then says Died."""

    def lost(self, worker: str, held: list[int], work_left: bool) -> None:
        """A worker died holding `held`: remove its claims and temporary files; start another if it can."""

    def stalled(self, ledger: Ledger) -> str | None:
        """Why the run cannot go on (no worker left, none started in time), or None; EvsError for a setup
        error (no worker could ever start)."""

    def stop(self, ledger: Ledger) -> None:
        """Interrupted: end every worker and leave nothing of what they held."""

    def close(self) -> None:
        """The run is over: let the workers go."""


def dispatch(backend: Backend, jobs: list[Job], on_event: Callable) -> None:
    """Run every job on the backend's workers; `on_event` sees each event once, and one Finished per job."""
    seam = Seam(jobs, backend, on_event)
    backend.start()
    try:
        while not seam.ledger.done:
            for event in backend.poll(0.5):
                seam.apply(event)
            for worker, index in seam.overdue():
                backend.kill(worker, index)
            for worker, index in seam.ledger.hand_out():
                backend.give(worker, index)
            why = None if seam.ledger.done else backend.stalled(seam.ledger)
            if why:
                for index, record in seam.ledger.fail_rest(why):
                    on_event(Finished("-", index, record))
    except KeyboardInterrupt:
        backend.stop(seam.ledger)
        raise
    finally:
        backend.close()


class Seam:
    """The ledger kept by a backend's events, each passed on once. A backend that polls is driven by
    dispatch(); one whose worker runs on this thread (pool.InProcess) calls apply() as events happen and
    overdue() from a watchdog thread, so every method holds the lock."""

    def __init__(self, jobs: list[Job], backend: Backend, on_event: Callable):
        self.ledger = Ledger(jobs, backend.capacity, backend.max_deaths)
        self.backend, self.on_event = backend, on_event
        self.lock = threading.Lock()

    def apply(self, event) -> None:
        with self.lock:
            event = self._keep(event)
            if event is not None:
                self.on_event(event)

    def overdue(self) -> list[tuple[str, int]]:
        """(worker, video) for each video stuck past its time limit and the grace: failed here, and its worker
        is to be killed."""
        with self.lock:
            stuck = self.ledger.overdue(time.monotonic(), grace())
            for worker, index, record in stuck:
                self.on_event(Finished(worker, index, record))
            return [(worker, index) for worker, index, _ in stuck]

    def _keep(self, event):
        """Keep the ledger by `event`; what to pass on (None: nothing)."""
        ledger = self.ledger
        if isinstance(event, Loaded):
            ledger.join(event.worker)
        elif isinstance(event, (Taken, Read, Started)):
            ledger.timing(event, time.monotonic(), self.backend.read_limit)
        elif isinstance(event, Finished):
            record = ledger.finish(event.index, event.record)
            if record is None:  # already failed with a worker that was declared dead
                return None
            event = Finished(event.worker, event.index, record)
        elif isinstance(event, Died):
            held, failed = ledger.died(event.worker, event.where, event.reason)
            self.backend.lost(event.worker, held, ledger.busy)
            for index, record in failed:
                self.on_event(Finished(event.worker, index, record))
            return None
        return event
