"""batch/worker/spec.py: refine's work on the seam: what a worker holds at once, its read limit, the marker a
stuck video leaves, and the absolute paths an actor elsewhere is given."""

from pathlib import Path

from evs_cli.batch.options import RunOptions
from evs_cli.batch.planning.outputs import Job
from evs_cli.batch.worker.spec import RefineWork, absolute_models
from evs_cli.engine.preset import load_preset


def _work(pipelined=True, timeout="auto", models=None):
    p = load_preset("toy").with_overrides([{"runtime": {"video_timeout": timeout}}, {"models": models or {}}])
    return RefineWork(RunOptions(p, pipelined=pipelined), (Job(Path("in/a.mp4"), Path("a.mp4"), Path("out/a.mp4")),))


def test_a_refine_worker_holds_three_videos_when_streaming_and_one_when_not():
    assert _work(pipelined=True).capacity == 3 and _work(pipelined=False).capacity == 1
    assert _work(timeout=0).read_limit is None and _work(timeout=120).read_limit > 0


def test_actors_get_absolute_inputs_outputs_and_local_models_but_hub_ids_as_they_are(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-t2i").mkdir()
    far = _work(models={"t2i": "my-t2i", "t2v": "someone/adapter"}).for_cluster()
    assert far.items[0].input == tmp_path / "in" / "a.mp4" and far.items[0].output == tmp_path / "out" / "a.mp4"
    assert far.options.preset.t2i_model == str(tmp_path / "my-t2i")
    assert far.options.preset.t2v_model == "someone/adapter"
    plain = RunOptions(load_preset("toy"))
    assert absolute_models(plain) is plain  # nothing local to fix: the same options


def test_a_stuck_video_leaves_its_marker_beside_its_output(tmp_path):
    from evs_cli.batch.planning.timeouts import timed_out_before

    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "a.mp4"
    src.write_bytes(b"x" * 100)
    p = load_preset("toy").with_overrides([{"runtime": {"video_timeout": 60}}])
    options = RunOptions(p)
    work = RefineWork(options, (Job(src, Path("a.mp4"), tmp_path / "out" / "a.mp4"),))
    (tmp_path / "out").mkdir()
    work.on_stuck(0)
    from evs_cli.batch.planning.settings import fingerprint

    assert timed_out_before(src, tmp_path / "out" / "a.mp4", fingerprint(options), 60)
