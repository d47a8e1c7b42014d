"""No video can hang a run (--timeout), through `evs`: a video past its limit fails alone between steps; one
stuck inside a step gets its pool worker killed and replaced while the batch goes on; a run in one process
ends at once with exit 1, leaving no claim or temporary file, and its rerun fails that video at once and
refines the rest. (A 160-frame clip's first stage takes about
15 s with the tiny models on one thread; a 4-frame clip's whole run about 1.5 s.)"""

import json

import pytest

from evs_cli.batch.planning.timeouts import video_limit
from helpers import evs, leftovers, make_clip


def _records(log):
    return {json.loads(x)["input"].rsplit("/", 1)[-1]: json.loads(x) for x in log.read_text().splitlines()}


def _folder(tmp_path, short=1):
    folder = tmp_path / "in"
    make_clip(folder / "a long clip-0.mp4", frames=160)
    for i in range(short):
        make_clip(folder / f"b short clip {i}-0.mp4", frames=4, seed=i + 1)
    return folder


def test_a_video_past_its_limit_fails_alone_between_steps(tmp_path, full_models):
    folder, log = _folder(tmp_path), tmp_path / "log.jsonl"
    r = evs("refine", folder, *full_models, "--out", tmp_path / "out", "--log", log, "--timeout", "6")
    assert r.returncode == 1
    assert [e for e in r.stderr.splitlines() if e.startswith("evs: error:")] == [
        f"evs: error: {folder / 'a long clip-0.mp4'}: took longer than its time limit of 6 s (--timeout); stopped"]
    recs = _records(log)
    assert recs["a long clip-0.mp4"]["status"] == "failed" and recs["b short clip 0-0.mp4"]["status"] == "ok"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b short clip 0-0.mp4"] and leftovers(tmp_path) == []


def test_a_pool_worker_stuck_inside_a_step_is_replaced_and_the_batch_goes_on(tmp_path, full_models):
    folder, log = _folder(tmp_path, short=3), tmp_path / "log.jsonl"
    r = evs("refine", folder, *full_models, "--out", tmp_path / "out", "--log", log, "--timeout", "3",
            "--devices", "cpu,cpu", env_extra={"EVS_TIMEOUT_GRACE": "1"})
    assert r.returncode == 1, r.stderr
    recs = _records(log)
    assert recs.pop("a long clip-0.mp4")["error"] == (f"{folder / 'a long clip-0.mp4'}: stuck past its time limit "
                                                      "(--timeout); its worker was stopped")
    assert [x["status"] for x in recs.values()] == ["ok"] * 3
    assert len(list((tmp_path / "out").iterdir())) == 3 and leftovers(tmp_path) == []


def test_a_run_in_one_process_stuck_inside_a_step_ends_with_exit_1_and_its_rerun_finishes_the_others(
        tmp_path, full_models):
    folder, log, out = _folder(tmp_path), tmp_path / "log.jsonl", tmp_path / "out"
    stuck = ["--timeout", "3"]
    r = evs("refine", folder, *full_models, "--out", out, "--log", log, *stuck, env_extra={"EVS_TIMEOUT_GRACE": "1"})
    assert r.returncode == 1
    assert r.stderr.splitlines()[-2:] == [
        f"evs: error: {folder / 'a long clip-0.mp4'}: stuck past its time limit (--timeout); its worker was stopped",
        "evs: error: the run stops here (this process cannot stop a stuck step); rerun to finish the other videos "
        "(the rerun fails this one at once)"]
    assert _records(log)["a long clip-0.mp4"]["status"] == "failed"
    assert [p.name for p in out.iterdir()] == ["a long clip-0.mp4.evs-timed-out"]  # no output, only the marker
    assert leftovers(tmp_path) == []

    again = evs("refine", folder, *full_models, "--out", out, "--log", log, *stuck)  # no grace needed: not tried
    assert again.returncode == 1, again.stderr
    assert [e for e in again.stderr.splitlines() if e.startswith("evs: error:")] == [
        f"evs: error: {folder / 'a long clip-0.mp4'}: stuck past its time limit in an earlier run with these "
        "settings and --timeout; not tried again (raise --timeout, or pass --overwrite, to try it)"]
    assert sorted(p.name for p in out.iterdir()) == ["a long clip-0.mp4.evs-timed-out", "b short clip 0-0.mp4"]
    for changed in (["--timeout", "4"], [*stuck, "--overwrite"], [*stuck, "--set", "tV=2"]):  # each tries it again
        dry = evs("refine", folder, *full_models, "--out", out, *changed, "--dry-run")
        assert [line.split("\t")[0] for line in dry.stdout.splitlines() if "a long clip" in line] == ["refine"], changed
    (folder / "a long clip-0.mp4").write_bytes(make_clip(tmp_path / "other.mp4", frames=4).read_bytes())
    changed_input = evs("refine", folder, *full_models, "--out", out, *stuck, "--log", log)  # tried, and written
    assert changed_input.returncode == 0, changed_input.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a long clip-0.mp4", "b short clip 0-0.mp4"]  # marker gone


@pytest.mark.parametrize("setting,device,expected", [
    ("auto", "cuda:0", 300 + 5 * 16 * 1280 * 2048 / 1e6),  # the paper's VC2 clip at 2x: 8.5 minutes
    ("auto", "cpu", 300 + 500 * 16 * 1280 * 2048 / 1e6),
    (120.0, "cuda:0", 120.0),
    (0, "cuda:0", None),
])
def test_the_limit_grows_with_the_work(setting, device, expected):
    assert video_limit(setting, 16, (1280, 2048), device) == pytest.approx(expected) if expected else \
        video_limit(setting, 16, (1280, 2048), device) is None
