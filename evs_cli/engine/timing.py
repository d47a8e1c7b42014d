"""Timing that never stalls the device: CUDA events recorded in stream order, read once at the end.

Waiting for the GPU after every stage (to read a host clock) would leave it idle while the host
prepares the next stage. Events cost nothing in the stream; `resolve()` waits once, for the last one.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import torch


class Clock:
    """Named spans on one device. On a CPU the host clock is exact, since CPU work is synchronous."""

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"
        self.device = device
        self.spans: dict[str, tuple] = {}

    def _now(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record(torch.cuda.current_stream(self.device))
            return event
        return time.perf_counter()

    @contextmanager
    def span(self, name: str):
        start = self._now()
        yield
        self.spans[name] = (start, self._now())

    def resolve(self) -> dict[str, float]:
        """Seconds per span; on CUDA this waits for the last recorded event (the one sync)."""
        if not self.spans:
            return {}
        if self.cuda:
            list(self.spans.values())[-1][1].synchronize()
            return {k: s.elapsed_time(e) / 1000.0 for k, (s, e) in self.spans.items()}
        return {k: e - s for k, (s, e) in self.spans.items()}
