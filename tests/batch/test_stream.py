"""The pipelined batch (read N+1 and write N-1 while N is refined) equals the serial one, byte for byte,
and keeps its failure semantics: a corrupt file in the middle of a folder fails alone."""

import threading

import pytest

from evs_cli.batch.dispatch.pool import run_jobs
from evs_cli.batch.events import Finished, StageDone
from evs_cli.batch.options import Prompts, RunOptions
from evs_cli.batch.planning.outputs import plan_jobs
from evs_cli.batch.worker.job import VideoRefiner
from evs_cli.batch.worker.spec import RefineWork
from evs_cli.batch.worker.stream import run_stream
from evs_cli.engine.preset import load_preset, parse_override
from evs_cli.io.inputs import find_inputs
from evs_cli.io.video import read_video
from helpers import leftovers, make_clip


@pytest.fixture
def options(tiny_paths):
    preset = load_preset("vc2").with_overrides([
        parse_override(f"models.t2i={tiny_paths['t2i']}"), parse_override(f"models.t2v={tiny_paths['adapter']}"),
        parse_override("runtime.resize=1"), parse_override("tI=4"), parse_override("tT2V=2")])
    return lambda **kw: RunOptions(preset, prompts=Prompts("a red circle"), **kw)


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    make_clip(src / "a.mp4", frames=6, seed=1)
    make_clip(src / "b.mp4", frames=5, seed=2)
    (src / "c.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)  # corrupt, in the middle
    make_clip(src / "d.mp4", frames=7, seed=3, size=(128, 64))
    make_clip(src / "e.mp4", frames=4, seed=4)
    return src


def _run(folder, out, options):
    jobs = plan_jobs(find_inputs([str(folder)]), out, "mp4")
    events = []
    run_jobs(jobs, ["cpu"], RefineWork(options, tuple(jobs)), events.append)
    return jobs, events


def test_pipelined_outputs_equal_serial_byte_for_byte(tmp_path, folder, options):
    _, serial = _run(folder, tmp_path / "serial", options(pipelined=False))
    jobs, piped = _run(folder, tmp_path / "piped", options(pipelined=True))
    records = {e.index: e.record.as_dict() for e in piped if isinstance(e, Finished)}
    assert [records[i]["status"] for i in range(5)] == ["ok", "ok", "failed", "ok", "ok"]
    assert "c.mp4: cannot decode video" in records[2]["error"]
    for name in ("a.mp4", "b.mp4", "d.mp4", "e.mp4"):
        assert (tmp_path / "piped" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes(), name
    assert read_video(tmp_path / "piped" / "d.mp4").frames.shape == (7, 64, 128, 3)
    assert not (tmp_path / "piped" / "c.mp4").exists() and leftovers(tmp_path) == []
    # Each video's events come in order; its refinement starts only after it was taken.
    for i in range(5):
        kinds = [type(e).__name__ for e in piped if getattr(e, "index", None) == i and not isinstance(e, StageDone)]
        assert kinds == (["Taken", "Read", "Finished"] if i == 2 else ["Taken", "Read", "Started", "Finished"]), \
            (i, kinds)


def test_the_next_video_is_read_while_the_device_refines(tmp_path, folder, options, monkeypatch):
    """Overlap, observed: video N+1's read starts before video N's refinement ends."""
    refiner = VideoRefiner(options(), "cpu")
    log, lock = [], threading.Lock()

    def traced(name, fn, key):
        def wrapper(arg, *a, **k):
            with lock:
                log.append((name, "begin", key(arg)))
            result = fn(arg, *a, **k)
            with lock:
                log.append((name, "end", key(arg)))
            return result
        return wrapper

    monkeypatch.setattr(refiner, "prepare", traced("prepare", refiner.prepare, lambda job: job.input.name))
    monkeypatch.setattr(refiner, "refine", traced("refine", refiner.refine, lambda work: work.job.input.name))
    jobs = plan_jobs(find_inputs([str(folder)]), tmp_path / "out", "mp4")
    events = []
    run_stream(refiner, enumerate(jobs), "0", events.append)
    assert log.index(("prepare", "begin", "b.mp4")) < log.index(("refine", "end", "a.mp4"))
    assert sum(isinstance(e, Finished) for e in events) == 5 and leftovers(tmp_path) == []


def test_interrupted_stream_leaves_no_claim_or_temporary_file(tmp_path, folder, options, monkeypatch):
    refiner = VideoRefiner(options(), "cpu")
    real = refiner.refine

    def interrupt_on_b(work, *a, **k):
        if work.job.input.name == "b.mp4":
            raise KeyboardInterrupt
        return real(work, *a, **k)

    monkeypatch.setattr(refiner, "refine", interrupt_on_b)
    jobs = plan_jobs(find_inputs([str(folder)]), tmp_path / "out", "mp4")
    with pytest.raises(KeyboardInterrupt):
        run_stream(refiner, enumerate(jobs), "0", lambda ev: None)
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "out" / "b.mp4").exists()
