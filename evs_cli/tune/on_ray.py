"""The Ray backend of a tune: one actor per GPU of the cluster (one per node without GPUs), each loading the
models once and taking one video at a time; records come back through a Ray queue as each pair is scored,
so an interrupted tune keeps them. A video whose actor dies fails alone; no actor left fails the rest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .worker import TuneOptions, TuneWorker, VideoTask, run_safely


class TuneActor:
    def __init__(self, options: TuneOptions, device: str, messages):
        self.messages = messages
        self.worker = TuneWorker(options, device)
        for note in self.worker.notes:
            messages.put(("note", note))

    def run(self, task: VideoTask):
        return run_safely(self.worker, task, lambda rec: self.messages.put(("record", rec)))


def run_on_ray(tasks: list[VideoTask], options: TuneOptions, on_message, address: str | None = None) -> None:
    from ..batch.cluster import _absolute_models, actor_plan
    from ..batch.ray_connect import connect, require_ray
    from ..errors import EvsError, first_line

    ray = require_ray()
    connect(address)
    try:
        from ray.util.queue import Queue

        n, resources, device = actor_plan(ray.cluster_resources(), ray.available_resources(),
                                          len([x for x in ray.nodes() if x.get("Alive")]), None)
        run = _absolute_models(options.run)  # actors do not share this working directory
        options = replace(options, run=run)  # the workers load the base's models; settings share them
        tasks = [replace(t, input=t.input.resolve(), reference=t.reference.resolve() if t.reference else None)
                 for t in tasks]
        messages = Queue()
        cls = ray.remote(TuneActor)
        free = [cls.options(**resources, max_restarts=0).remote(options, device, messages) for _ in range(n)]
        pending, nxt, dead = {}, 0, []

        def drain():
            while not messages.empty():
                on_message(messages.get())

        while nxt < len(tasks) or pending:
            while free and nxt < len(tasks):
                actor = free.pop()
                pending[actor.run.remote(tasks[nxt])] = (nxt, actor)
                nxt += 1
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            drain()
            for ref in ready:
                index, actor = pending.pop(ref)
                try:
                    calls, error = ray.get(ref)
                    free.append(actor)
                except ray.exceptions.RayActorError as e:
                    calls, error = None, f"its Ray actor died ({first_line(e)})"
                    dead.append(first_line(e))
                drain()
                on_message(("done", index, calls, error))
            if not free and not pending and nxt < len(tasks):
                if nxt == 0:
                    raise EvsError(f"no Ray actor could start: {dead[0] if dead else 'none'}")
                for index in range(nxt, len(tasks)):
                    on_message(("done", index, None, f"{Path(tasks[index].input)}: no Ray actor left to tune it"))
                break
    finally:
        ray.shutdown()
