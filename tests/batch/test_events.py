"""A run's events (batch/events.py) cross process queues and Ray: each one, a StageDone with its StageReport and
a Finished with its typed record included, comes back equal from pickling."""

import pickle
import typing

from evs_cli.batch import events
from evs_cli.batch.events import Died, Fatal, Finished, Loaded, Read, Result, StageDone, Started, Taken
from evs_cli.batch.record import VideoRecord
from evs_cli.engine.schedule import StageReport

ONE_OF_EACH = [Loaded("0", "cuda:0", "owner-token", ("a note",)), Fatal("1", "cuda:1", "out of memory"),
               Taken("0", 3), Read("0", 3), Started("0", 3, 12.5), StageDone("0", 3, StageReport(1, "t2v", "invert",
                                                                                                 [999, 874])),
               Result("0", 3, {"pair": "p", "setting": "base"}),
               Finished("0", 3, VideoRecord("in/a.mp4", "out/a.mp4", "ok", error=None, seed=7)),
               Died("1", "worker 1", "exit code -9")]


def test_every_kind_of_event_comes_back_equal_from_a_queue():
    assert {type(e) for e in ONE_OF_EACH} == set(typing.get_args(events.Event))
    for event in ONE_OF_EACH:
        assert pickle.loads(pickle.dumps(event)) == event
