"""tune/work.py: a tune's work on the batch seam: the events a worker emits for each video, and the paths an
actor elsewhere is given."""

from pathlib import Path

from evs_cli.batch.events import Finished, Result, Started, Taken
from evs_cli.errors import EvsError
from evs_cli.tune.work import TuneWork
from evs_cli.tune.worker import TuneOptions, VideoTask
from helpers import record_of


class FakeWorker:
    def run(self, task, emit):
        if task.rel.name == "bad.mp4":
            raise EvsError(f"{task.input}: cannot be read")
        emit({"pair": "p1", "setting": "input"})
        emit({"pair": "p2", "setting": "base"})
        return {"t2i": 3, "t2v": 1, "alone_t2i": 5, "alone_t2v": 1}


def _task(name, reference=None):
    return VideoTask(Path("in") / name, Path(name), reference, ((0, "p2"),), "p1")


def _work(tasks):
    from evs_cli.batch.options import RunOptions
    from evs_cli.engine.preset import load_preset

    return TuneWork(TuneOptions(RunOptions(load_preset("toy")), ("base",), (load_preset("toy"),), ("fp",)), tasks)


def test_each_video_is_taken_started_its_pairs_handed_back_as_scored_then_finished_once():
    tasks = (_task("a.mp4"), _task("bad.mp4"))
    seen = []
    _work(tasks).serve(FakeWorker(), enumerate(tasks), "1", seen.append)
    assert seen == [Taken("1", 0), Started("1", 0), Result("1", 0, {"pair": "p1", "setting": "input"}),
                    Result("1", 0, {"pair": "p2", "setting": "base"}),
                    Finished("1", 0, record_of({"input": "in/a.mp4", "status": "ok", "worker": "1",
                                            "calls": {"t2i": 3, "t2v": 1, "alone_t2i": 5, "alone_t2v": 1}})),
                    Taken("1", 1), Started("1", 1),
                    Finished("1", 1, record_of({"input": "in/bad.mp4", "status": "failed", "worker": "1",
                                            "error": "in/bad.mp4: cannot be read"}))]


def test_a_tune_holds_one_video_at_a_time_with_no_time_limit_and_gives_actors_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    work = _work((_task("a.mp4", reference=Path("ref/a.mp4")),))
    assert (work.capacity, work.read_limit) == (1, None)
    work.on_stuck(0)  # nothing to mark: no limit
    far = work.for_cluster()
    assert far.items[0].input == tmp_path / "in" / "a.mp4" and far.items[0].reference == tmp_path / "ref" / "a.mp4"
    assert far.items[0].rel == Path("a.mp4") and far.items[0].todo == ((0, "p2"),)
