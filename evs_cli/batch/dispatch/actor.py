"""A worker as a Ray actor, for any work (worker/spec.py): loaded once, it serves what the driver gives it (refine:
streaming videos, as a local worker does) in a thread of its own, and hands its events to the driver when
asked."""

from __future__ import annotations

import os
import queue
import socket
import threading

from ...errors import first_line
from ..events import Finished
from ..worker.claims import shutdown as shutdown_claims
from ..worker.claims import this_process
from ..worker.stream import from_queue


class EvsActor:
    def __init__(self, work, device: str, name: str):
        import ray
        import torch

        threads = os.environ.get("OMP_NUM_THREADS", "")  # Ray sets it to the actor's num_cpus
        if threads.isdigit() and int(threads) > 0:
            torch.set_num_threads(int(threads))
        self.work, self.name, self.device, self.error, self.crash = work, name, device, None, None
        self.node = ray.util.get_node_ip_address()
        self.inbox: queue.Queue = queue.Queue()
        self.outbox: queue.Queue = queue.Queue()
        try:
            self.worker = work.load(device)
        except Exception as e:  # noqa: BLE001 - reported to the driver as this actor's fatal error
            self.worker, self.error = None, first_line(e)
            return
        threading.Thread(target=self._serve, name="evs-serve", daemon=True).start()

    def identity(self) -> dict:
        return {"pid": os.getpid(), "host": socket.gethostname(), "node": self.node, "device": self.device,
                "error": self.error, "owner": this_process().token, "notes": list(self.worker.notes) if self.worker else []}

    def shutdown(self) -> None:
        """Release every claim and temporary file this actor holds, take none after, and exit: called by an
        interrupted driver before it kills the actor, so that nothing the actor held outlives it."""
        shutdown_claims()
        os._exit(0)

    def give(self, index: int, item) -> None:
        self.inbox.put((index, item))

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
            self.work.serve(self.worker, from_queue(self.inbox, stop), self.name, self._emit, stop)
        except BaseException as e:  # noqa: BLE001 - a bug: the driver retries this actor's videos elsewhere
            self.crash = first_line(e)

    def _emit(self, event) -> None:
        if isinstance(event, Finished):
            rec = event.record.set(actor=self.name, node=self.node)
            if rec.status == "failed":
                rec = rec.set(error=f"{rec.error} (on {socket.gethostname()}, node {self.node}, actor {self.name})")
            event = Finished(event.worker, event.index, rec)
        self.outbox.put(event)
