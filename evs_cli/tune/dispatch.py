"""Where a tune's videos are refined: in this process (one device), in one spawned process per device
(--devices cuda:0,cuda:1), or in one Ray actor per GPU (--ray). Every backend hands back the same messages,
so the driver keeps records the same way: ("record", rec) as each pair is scored, then ("done", index,
calls, error) once per video.
"""

from __future__ import annotations

import queue as queues

from .worker import TuneOptions, TuneWorker, VideoTask, run_safely


def run_tasks(tasks: list[VideoTask], options: TuneOptions, devices: list[str], on_message, ray_address=None,
              use_ray: bool = False) -> None:
    """Every task once; `on_message(msg)` in this process for each message. EvsError: no worker could start."""
    if use_ray:
        from .on_ray import run_on_ray

        run_on_ray(tasks, options, on_message, ray_address)
    elif len(devices) == 1:
        _in_process(tasks, options, devices[0], on_message)
    else:
        _in_processes(tasks, options, devices, on_message)


def _in_process(tasks, options, device, on_message) -> None:
    worker = TuneWorker(options, device)
    for note in worker.notes:
        on_message(("note", note))
    for index, task in enumerate(tasks):
        calls, error = run_safely(worker, task, lambda rec: on_message(("record", rec)))
        on_message(("done", index, calls, error))


def serve(options: TuneOptions, device: str, tasks, results) -> None:
    """A worker process: load once, then take (index, task) until None."""
    from ..errors import EvsError

    try:
        worker = TuneWorker(options, device)
    except EvsError as e:
        results.put(("fatal", device, str(e)))
        return
    for note in worker.notes:
        results.put(("note", note))
    while (item := tasks.get()) is not None:
        index, task = item
        results.put(("took", index, device))
        calls, error = run_safely(worker, task, lambda rec: results.put(("record", rec)))
        results.put(("done", index, calls, error))


def _in_processes(tasks, options, devices, on_message) -> None:
    import multiprocessing as mp

    from ..errors import EvsError

    ctx = mp.get_context("spawn")  # CUDA cannot be forked
    todo, results = ctx.Queue(), ctx.Queue()
    for item in enumerate(tasks):
        todo.put(item)
    for _ in devices:
        todo.put(None)
    procs = {d: ctx.Process(target=serve, args=(options, d, todo, results), daemon=True) for d in devices}
    for p in procs.values():
        p.start()
    held: dict[str, int] = {}  # device -> the video it works on
    left, fatal = set(range(len(tasks))), []
    try:
        while left:
            try:
                msg = results.get(timeout=0.5)
            except queues.Empty:
                _reap(procs, held, left, on_message)
                if not any(p.is_alive() for p in procs.values()) and left:
                    if len(fatal) == len(devices):
                        raise EvsError(fatal[0])
                    for index in sorted(left):
                        on_message(("done", index, None, f"{tasks[index].input}: no worker left to tune it"))
                    left.clear()
                continue
            if msg[0] == "took":
                held[msg[2]] = msg[1]
            elif msg[0] == "fatal":
                fatal.append(msg[2])
            elif msg[0] == "done":
                left.discard(msg[1])
                held = {d: i for d, i in held.items() if i != msg[1]}
                on_message(msg)
            else:
                on_message(msg)
    finally:
        for p in procs.values():
            if p.is_alive():
                p.terminate()
        for p in procs.values():
            p.join(timeout=10)


def _reap(procs, held, left, on_message) -> None:
    """A worker that died holding a video fails that video, alone; the others take the rest."""
    for device, p in procs.items():
        if not p.is_alive() and device in held:
            index = held.pop(device)
            if index in left:
                left.discard(index)
                on_message(("done", index, None, f"the worker on {device} died (exit {p.exitcode}) while tuning it"))
