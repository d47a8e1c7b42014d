"""toy/bench.run warms every engine up, untimed, before it times any: the first calls of a process pay one-time
costs that would otherwise be charged to whichever method runs first (the demo showed T2I slower than EVS)."""

import numpy as np

from evs_cli.toy import bench


class FakeEngine:
    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def refine(self, frames, prompt, seed=0):
        self.calls.append((self.name, len(frames)))
        return frames, None

    def encode(self, frames):
        self.calls.append(("vae", len(frames)))
        return frames

    def decode(self, latents):
        return latents


def test_every_engine_refines_the_first_clip_before_anything_is_timed(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "engine_for", lambda models, preset, c: FakeEngine(c, calls))
    monkeypatch.setattr(bench, "Engine", lambda models, preset: FakeEngine("vae", calls))
    clean = np.zeros((8, 16, 16, 3), np.uint8)
    clip = bench.Clip("a red circle", clean, clean + 1, np.ones((8, 16, 16), bool))
    timed = []
    monkeypatch.setattr(bench.time, "perf_counter", lambda: timed.append(len(calls)) or 0.0)
    bench.run(None, None, [clip], ("input", "t2i", "evs", "vae"))
    assert calls[:3] == [("t2i", 8), ("evs", 8), ("vae", 8)]  # the warm-up: each engine, the first clip
    assert calls[3:] == [("t2i", 8), ("evs", 8), ("vae", 8)]  # then the timed runs, whole clips
    assert min(timed) >= 3  # no clock was read before the warm-up was over
