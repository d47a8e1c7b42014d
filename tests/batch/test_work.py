"""One video's work inside a worker (batch/worker/work.py): the time its own steps take, on a fake clock, its
state, and its log record. (The between-steps check that fails a video past its limit: test_job.py.)"""

from evs_cli.batch.worker import work as work_module
from evs_cli.batch.worker.work import State


def test_only_a_videos_own_steps_count_against_its_limit_not_its_waits(clock, make_work):
    w = make_work(limit=10.0)
    clock.now = 4.0
    assert w.left() == 6.0
    w.end_step()
    assert w.spent == 4.0
    clock.now = 100.0  # waited 96 s for the device: not counted
    assert w.left() == 6.0
    w.begin_step()
    clock.now = 105.0
    assert w.left() == 1.0
    w.end_step()
    w.end_step()  # a step ended twice counts once
    assert w.spent == 9.0 and w.left() == 1.0
    assert make_work().left() is None  # no limit
    clock.now = 107.5
    assert w.own_seconds() == 9.0  # between steps: what they took
    w.begin_step()
    clock.now = 108.0
    assert w.own_seconds() == 9.5  # the running step counts as far as it has got


def test_a_videos_state_moves_once_and_says_why(make_work):
    w = make_work()
    assert w.open and w.state is State.OPEN
    w.skip("done before")
    assert not w.open and (w.state, w.reason) == (State.SKIPPED, "done before")
    w = make_work()
    w.hold()
    assert (w.state, w.reason) == (State.HELD, "claimed by another run that is still working on it")
    w = make_work()
    w.fail("in/v.mp4: broken", "Traceback ...")
    assert (w.state, w.error, w.traceback) == (State.FAILED, "in/v.mp4: broken", "Traceback ...")


def test_a_videos_record_says_what_happened_and_a_video_never_closed_is_failed(monkeypatch, make_work):
    from types import SimpleNamespace

    from evs_cli.batch.worker.work import Refined, Source
    from evs_cli.engine.schedule import StageReport

    data = {"schedule": {"tI": 3}, "t2i": {"steps": 50}, "t2v": {"steps": 8}, "runtime": {"dtype": "auto"},
            "models": {"t2i": "m"}}
    preset = SimpleNamespace(name="vc2", data=data)
    monkeypatch.setattr(work_module.socket, "gethostname", lambda: "node-1")
    w = make_work()
    rec = w.record(preset, "abcd", 5).as_dict()
    assert rec["status"] == "failed" and rec["error"] is None  # interrupted before it was closed: not done
    assert "prompt" not in rec and "frames" not in rec and "reason" not in rec and "traceback" not in rec
    w.source = Source("a red circle", "sidecar", 8.0, 16, "none", (64, 32), (64, 64), (128, 64), variable_rate=True)
    report = SimpleNamespace(stages=[StageReport(0, "t2i", "sdedit", [999], 3, 0, 0.123456)], calls={"t2i": 3},
                             inversion_calls=0)
    w.refined = Refined(16, report, None)
    w.seconds = {"total": 1.5}
    w.metrics = {"psnr": 30.0}
    w.state = State.DONE
    rec = w.record(preset, "abcd", 5).as_dict()
    assert (rec["status"], rec["error"], rec["worker"], rec["device"], rec["dtype"], rec["host"]) == (
        "ok", None, "0", "cpu", "float32", "node-1")
    assert (rec["preset"], rec["seed"], rec["base_seed"], rec["settings"]) == ("vc2", 7, 5, "abcd")
    assert rec["params"]["runtime"] == {"dtype": "float32"} and rec["params"]["schedule"] == {"tI": 3}
    assert (rec["prompt"], rec["prompt_source"], rec["input_size"], rec["working_size"], rec["output_size"]) == (
        "a red circle", "sidecar", [64, 32], [64, 64], [128, 64])
    assert rec["frame_rate"] == "variable in the input; written at a constant 8.000 fps"
    assert rec["frames"] == 16 and rec["stages"][0]["seconds"] == 0.1235 and rec["calls"] == {"t2i": 3}
    assert rec["peak_gpu_memory_bytes"] is None and rec["metrics"] == {"psnr": 30.0}
    assert rec["seconds"] == {"total": 1.5} and rec["pid"] > 0
