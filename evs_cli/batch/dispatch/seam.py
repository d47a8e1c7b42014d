"""The one seam between a planned run and where it runs. A backend starts workers, hands them videos and
reports what they say, as events (events.py); local worker processes (pool.py) and Ray actors (cluster.py)
are two backends. This loop, the same for both, keeps the ledger (ledger.py) by those events and passes
them on to the reporter, so which worker holds which video, and what its death does to each, is decided once.
"""

from __future__ import annotations

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

    def kill(self, worker: str) -> None:
        """Stop a worker stuck inside one step (a video past its time limit); it then says Died."""

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
    ledger = Ledger(jobs, backend.capacity, backend.max_deaths)
    backend.start()
    try:
        while not ledger.done:
            for event in backend.poll(0.5):
                _apply(event, ledger, backend, on_event)
            for worker, index, record in ledger.overdue(time.monotonic(), grace()):
                on_event(Finished(worker, index, record))
                backend.kill(worker)
            for worker, index in ledger.hand_out():
                backend.give(worker, index)
            why = None if ledger.done else backend.stalled(ledger)
            if why:
                for index, record in ledger.fail_rest(why):
                    on_event(Finished("-", index, record))
    except KeyboardInterrupt:
        backend.stop(ledger)
        raise
    finally:
        backend.close()


def _apply(event, ledger: Ledger, backend: Backend, on_event: Callable) -> None:
    if isinstance(event, Loaded):
        ledger.join(event.worker)
    elif isinstance(event, (Taken, Read, Started)):
        ledger.timing(event, time.monotonic(), backend.read_limit)
    elif isinstance(event, Finished):
        record = ledger.finish(event.index, event.record)
        if record is None:  # already failed with a worker that was declared dead
            return
        event = Finished(event.worker, event.index, record)
    elif isinstance(event, Died):
        held, failed = ledger.died(event.worker, event.where, event.reason)
        backend.lost(event.worker, held, ledger.busy)
        for index, record in failed:
            on_event(Finished(event.worker, index, record))
        return
    on_event(event)
