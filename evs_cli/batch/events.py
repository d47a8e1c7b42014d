"""What happens during a run, as small typed events: workers emit them, the dispatcher keeps its ledger by
them, the run's ledger keeps and logs what they end as, the reporter shows them. Plain picklable data: they
cross process queues and Ray."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine.schedule import StageReport
    from .record import VideoRecord


@dataclass(frozen=True)
class Loaded:
    """A worker's models are ready; it takes videos from now on."""

    worker: str
    device: str
    owner: str = ""  # its claims' owner token (claims.py): what its death leaves is found by it
    notes: tuple[str, ...] = ()  # what the worker says once it is loaded (tune: measures it cannot take)


@dataclass(frozen=True)
class Fatal:
    """A worker could not start (its models did not load); it takes no video."""

    worker: str
    device: str
    error: str


@dataclass(frozen=True)
class Taken:
    """A worker began work on a video (its claim, then its decoding)."""

    worker: str
    index: int


@dataclass(frozen=True)
class Read:
    """A video is decoded; it waits for the device (its time limit does not run while it waits)."""

    worker: str
    index: int


@dataclass(frozen=True)
class Started:
    """A video's refinement on the device begins."""

    worker: str
    index: int
    left: float | None = None  # seconds its steps may still take (timeouts.py); None: no limit


@dataclass(frozen=True)
class StageDone:
    """One stage of a video is done on the device."""

    worker: str
    index: int
    stage: StageReport


@dataclass(frozen=True)
class Result:
    """Part of a video's result, handed back before it finishes (tune: one setting's scores, its own record
    in tune.jsonl), so that an interrupted run keeps it."""

    worker: str
    index: int
    record: dict


@dataclass(frozen=True)
class Finished:
    """A video is done with: refined, skipped or failed, as its record says."""

    worker: str
    index: int
    record: VideoRecord


@dataclass(frozen=True)
class Died:
    """A worker is gone (killed, out of memory, node lost) with whatever it held; seen by the dispatcher."""

    worker: str
    where: str  # "worker 1", "actor ray-0 on node-3"
    reason: str


Event = Loaded | Fatal | Taken | Read | Started | StageDone | Result | Finished | Died
