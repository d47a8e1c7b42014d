"""One video from file to file (batch/worker/job.py), its time limit: checked between steps, a video is stopped
only once its limit has passed, and never without one. On a fake clock. (Whole videos through a refiner on tiny
models: test_stream.py.)"""

import pytest

from evs_cli.batch.planning.timeouts import TimedOut
from evs_cli.batch.worker.job import VideoRefiner


def test_a_video_is_stopped_between_steps_only_once_its_limit_has_passed(clock, make_work):
    w = make_work(limit=10.0)
    clock.now = 10.0
    VideoRefiner._in_time(None, w)  # exactly its limit: not past it
    clock.now = 10.001
    with pytest.raises(TimedOut) as e:
        VideoRefiner._in_time(None, w)
    assert str(e.value) == "in/v.mp4: took longer than its time limit of 10 s (--timeout); stopped"
    clock.now = 1e9
    VideoRefiner._in_time(None, make_work())  # no limit: never stopped
