"""Keep the device busy over a folder: while it refines video N, one thread reads (decodes) video N+1
and another writes (encodes, evaluates, renames) video N-1.

The queues between the steps hold one video each, so at most four videos are in memory however long
the folder is. Every step already turns a video's failure into its record (job.py), so a bad file still
fails alone. On an interrupt (Ctrl-C, SIGTERM) the readers stop taking videos, the video being written
is finished, and every other video in flight has its temporary file removed and its claim released.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable

from .job import VideoRefiner
from .outputs import Job

_END = object()


def run_serial(refiner: VideoRefiner, jobs: Iterable[tuple[int, Job]], worker: str,
               emit: Callable[[dict], None]) -> None:
    """One video at a time (RunOptions.pipelined = False): the reference the stream must equal."""
    for i, job in jobs:
        emit({"event": "taken", "worker": worker, "index": i})
        emit({"event": "start", "worker": worker, "index": i})
        rec = refiner.process(job, worker, on_stage=lambda r, i=i: emit(
            {"event": "stage", "worker": worker, "index": i, "stage": r.as_dict()}))
        emit({"event": "done", "worker": worker, "index": i, "record": rec})


def run_stream(refiner: VideoRefiner, jobs: Iterable[tuple[int, Job]], worker: str,
               emit: Callable[[dict], None]) -> None:
    """Refine (index, job) pairs in order, three at a time; emit the same events as run_serial."""
    lock = threading.Lock()

    def say(ev: dict) -> None:
        with lock:
            emit({**ev, "worker": worker})

    to_refine: queue.Queue = queue.Queue(maxsize=1)
    to_write: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    crashed: list[BaseException] = []

    def read() -> None:
        try:
            for i, job in jobs:
                if stop.is_set():
                    return
                say({"event": "taken", "index": i})
                work = refiner.prepare(job, worker)
                if not _put(to_refine, (i, work), stop):
                    refiner.abandon(work)
                    return
        except BaseException as e:  # noqa: BLE001 - a bug here must end the run, not hang it
            crashed.append(e)
            stop.set()
        finally:
            _put(to_refine, _END, stop)

    def write() -> None:
        try:
            while True:
                item = to_write.get()
                if item is _END:
                    return
                i, work = item
                say({"event": "done", "index": i, "record": refiner.finish(work)})
        except BaseException as e:  # noqa: BLE001
            crashed.append(e)
            stop.set()

    threads = [threading.Thread(target=read, name="evs-read", daemon=True),
               threading.Thread(target=write, name="evs-write", daemon=True)]
    for t in threads:
        t.start()
    work = None  # the video the device holds, owned by this thread until the writer takes it
    try:
        while not stop.is_set():
            item = _get(to_refine, stop)
            if item is _END or item is None:
                break
            i, work = item
            if work.open:
                say({"event": "start", "index": i})
            refiner.refine(work, on_stage=lambda r, i=i: say({"event": "stage", "index": i, "stage": r.as_dict()}))
            if _put(to_write, (i, work), stop):
                work = None
    except BaseException:
        stop.set()
        raise
    finally:
        if work is not None:
            refiner.abandon(work)
        if stop.is_set():  # interrupted: drop what waits to be written; the video being written completes
            _drain(to_write, refiner)
        to_write.put(_END)
        for t in threads:
            t.join()
        _drain(to_refine, refiner)
        _drain(to_write, refiner)
    if crashed:
        raise crashed[0]


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put, unless the run stops first (then False: the caller still owns the item)."""
    while True:
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            if stop.is_set():
                return False


def _get(q: queue.Queue, stop: threading.Event):
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    return None


def _drain(q: queue.Queue, refiner: VideoRefiner) -> None:
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return
        if item is not _END:
            refiner.abandon(item[1])

