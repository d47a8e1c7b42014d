"""One worker per device, fed from a shared queue as workers free up.

With one device the work runs in this process. With several, each worker is a spawned process that
loads the models once; a failing video never stops its worker. On Ctrl-C (or SIGTERM) every worker is
interrupted so that it removes its temporary file and claim before exiting.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
from contextlib import contextmanager
from typing import Callable

from ..errors import EvsError
from .job import RunOptions, VideoRefiner
from .outputs import Job
from .stream import run_serial, run_stream


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


def _threads_per_worker(n: int) -> int:
    """CPU threads per worker: OMP_NUM_THREADS when set (several runs on one machine), else a fair share of
    the CPUs this process may run on (taskset, SLURM's --cpus-per-task), not of the whole machine."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, usable // n)


def run_jobs(jobs: list[Job], devices: list[str], options: RunOptions, on_event: Callable[[dict], None]) -> None:
    """Run every job; report events {"event": ..., "worker": ...}: "loaded" (a worker's models are ready),
    "taken" (a worker holds the video), "start" (its refinement begins), "stage", "done" (with the record).

    SIGTERM (timeout, SLURM, systemd) is handled as Ctrl-C: KeyboardInterrupt, after every temporary file
    and claim of the unfinished videos is removed.
    """
    with interrupts_as_keyboard():
        if len(devices) == 1:
            _run_here(jobs, devices[0], options, on_event)
        else:
            _run_pool(jobs, devices, options, on_event)


@contextmanager
def interrupts_as_keyboard():
    """SIGINT and SIGTERM raise KeyboardInterrupt once, inside the block (see _interrupt_once)."""
    previous = {s: signal.signal(s, _interrupt_once) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run_here(jobs, device, options, on_event) -> None:
    import torch

    torch.set_num_threads(_threads_per_worker(1))
    refiner = VideoRefiner(options, device)
    on_event({"event": "loaded", "worker": "0", "device": device})
    _runner(options)(refiner, enumerate(jobs), "0", on_event)


def _runner(options: RunOptions):
    return run_stream if options.pipelined else run_serial


def _worker(name: str, device: str, options: RunOptions, jobs: list[Job], tasks, events, threads: int) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, _interrupt_once)
    signal.signal(signal.SIGTERM, _interrupt_once)
    try:
        _work(name, device, options, jobs, tasks, events, threads)
    except KeyboardInterrupt:
        return  # the stream has released this worker's claims; the parent reports the interrupt once


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the parent dies, even by kill -9, so no orphan keeps claims alive."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _work(name: str, device: str, options: RunOptions, jobs: list[Job], tasks, events, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    try:
        refiner = VideoRefiner(options, device)
    except Exception as e:  # noqa: BLE001 - reported to the parent as this worker's fatal error
        events.put({"event": "fatal", "worker": name, "device": device, "error": str(e).splitlines()[0]})
        return
    events.put({"event": "loaded", "worker": name, "device": device})
    _runner(options)(refiner, ((i, jobs[i]) for i in iter(tasks.get, None)), name, events.put)


def _run_pool(jobs, devices, options, on_event) -> None:
    ctx = mp.get_context("spawn")  # CUDA cannot be used in forked children
    tasks, events = ctx.Queue(), ctx.Queue()
    for i in range(len(jobs)):
        tasks.put(i)
    for _ in devices:
        tasks.put(None)
    threads = _threads_per_worker(len(devices))
    procs = {str(w): ctx.Process(target=_worker, args=(str(w), d, options, jobs, tasks, events, threads), daemon=True)
             for w, d in enumerate(devices)}
    for p in procs.values():
        p.start()
    running: dict[str, set[int]] = {w: set() for w in procs}  # videos each worker holds (up to 3 when pipelined)
    done: set[int] = set()
    try:
        while len(done) < len(jobs):
            try:
                ev = events.get(timeout=0.5)
            except queue.Empty:
                dead = [w for w, p in procs.items() if not p.is_alive()]
                if dead and all(not p.is_alive() for p in procs.values()) and events.empty():
                    _fail_unfinished(jobs, done, running, on_event, "worker stopped before finishing")
                    return
                for w in dead:  # died mid-video (killed, out of memory): the videos it held failed
                    for i in sorted(running[w]):
                        done.add(i)
                        on_event({"event": "done", "worker": w, "index": i, "record": {
                            "input": str(jobs[i].input), "output": str(jobs[i].output), "status": "failed",
                            "worker": w, "error": f"{jobs[i].input}: worker {w} died (exit code {procs[w].exitcode})"}})
                    running[w].clear()
                continue
            if ev["event"] == "taken":
                running[ev["worker"]].add(ev["index"])
            elif ev["event"] == "done":
                running[ev["worker"]].discard(ev["index"])
                done.add(ev["index"])
            on_event(ev)
    except KeyboardInterrupt:
        for p in procs.values():
            if p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in procs.values():
            p.join(timeout=15)
            if p.is_alive():
                p.terminate()
        raise
    for p in procs.values():
        p.join(timeout=30)


def _fail_unfinished(jobs, done, running, on_event, why) -> None:
    for i in range(len(jobs)):
        if i not in done:
            on_event({"event": "done", "worker": "-", "index": i, "record": {
                "input": str(jobs[i].input), "output": str(jobs[i].output), "status": "failed",
                "error": f"{jobs[i].input}: {why}"}})


def _interrupt_once(signum, frame):
    """Raise KeyboardInterrupt for the first SIGINT/SIGTERM and ignore the next ones, so that a second
    signal (the terminal's Ctrl-C reaches workers, and the parent forwards it) cannot cut the clean-up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt
