"""Work over a Ray cluster (`evs refine --ray`, `evs tune --ray`): one actor per GPU (CPU actors on a cluster
without GPUs), each loading the models once and serving the videos it is given (refine: streaming them,
stream.py), behind the dispatcher's seam.

Inputs and --out must be paths every node sees (a shared filesystem). An actor works on a video exactly as a
local worker does (claim, temporary name then rename, one record); the driver alone writes the log. An
actor that dies mid-video (killed, out of memory, node lost) loses nothing: the driver removes the claims and
temporary files it held and the ledger gives its videos to another actor; a video that took MAX_DEATHS
actors down is failed with the reason instead of taking the cluster down. On Ctrl-C (or SIGTERM) the driver
asks every actor to release its claims and temporary files and exit, then kills them and cleans up whatever
a killed one still held.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Callable

from ...errors import EvsError, first_line
from ..events import Died, Fatal, Loaded
from ..planning.outputs import Job
from ..worker.claims import clear_dead_owner
from .actor import EvsActor
from .ray_connect import connect, require_ray
from .seam import dispatch
from .signals import interrupts_as_keyboard

MAX_DEATHS = 2  # a video during which this many actors died is failed, not retried


def start_timeout() -> float:
    """Seconds with work queued and no actor up before the run gives up (EVS_RAY_START_TIMEOUT)."""
    return float(os.environ.get("EVS_RAY_START_TIMEOUT", 900))


def run_on_ray(jobs: list[Job], work, on_event: Callable, address: str | None = None,
               workers: int | None = None) -> None:
    """Run every job on the cluster as `work` says (worker/spec.py); the same events as pool.run_jobs, from actors
    named ray-0, ray-1, ..."""
    ray = require_ray()
    with interrupts_as_keyboard():
        connect(address)
        try:
            dispatch(RayActors(ray, jobs, work, workers), jobs, on_event)
        finally:
            ray.shutdown()


def actor_plan(total: dict, free: dict, alive_nodes: int, workers: int | None) -> tuple[int, dict, str]:
    """(actors, Ray resources per actor, device): one per GPU of the cluster, else one per node (or
    --ray-workers) sharing the CPUs that are free now (other drivers may share the cluster)."""
    gpus = int(total.get("GPU", 0))
    if gpus:
        return min(gpus, workers or gpus), {"num_gpus": 1, "num_cpus": 1}, "cuda"
    cpus = max(1, int(free.get("CPU", 0)) or int(total.get("CPU", 1)))
    n = min(cpus, workers or max(1, alive_nodes))
    return n, {"num_cpus": max(1, cpus // n)}, "cpu"


@dataclass
class _Actor:
    handle: object
    identity: dict | None = None  # pid, host, node, device: once it has started


class RayActors:
    """The Ray backend: actors started as planned, replaced when one dies while work is left."""

    max_deaths = MAX_DEATHS

    def __init__(self, ray, jobs: list[Job], work, workers: int | None):
        self.ray, self.timeout = ray, start_timeout()
        self.capacity, self.read_limit = work.capacity, work.read_limit
        # Actors run in another working directory (and on other nodes): they get absolute paths.
        self.work = work.for_cluster()
        self.jobs = [replace(j, input=j.input.resolve(), output=j.output.resolve()) for j in jobs]
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        self.planned, self.resources, self.device = actor_plan(ray.cluster_resources(), ray.available_resources(),
                                                               nodes, workers)
        self.cls = ray.remote(EvsActor)
        self.actors: dict[str, _Actor] = {}
        self.pending: dict[object, str] = {}  # an actor's outstanding identity() or events() call -> its name
        self.owners: list[dict] = []  # identities of every actor that started
        self.fatal: list[str] = []
        self.spawned = self.start_failures = 0
        self.last_up = time.time()

    def start(self) -> None:
        for _ in range(self.planned):
            self._spawn()

    def _spawn(self) -> None:
        name = f"ray-{self.spawned}"
        self.spawned += 1
        handle = self.cls.options(**self.resources, max_concurrency=4, max_restarts=0,
                                  scheduling_strategy="SPREAD").remote(self.work, self.device, name)
        self.actors[name] = _Actor(handle)
        self.pending[handle.identity.remote()] = name

    def poll(self, timeout: float) -> list:
        if not self.pending:
            return []
        ready, rest = self.ray.wait(list(self.pending), num_returns=1, timeout=timeout)
        if ready and rest:  # and whatever else is ready now
            ready += self.ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        found = []
        for ref in ready:
            name = self.pending.pop(ref)
            found += self._events(name, ref) if self.actors[name].identity else self._started(name, ref)
        return found

    def _started(self, name: str, ref) -> list:
        from ray.exceptions import RayActorError

        actor = self.actors[name]
        try:
            ident = self.ray.get(ref)
        except RayActorError as e:
            self.actors.pop(name)
            self.start_failures += 1
            if self.start_failures <= 2 * self.planned:
                self._spawn()
            else:
                self.fatal.append(f"actor {name} could not start: {first_line(e)}")
            return []
        where = f"{self.device} on {ident['host']}"
        if ident["error"]:
            self.actors.pop(name)
            self.ray.kill(actor.handle, no_restart=True)
            self.fatal.append(ident["error"])
            return [Fatal(name, where, ident["error"])]
        actor.identity = ident
        self.owners.append(ident)
        self.last_up = time.time()
        self.pending[actor.handle.events.remote()] = name
        return [Loaded(name, where, notes=tuple(ident.get("notes", ())))]

    def _events(self, name: str, ref) -> list:
        from ray.exceptions import RayActorError, RayTaskError

        try:
            found = self.ray.get(ref)
        except (RayActorError, RayTaskError) as e:  # killed, or its stream crashed: gone either way
            return [Died(name, f"actor {name} on {self.actors[name].identity['host']}", first_line(e))]
        self.pending[self.actors[name].handle.events.remote()] = name
        return found

    def give(self, worker: str, index: int) -> None:
        self.actors[worker].handle.give.remote(index, self.work.items[index])

    def kill(self, worker: str, index: int) -> None:
        self.ray.kill(self.actors[worker].handle, no_restart=True)

    def lost(self, worker: str, held: list[int], work_left: bool) -> None:
        actor = self.actors.pop(worker)
        self.pending = {r: n for r, n in self.pending.items() if n != worker}
        self.ray.kill(actor.handle, no_restart=True)
        for i in held:
            clear_dead_owner(self.jobs[i].output, actor.identity["owner"])
        if work_left:
            self._spawn()

    def stalled(self, ledger) -> str | None:
        if self.pending:
            up = any(a.identity for a in self.actors.values())
            if not up and time.time() - self.last_up > self.timeout:
                return (f"no Ray actor with {self.resources} started within {self.timeout:.0f} s (does the cluster "
                        "have these resources free?)")
            return None
        if self.fatal and not ledger.finished:
            raise EvsError(f"no Ray actor could start: {self.fatal[0]}")
        return "no Ray actor left to refine it" + (f" ({self.fatal[-1]})" if self.fatal else "")

    def stop(self, ledger) -> None:
        """Have every actor release what it holds and exit, kill those that do not within seconds, wait until
        each is gone (its calls fail), then remove anything a killed one still held."""
        exits = [a.handle.shutdown.remote() for a in self.actors.values() if a.identity]
        self.pending.update((ref, "-") for ref in exits)
        self.ray.wait(exits, num_returns=len(exits), timeout=10)
        for a in self.actors.values():
            self.ray.kill(a.handle, no_restart=True)
        deadline = time.time() + 30
        while self.pending and time.time() < deadline:
            ready, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=1.0)
            for ref in ready:
                self.pending.pop(ref, None)
        # Every unfinished video any actor was given, against every actor: an interrupt can land between
        # handing a video out and the ledger recording who holds it.
        for i in ledger.given - ledger.finished:
            for owner in self.owners:
                clear_dead_owner(self.jobs[i].output, owner["owner"])

    def close(self) -> None:
        for a in self.actors.values():
            self.ray.kill(a.handle, no_restart=True)
