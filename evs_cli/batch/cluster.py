"""Refine over a Ray cluster (`evs refine --ray`): one actor per GPU (CPU actors on a cluster without GPUs),
each loading the models once, fed by this driver two videos at a time as actors free up.

Inputs and --out must be paths every node sees (a shared filesystem). An actor works on a video exactly as a
local worker does (claim, temporary name then rename, one record); the driver alone writes the log. An
actor that dies mid-video (killed, out of memory, node lost) loses nothing: the driver removes the claims and
temporary files it held and gives its videos to another actor; a video that took MAX_DEATHS actors down is
failed with the reason instead of taking the cluster down. On Ctrl-C (or SIGTERM) the driver kills every
actor, then cleans up what they held.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..errors import EvsError
from .job import RunOptions, VideoRefiner
from .outputs import Job, clear_dead_owner
from .pool import interrupts_as_keyboard

IN_FLIGHT = 2  # videos per actor: one on its device, the next one being read (threads of the actor)
MAX_DEATHS = 2  # a video during which this many actors died is failed, not retried
START_TIMEOUT = float(os.environ.get("EVS_RAY_START_TIMEOUT", 900))  # seconds with work queued and no actor up
PASSED_ENV = ("HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_OFFLINE", "DIFFUSERS_VERBOSITY",
              "TRANSFORMERS_VERBOSITY")  # what the driver's user set for model loading holds on every node


def require_ray():
    try:
        import ray
    except ImportError:
        raise EvsError("--ray needs Ray, an optional extra: pip install 'evs_cli[ray]'") from None
    return ray


def connect(address: str | None) -> None:
    """Ray's own order: ADDRESS, else RAY_ADDRESS, else the cluster `ray start` left on this machine, else a
    new local instance."""
    ray = require_ray()
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    target, source = _where(address)
    if target and target not in ("auto", "local") and not target.startswith("ray://") and not _answers(target):
        raise EvsError(f"--ray: no Ray cluster answers at {target} ({source}); start one with `ray start --head`"
                       + (", or remove that stale file" if source.endswith("ray_current_cluster") else ""))
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                 runtime_env={"env_vars": env} if env else None)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = address or os.environ.get("RAY_ADDRESS") or "the local cluster"
        raise EvsError(f"--ray: cannot connect to {where}: {str(e).strip().splitlines()[0]}") from None


def _where(address: str | None) -> tuple[str | None, str]:
    """The address ray.init would use, and where it comes from (None: Ray starts a local instance)."""
    if address:
        return address, "--ray-address"
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    current = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray" / "ray_current_cluster"
    try:
        return current.read_text().strip() or None, str(current)
    except OSError:
        return None, ""


def _answers(address: str, timeout: float = 5.0) -> bool:
    """Whether something listens at host:port. ray.init retries a dead address for minutes (a cluster
    killed without `ray stop` leaves its address in ray_current_cluster); this fails in seconds instead."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return True  # not host:port: let Ray interpret it
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def run_on_ray(jobs: list[Job], options: RunOptions, on_event: Callable[[dict], None], address: str | None = None,
               workers: int | None = None) -> None:
    """Run every job on the cluster; the same events as pool.run_jobs, from actors named ray-0, ray-1, ..."""
    ray = require_ray()
    with interrupts_as_keyboard():
        connect(address)
        try:
            _Driver(ray, jobs, options, on_event, workers).run()
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


class RefineActor:
    """A VideoRefiner in a Ray actor. `process` streams the events of one video; two may run at once (one
    reads while the other holds the device)."""

    def __init__(self, options: RunOptions, device: str, name: str):
        import torch

        threads = os.environ.get("OMP_NUM_THREADS", "")  # Ray sets it to the actor's num_cpus
        if threads.isdigit() and int(threads) > 0:
            torch.set_num_threads(int(threads))
        import ray

        self.name, self.device, self.error = name, device, None
        self.node = ray.util.get_node_ip_address()
        self.device_lock = threading.Lock()
        try:
            self.refiner = VideoRefiner(options, device)
        except Exception as e:  # noqa: BLE001 - reported to the driver as this actor's fatal error
            self.refiner, self.error = None, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__

    def identity(self) -> dict:
        return {"pid": os.getpid(), "host": socket.gethostname(), "node": self.node,
                "device": self.device, "error": self.error}

    def process(self, index: int, job: Job):
        def event(kind: str, **extra) -> dict:
            return {"event": kind, "worker": self.name, "index": index, **extra}

        yield event("taken")
        work = self.refiner.prepare(job, self.name)
        try:
            with self.device_lock:
                if work.open:
                    yield event("start")
                for stage in _as_they_come(lambda report: self.refiner.refine(work, on_stage=report)):
                    yield event("stage", stage=stage.as_dict())
            rec = self.refiner.finish(work)
        except BaseException:
            self.refiner.abandon(work)
            raise
        rec.update(actor=self.name, node=self.node)
        if rec["status"] == "failed":
            rec["error"] += f" (on {socket.gethostname()}, node {self.node}, actor {self.name})"
        yield event("done", record=rec)


_END = object()


def _as_they_come(run: Callable[[Callable], object]):
    """Yield what `run` reports through its callback while it runs (in a thread), then re-raise its error."""
    reports: queue.Queue = queue.Queue()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            run(reports.put)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(e)
        finally:
            reports.put(_END)

    threading.Thread(target=target, name="evs-refine", daemon=True).start()
    while (item := reports.get()) is not _END:
        yield item
    if failure:
        raise failure[0]


@dataclass
class _Actor:
    handle: object
    device: str
    started: float
    identity: dict | None = None
    held: set[int] = field(default_factory=set)


class _Driver:
    def __init__(self, ray, jobs: list[Job], options: RunOptions, on_event, workers: int | None):
        self.ray, self.jobs, self.on_event = ray, jobs, on_event
        self.options = _absolute_models(options)
        # Actors run in another working directory (and on other nodes): they get absolute paths.
        self.remote_jobs = [replace(j, input=j.input.resolve(), output=j.output.resolve()) for j in jobs]
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        self.planned, self.resources, self.device = actor_plan(ray.cluster_resources(), ray.available_resources(),
                                                               nodes, workers)
        self.cls = ray.remote(RefineActor)
        self.queue: deque[int] = deque(range(len(jobs)))
        self.deaths: Counter = Counter()
        self.death_reasons: dict[int, list[str]] = {}
        self.finished: set[int] = set()
        self.dispatched: set[int] = set()  # videos ever given to an actor (what an interrupt must clean up)
        self.owners: list[dict] = []  # identities of every actor that started
        self.actors: dict[str, _Actor] = {}
        self.starting: dict[object, str] = {}  # identity ref -> actor name
        self.streams: dict[object, tuple[str, int]] = {}  # generator -> (actor name, video index)
        self.spawned = self.start_failures = 0
        self.fatal: list[str] = []
        self.last_up = time.time()

    def run(self) -> None:
        try:
            for _ in range(self.planned):
                self._spawn()
            while len(self.finished) < len(self.jobs):
                refs = list(self.starting) + list(self.streams)
                if not refs:
                    self._no_actor_left()
                    return
                ready, _ = self.ray.wait(refs, num_returns=1, timeout=1.0)
                for ref in ready:
                    if ref in self.starting:
                        self._started(ref)
                    elif ref in self.streams:
                        self._next_event(ref)
                if not any(a.identity for a in self.actors.values()) and time.time() - self.last_up > START_TIMEOUT:
                    self._fail_rest(f"no Ray actor with {self.resources} started within {START_TIMEOUT:.0f} s "
                                    "(does the cluster have these resources free?)")
                    return
        except KeyboardInterrupt:
            self._stop_all()
            raise
        finally:
            for a in self.actors.values():
                self.ray.kill(a.handle, no_restart=True)

    def _spawn(self) -> None:
        name = f"ray-{self.spawned}"
        self.spawned += 1
        handle = self.cls.options(**self.resources, max_concurrency=IN_FLIGHT + 1, max_restarts=0,
                                  scheduling_strategy="SPREAD").remote(self.options, self.device, name)
        self.actors[name] = _Actor(handle, self.device, time.time())
        self.starting[handle.identity.remote()] = name

    def _started(self, ref) -> None:
        from ray.exceptions import RayActorError

        name = self.starting.pop(ref)
        actor = self.actors[name]
        try:
            ident = self.ray.get(ref)
        except RayActorError as e:
            self.actors.pop(name)
            self.start_failures += 1
            if self.start_failures <= 2 * self.planned and self.queue:
                self._spawn()
            else:
                self.fatal.append(f"actor {name} could not start: {_first_line(e)}")
            return
        if ident["error"]:
            self.actors.pop(name)
            self.ray.kill(actor.handle, no_restart=True)
            self.fatal.append(ident["error"])
            self.on_event({"event": "fatal", "worker": name, "device": f"{actor.device} on {ident['host']}",
                           "error": ident["error"]})
            return
        actor.identity = ident
        self.owners.append(ident)
        self.last_up = time.time()
        self.on_event({"event": "loaded", "worker": name, "device": f"{actor.device} on {ident['host']}"})
        self._feed(name)

    def _feed(self, name: str) -> None:
        actor = self.actors[name]
        while len(actor.held) < IN_FLIGHT and self.queue:
            i = self.queue.popleft()
            self.dispatched.add(i)
            self.streams[actor.handle.process.remote(i, self.remote_jobs[i])] = (name, i)
            actor.held.add(i)

    def _next_event(self, gen) -> None:
        from ray.exceptions import RayActorError, RayTaskError

        name, i = self.streams[gen]
        try:
            ev = self.ray.get(next(gen))
        except StopIteration:
            del self.streams[gen]
            return
        except RayActorError as e:
            self._actor_died(name, _first_line(e))
            return
        except RayTaskError as e:  # our code raised in the actor: that video fails, the actor goes on
            del self.streams[gen]
            self.actors[name].held.discard(i)
            self._finish(i, self._failed(i, f"{self.jobs[i].input}: {_first_line(e)}", name))
            self._feed(name)
            return
        if ev["event"] == "done":
            self.actors[name].held.discard(i)
            self._finish(i, ev["record"])
            self._feed(name)
            return
        self.on_event(ev)

    def _finish(self, i: int, rec: dict) -> None:
        rec.update(input=str(self.jobs[i].input), output=str(self.jobs[i].output))  # as the user named them
        if self.deaths[i]:
            rec.update(retried=self.deaths[i], retry_reasons=self.death_reasons[i])
        self.finished.add(i)
        self.on_event({"event": "done", "worker": rec.get("worker", "-"), "index": i, "record": rec})

    def _failed(self, i: int, error: str, worker: str = "-") -> dict:
        return {"input": str(self.jobs[i].input), "output": str(self.jobs[i].output), "status": "failed",
                "worker": worker, "error": error}

    def _actor_died(self, name: str, reason: str) -> None:
        actor = self.actors.pop(name, None)
        if actor is None:
            return
        self.streams = {g: v for g, v in self.streams.items() if v[0] != name}
        where = f"actor {name} on {actor.identity['host']}" if actor.identity else f"actor {name}"
        for i in sorted(actor.held):
            if actor.identity:
                clear_dead_owner(self.remote_jobs[i].output, actor.identity["host"], actor.identity["pid"])
            self.deaths[i] += 1
            self.death_reasons.setdefault(i, []).append(f"{where} died: {reason}")
            if self.deaths[i] >= MAX_DEATHS:
                self._finish(i, self._failed(i, f"{self.jobs[i].input}: {MAX_DEATHS} Ray actors died while "
                                                f"refining it (last: {where}: {reason})", name))
            else:
                self.queue.appendleft(i)
        if self.queue or any(a.held for a in self.actors.values()):
            self._spawn()

    def _no_actor_left(self) -> None:
        if self.fatal and not self.finished:
            raise EvsError(f"no Ray actor could start: {self.fatal[0]}")
        self._fail_rest("no Ray actor left to refine it" + (f" ({self.fatal[-1]})" if self.fatal else ""))

    def _fail_rest(self, why: str) -> None:
        for i in range(len(self.jobs)):
            if i not in self.finished:
                self._finish(i, self._failed(i, f"{self.jobs[i].input}: {why}"))

    def _stop_all(self) -> None:
        """Kill every actor, wait until each is gone (its streams fail), then remove what they held."""
        from ray.exceptions import RayActorError, RayTaskError

        for a in self.actors.values():
            self.ray.kill(a.handle, no_restart=True)
        deadline = time.time() + 30
        while self.streams and time.time() < deadline:
            ready, _ = self.ray.wait(list(self.streams), num_returns=1, timeout=1.0)
            for gen in ready:
                try:
                    self.ray.get(next(gen))
                except (StopIteration, RayActorError, RayTaskError):
                    self.streams.pop(gen, None)
        # Every unfinished video any actor was given, against every actor: an interrupt can land between
        # handing a video out and recording who holds it.
        for i in self.dispatched - self.finished:
            for owner in self.owners:
                clear_dead_owner(self.remote_jobs[i].output, owner["host"], owner["pid"])


def _absolute_models(options: RunOptions) -> RunOptions:
    """Model paths that exist here are made absolute: actors do not share the driver's working directory."""
    models = options.preset.data["models"]
    fixed = {k: str(Path(v).resolve()) for k, v in models.items() if isinstance(v, str) and v and Path(v).exists()}
    return replace(options, preset=options.preset.with_overrides([{"models": fixed}])) if fixed else options


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
