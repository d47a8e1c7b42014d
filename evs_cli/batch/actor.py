"""A worker as a Ray actor: a VideoRefiner that streams the videos the driver gives it (stream.py, as a local
worker does) in a thread of its own, and hands its events to the driver when asked."""

from __future__ import annotations

import os
import queue
import socket
import threading

from ..errors import first_line
from .claims import shutdown as shutdown_claims
from .claims import this_process
from .events import Finished
from .options import RunOptions
from .outputs import Job
from .stream import from_queue, run_worker


class RefineActor:
    def __init__(self, options: RunOptions, device: str, name: str):
        import ray
        import torch

        threads = os.environ.get("OMP_NUM_THREADS", "")  # Ray sets it to the actor's num_cpus
        if threads.isdigit() and int(threads) > 0:
            torch.set_num_threads(int(threads))
        from .job import VideoRefiner

        self.name, self.device, self.error, self.crash = name, device, None, None
        self.node = ray.util.get_node_ip_address()
        self.inbox: queue.Queue = queue.Queue()
        self.outbox: queue.Queue = queue.Queue()
        try:
            self.refiner = VideoRefiner(options, device)
        except Exception as e:  # noqa: BLE001 - reported to the driver as this actor's fatal error
            self.refiner, self.error = None, first_line(e)
            return
        threading.Thread(target=self._serve, name="evs-serve", daemon=True).start()

    def identity(self) -> dict:
        return {"pid": os.getpid(), "host": socket.gethostname(), "node": self.node,
                "device": self.device, "error": self.error, "owner": this_process().token}

    def shutdown(self) -> None:
        """Release every claim and temporary file this actor holds, take none after, and exit: called by an
        interrupted driver before it kills the actor, so that nothing the actor held outlives it."""
        shutdown_claims()
        os._exit(0)

    def give(self, index: int, job: Job) -> None:
        self.inbox.put((index, job))

    def events(self, timeout: float = 1.0) -> list:
        """What happened since the last call (waits up to `timeout` for something); raises once the stream
        has crashed, so that the driver treats this actor as dead."""
        found = []
        try:
            found.append(self.outbox.get(timeout=timeout))
            while True:
                found.append(self.outbox.get_nowait())
        except queue.Empty:
            pass
        if self.crash and not found:
            raise RuntimeError(f"actor {self.name} stopped: {self.crash}")
        return found

    def _serve(self) -> None:
        try:
            stop = threading.Event()
            run_worker(self.refiner, from_queue(self.inbox, stop), self.name, self._emit, stop)
        except BaseException as e:  # noqa: BLE001 - a bug: the driver retries this actor's videos elsewhere
            self.crash = first_line(e)

    def _emit(self, event) -> None:
        if isinstance(event, Finished):
            rec = {**event.record, "actor": self.name, "node": self.node}
            if rec["status"] == "failed":
                rec["error"] += f" (on {socket.gethostname()}, node {self.node}, actor {self.name})"
            event = Finished(event.worker, event.index, rec)
        self.outbox.put(event)
