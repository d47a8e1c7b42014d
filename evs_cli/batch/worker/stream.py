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
from typing import Callable, Iterable, Iterator

from ..events import Finished, Read, StageDone, Started, Taken
from ..planning.outputs import Job
from .job import VideoRefiner

_END = object()


def run_serial(refiner: VideoRefiner, jobs: Iterable[tuple[int, Job]], worker: str, emit: Callable) -> None:
    """One video at a time (RunOptions.pipelined = False): the reference the stream must equal."""
    for i, job in jobs:
        emit(Taken(worker, i))
        work = refiner.prepare(job, worker)
        emit(Read(worker, i))
        try:
            emit(Started(worker, i, work.left()))
            refiner.refine(work, on_stage=lambda r, i=i: emit(StageDone(worker, i, r)))
            rec = refiner.finish(work)
        except BaseException:
            refiner.abandon(work)
            raise
        emit(Finished(worker, i, rec))


def run_worker(refiner: VideoRefiner, jobs: Iterable[tuple[int, Job]], worker: str, emit: Callable,
               stop: threading.Event | None = None) -> None:
    """What every worker, local or on Ray, does with the videos it is given: stream them, or one by one.
    `stop` is set when the stream is interrupted (a job source that blocks should watch it: from_queue)."""
    if refiner.options.pipelined:
        run_stream(refiner, jobs, worker, emit, stop)
    else:
        run_serial(refiner, jobs, worker, emit)


def from_queue(inbox, stop: threading.Event) -> Iterator:
    """The (index, job) pairs put on `inbox` until None, or until `stop`: a reader waiting for the next video
    must not keep an interrupted worker alive (its parent, which would send None, may be dead)."""
    while not stop.is_set():
        try:
            item = inbox.get(timeout=0.2)
        except queue.Empty:
            continue
        if item is None:
            return
        yield item


def run_stream(refiner: VideoRefiner, jobs: Iterable[tuple[int, Job]], worker: str, emit: Callable,
               stop: threading.Event | None = None) -> None:
    """Refine (index, job) pairs in order, three at a time; emit the same events as run_serial."""
    lock = threading.Lock()

    def say(event) -> None:
        with lock:
            emit(event)

    to_refine: queue.Queue = queue.Queue(maxsize=1)
    to_write: queue.Queue = queue.Queue(maxsize=1)
    stop = stop or threading.Event()
    crashed: list[BaseException] = []
    read = _guarded(lambda: _read(refiner, jobs, worker, say, to_refine, stop), crashed, stop,
                    then=lambda: _put(to_refine, _END, stop))
    write = _guarded(lambda: _write(refiner, worker, say, to_write), crashed, stop)
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
                say(Started(worker, i, work.left()))
            refiner.refine(work, on_stage=lambda r, i=i: say(StageDone(worker, i, r)))
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


def _read(refiner, jobs, worker: str, say, to_refine: queue.Queue, stop: threading.Event) -> None:
    """Claim and decode the next video while the device refines this one."""
    for i, job in jobs:
        if stop.is_set():
            return
        say(Taken(worker, i))
        work = refiner.prepare(job, worker)
        say(Read(worker, i))
        if not _put(to_refine, (i, work), stop):
            refiner.abandon(work)
            return


def _write(refiner, worker: str, say, to_write: queue.Queue) -> None:
    """Encode, write and rename the last video while the device refines this one."""
    while (item := to_write.get()) is not _END:
        i, work = item
        say(Finished(worker, i, refiner.finish(work)))


def _guarded(step, crashed: list, stop: threading.Event, then=None):
    """`step` for a thread: a bug in it ends the run (re-raised by run_stream), it does not hang it."""
    def run() -> None:
        try:
            step()
        except BaseException as e:  # noqa: BLE001
            crashed.append(e)
            stop.set()
        finally:
            if then is not None:
                then()
    return run


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

