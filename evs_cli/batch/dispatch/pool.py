"""Local workers, one per device (`--devices`), for any work (worker/spec.py: refine's; tune/work.py: tune's).
With one device the work runs in this process (InProcess); with several, each worker is a spawned process that
loads the models once (LocalPool). Both are backends of the dispatcher's seam (seam.py).
A failing video never stops its worker; a worker that dies fails the videos it held. On Ctrl-C (or SIGTERM)
every worker is interrupted so that it removes its temporary files and claims before exiting.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from typing import Callable

from ...errors import EvsError, first_line
from ..events import Died, Fatal, Loaded
from ..planning.outputs import Job
from ..worker.claims import clear_dead_owner, this_process
from ..worker.claims import shutdown as shutdown_claims
from ..worker.stream import from_queue
from .seam import Seam, dispatch
from .signals import interrupt_once, interrupts_as_keyboard


def default_devices() -> list[str]:
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(n)] or ["cpu"]


def check_devices(devices: list[str]) -> None:
    """Every --devices entry names a device this machine has, checked before any model loads."""
    import torch

    for d in devices:
        try:
            dev = torch.device(d)
        except RuntimeError:
            raise EvsError(f"--devices: {d!r} is not a device (use cpu, cuda or cuda:N)") from None
        if dev.type == "cuda":
            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if n == 0:
                raise EvsError(f"--devices: {d} asked for, but CUDA is not available on this machine")
            if dev.index is not None and dev.index >= n:
                raise EvsError(f"--devices: {d} asked for, but this machine has {n} CUDA device(s)")
        elif dev.type != "cpu":
            raise EvsError(f"--devices: {d!r} is not supported (use cpu, cuda or cuda:N)")


def threads_per_worker(n: int) -> int:
    """CPU threads per worker: OMP_NUM_THREADS when set (several runs on one machine), else a fair share of
    the CPUs this process may run on (taskset, SLURM's --cpus-per-task), not of the whole machine."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, usable // n)


def run_jobs(jobs: list[Job], devices: list[str], work, on_event: Callable) -> None:
    """Run every job on these devices, as `work` says (worker/spec.py: its items are what a worker is handed, by
    the job's index); `on_event` gets the events of events.py.

    SIGTERM (timeout, SLURM, systemd) is handled as Ctrl-C: KeyboardInterrupt, after every temporary file
    and claim of the unfinished videos is removed."""
    with interrupts_as_keyboard():
        if len(devices) == 1:
            _run_here(jobs, devices[0], work, on_event)
        else:
            dispatch(LocalPool(devices, work, jobs), jobs, on_event)


def _run_here(jobs: list[Job], device: str, work, on_event: Callable) -> None:
    import torch

    torch.set_num_threads(threads_per_worker(1))
    here = InProcess(work, jobs)
    seam = Seam(jobs, here, on_event)
    threading.Thread(target=here.watch, args=(seam,), name="evs-watchdog", daemon=True).start()
    worker = work.load(device)
    seam.apply(Loaded("0", device, notes=tuple(worker.notes)))
    given = seam.ledger.hand_out()  # every video, to the one worker; each one's clock starts when it is taken
    work.serve(worker, ((i, work.items[i]) for _, i in given), "0", seam.apply)


class InProcess:
    """The one-device run's backend: its worker runs in this process, on the main thread, so that Ctrl-C reaches
    it between two steps. Nobody can kill that worker when a video is stuck inside one step (C code that never
    returns): past that video's limit and the grace, the watchdog fails it, releases every claim and temporary
    file, has the work mark the video as stuck (refine: timeouts.mark_timed_out) and ends the run with exit 1, so
    that the rerun fails that video at once and finishes the other videos."""

    max_deaths = 1

    def __init__(self, work, jobs: list[Job]):
        self.work, self.read_limit = work, work.read_limit
        self.capacity = max(1, len(jobs))

    def watch(self, seam: Seam) -> None:
        while True:
            time.sleep(1.0)
            for worker, index in seam.overdue():
                self.kill(worker, index)

    def kill(self, worker: str, index: int) -> None:
        self.work.on_stuck(index)
        print("evs: error: the run stops here (this process cannot stop a stuck step); rerun to finish "
              "the other videos (the rerun fails this one at once)", file=sys.stderr, flush=True)
        shutdown_claims()
        os._exit(1)

    def lost(self, worker: str, held: list[int], work_left: bool) -> None:
        raise AssertionError("a worker in this process does not die apart from it")


class LocalPool:
    """Spawned worker processes, each with its own inbox of videos; all report on one event queue."""

    max_deaths = 1  # a local worker dies of its video (out of memory, a crashing decoder): no retry

    def __init__(self, devices: list[str], work, jobs: list[Job]):
        self.devices, self.work, self.jobs = devices, work, jobs
        self.capacity = work.capacity
        self.ctx = mp.get_context("spawn")  # CUDA cannot be used in forked children
        self.events = self.ctx.Queue()
        self.inboxes, self.procs, self.reported = {}, {}, set()
        self.owners: dict[str, str] = {}  # worker -> its claims' owner token
        self.device_of: dict[str, str] = {}
        self.killed: set[str] = set()  # stopped for a stuck video: replaced on the same device
        self.read_limit = work.read_limit
        self.threads = threads_per_worker(len(devices))

    def start(self) -> None:
        for w, device in enumerate(self.devices):
            self._spawn(str(w), device)

    def _spawn(self, name: str, device: str) -> None:
        self.device_of[name] = device
        self.inboxes[name] = self.ctx.Queue()
        self.procs[name] = self.ctx.Process(target=_worker, daemon=True, args=(
            name, device, self.work, self.inboxes[name], self.events, self.threads, os.getpid()))
        self.procs[name].start()

    def poll(self, timeout: float) -> list:
        try:
            found = [self.events.get(timeout=timeout)]
        except queue.Empty:  # only when every event is read: a dead worker's last words come first
            dead = [w for w, p in self.procs.items() if w not in self.reported and not p.is_alive()]
            self.reported.update(dead)
            return [Died(w, f"worker {w}", f"exit code {self.procs[w].exitcode}") for w in dead]
        while len(found) < 100:
            try:
                found.append(self.events.get_nowait())
            except queue.Empty:
                break
        self.owners.update((e.worker, e.owner) for e in found if isinstance(e, Loaded))
        return found

    def give(self, worker: str, index: int) -> None:
        self.inboxes[worker].put((index, self.work.items[index]))

    def kill(self, worker: str, index: int) -> None:
        self.killed.add(worker)
        if self.procs[worker].is_alive():
            os.kill(self.procs[worker].pid, signal.SIGKILL)

    def lost(self, worker: str, held: list[int], work_left: bool) -> None:
        for i in held:
            clear_dead_owner(self.jobs[i].output, self.owners.get(worker, ""))
        if worker in self.killed and work_left:  # a stuck worker: a fresh one on its device takes the rest
            self._spawn(f"{worker}+", self.device_of[worker])

    def stalled(self, ledger) -> str | None:
        return "worker stopped before finishing" if len(self.reported) == len(self.procs) else None

    def stop(self, ledger) -> None:
        for p in self.procs.values():
            if p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in self.procs.values():
            p.join(timeout=15)
            if p.is_alive():
                p.terminate()

    def close(self) -> None:
        for w, p in self.procs.items():
            if p.is_alive():
                self.inboxes[w].put(None)
        for w, p in self.procs.items():
            p.join(timeout=30)
            self.inboxes[w].cancel_join_thread()  # a dead worker never reads its inbox: do not wait for it


def _worker(name: str, device: str, work, inbox, events, threads: int, parent: int) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, interrupt_once)
    signal.signal(signal.SIGTERM, interrupt_once)
    try:
        import torch

        torch.set_num_threads(threads)
        try:
            worker = work.load(device)
        except Exception as e:  # noqa: BLE001 - reported to the parent as this worker's fatal error
            events.put(Fatal(name, device, first_line(e)))
            return  # the parent is alive to read it: its pipe is flushed by the normal exit
        events.put(Loaded(name, device, this_process().token, tuple(worker.notes)))
        stop = threading.Event()
        work.serve(worker, from_queue(inbox, stop), name, events.put, stop)
    except KeyboardInterrupt:
        pass  # the stream has released this worker's claims; the parent reports the interrupt once
    _exit_if_orphaned(events, parent)


def _exit_if_orphaned(events, parent: int) -> None:
    """A worker whose parent is gone skips Python's and torch's teardown: on a busy machine it takes seconds
    that nothing can cut short (no Python frame is left), and no one waits for this worker's last words (a
    full pipe that no one reads would block the exit for ever). Its claims are released by now."""
    if os.getppid() == parent:
        return
    events.cancel_join_thread()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _die_with_parent(parent: int, grace: float = 3.0) -> None:
    """End this worker soon after its parent dies, even by kill -9, so that no orphan keeps claims alive and
    a rerun finds every video free. A watcher sees the parent gone (the worker is adopted by init or a
    subreaper), interrupts the worker as Ctrl-C would (it removes its temporary files and releases its
    claims) and, if that clean-up has not ended `grace` seconds later, exits at once: what is left, a rerun
    clears as after any kill -9. (Polling works everywhere; Linux's PR_SET_PDEATHSIG would not on macOS.)"""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.25)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name="evs-parent-watch", daemon=True).start()
