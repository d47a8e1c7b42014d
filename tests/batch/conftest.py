"""What the unit tests of one video's work share: a fake clock for its steps, and a video's work to time."""

from pathlib import Path

import pytest

from evs_cli.batch.planning.outputs import Job
from evs_cli.batch.worker import work as work_module
from evs_cli.batch.worker.work import VideoWork


class Clock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(work_module.time, "perf_counter", c)
    return c


def video_work(limit=None) -> VideoWork:
    """in/v.mp4's work on worker 0, seed 7, with its first step (reading) begun now."""
    w = VideoWork(Job(Path("in/v.mp4"), Path("v.mp4"), Path("out/v.mp4")), "0", "cpu", "float32", 7)
    w.limit, w.started = limit, 0.0
    w.begin_step()  # its first step (reading) begins when it is made; the dataclass took the real clock
    return w


@pytest.fixture
def make_work():
    return video_work
