"""`evs tune` end to end on tiny models: the files it writes, the model calls the sharing promises, a tune
that stops and continues, one-line errors, and the work spread over two processes."""

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
import yaml
from PIL import Image

from evs_cli.engine.preset import load_preset
from helpers import evs, evs_bg, make_clip

GRID = ["--grid", "tV=1,2", "--grid", "nV=1,2"]  # with tI 3, tT2V 2, tV 3, nV 2: the base and three more


@pytest.fixture
def clips(tmp_path):
    for d, seed in (("a", 0), ("b", 1), ("c", 2)):
        make_clip(tmp_path / "in" / d / f"clip{seed}.mp4", seed=seed)
        make_clip(tmp_path / "ref" / d / f"clip{seed}.mp4", seed=seed + 10)
    return tmp_path / "in"


def _records(out):
    return [json.loads(x) for x in (out / "tune.jsonl").read_text().splitlines()]


def _videos_scored(out) -> set:
    """The videos with a record so far (a line still being appended is not read)."""
    try:
        lines = (out / "tune.jsonl").read_text().split("\n")[:-1]
    except FileNotFoundError:
        return set()
    return {json.loads(x)["video"] for x in lines if x}


def _calls(stderr: str) -> tuple[int, ...]:
    m = re.search(r"model calls: T2I (\d+), T2V (\d+); one setting at a time would make T2I (\d+), T2V (\d+)", stderr)
    assert m, stderr
    return tuple(map(int, m.groups()))


def test_tune_writes_its_records_picture_and_a_preset_that_refine_uses(clips, tmp_path, models):
    out = tmp_path / "tune"
    r = evs("tune", clips, "--preset", "vc2", *models, *GRID, "--out", out, "--sample", "2", "--prompt", "a disc",
            "--reference", tmp_path / "ref", "--weight-free")
    assert r.returncode == 0, r.stderr
    recs = _records(out)
    videos = sorted({x["video"] for x in recs})
    assert len(videos) == 2 and len({v.split("/")[0] for v in videos}) == 2  # spread over subfolders
    assert sorted(x["setting"] for x in recs if x["video"] == videos[0]) == sorted(
        ["input", "base", "tV=1 nV=1", "tV=2 nV=1", "tV=2 nV=2"])
    for x in recs:
        assert set(x["scores"]) >= {"warp_error", "flicker", "psnr", "ssim", "sharpness_gap"}
    # The T2I stage before the block (tI - tT2V + 1 = 2 calls) runs once per video instead of four times; the
    # tail (2 calls) and the block (nV calls) run for each setting.
    assert _calls(r.stderr) == (2 * (2 + 4 * 2), 2 * (2 + 1 + 1 + 2), 2 * 4 * 4, 2 * 6)
    assert "measures: warp_error, flicker, psnr, ssim, sharpness_gap" in r.stdout
    assert "the T2I model knows none of the words of 1 prompt (first: 'a disc')" in r.stderr  # the tiny one's few
    chosen = re.search(r"chosen: (.+?): consistency error", r.stdout).group(1)
    tuned = load_preset(str(out / "tuned.yaml"))
    values = dict(kv.split("=") for kv in chosen.split()) if chosen != "base" else {"tV": "3", "nV": "2"}
    assert {k: str(tuned.data["schedule"][k]) for k in values} == values
    assert tuned.data["schedule"]["tI"] == 3 and tuned.data["name"] == "vc2-tuned"
    head = (out / "tuned.yaml").read_text().splitlines()[:5]
    assert head[0].startswith("# Made by `evs tune` from preset") and "Rule: " in head[1]
    assert "Sample: 2 videos" in head[2] and head[3].startswith("# Chosen:") and head[4].startswith("# Base:")
    assert Image.open(out / "tradeoff.png").size == (900, 680)
    shown = evs("presets", "show", out / "tuned.yaml")
    assert shown.returncode == 0 and yaml.safe_load(shown.stdout)["schedule"] == tuned.data["schedule"]
    dry = evs("refine", clips / "a", "--preset", out / "tuned.yaml", "--prompt", "x", "--dry-run")
    assert dry.returncode == 0, dry.stderr

    made = (out / "tuned.yaml").read_text()
    again = evs("tune", clips, "--preset", "vc2", *models, *GRID, "--out", out, "--sample", "2", "--prompt",
                "a disc", "--reference", tmp_path / "ref", "--weight-free")
    assert again.returncode == 0 and "model calls" not in again.stderr  # nothing refined twice
    assert "8 pairs already scored" in again.stderr and len(_records(out)) == len(recs)
    assert (out / "tuned.yaml").read_text() == made


def test_an_interrupted_tune_keeps_its_pairs_and_continues_without_redoing_them(clips, tmp_path, models):
    out = tmp_path / "tune"
    args = ["tune", clips, "--preset", "vc2", *models, "--out", out, "--sample", "3", "--prompt", "a disc",
            "--grid", "tV=2,4,5,6", "--weight-free"]
    p = evs_bg(*args)
    deadline = time.time() + 300
    while time.time() < deadline and not ((out / "tune.jsonl").exists() and
                                          len((out / "tune.jsonl").read_text().splitlines()) >= 4):
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "interrupted; every pair scored so far is kept in" in err
    assert not (out / "tuned.yaml").exists() and not (out / "tradeoff.png").exists()
    first = _records(out)
    assert 4 <= len(first) < 3 * 6  # three videos x (input + base + four settings) is the whole tune
    r = evs(*args)
    assert r.returncode == 0, r.stderr
    recs = _records(out)
    assert len({x["pair"] for x in recs}) == len(recs) == 3 * 6
    # Only the new pairs were refined: the T2V calls made now are those of the records appended now (the block
    # is never shared), and the first run's records are unchanged.
    assert recs[: len(first)] == first
    made_now = sum(x["calls"]["t2v"] for x in recs[len(first):] if x["setting"] != "input")
    assert _calls(r.stderr)[1] == made_now > 0


@pytest.mark.parametrize("extra,message", [
    (["--grid", "models.t2i=a,b"], "--grid models.t2i: a tune shares its models"),
    (["--grid", "tV=3"], "the grid holds no setting other than the base preset"),
    (["--grid", "tV=2,abc"], "--grid tV=abc: no combination can use this value (tV must be an integer"),
    (["--grid", "t2v.family=v2,v9", "--grid", "tV=1,2"], "--grid t2v.family=v9: no combination can use this value"),
    (["--grid", "tV=2", "--reference", "nowhere"], "--reference: nowhere: no such file or folder"),
    (["--grid", "t2i.scheduler=NoSuchScheduler,DDIMScheduler"], "grid setting t2i.scheduler=NoSuchScheduler: "
                                                                "t2i.scheduler: 'NoSuchScheduler' is not a diffusers"),
])
def test_what_a_tune_cannot_do_is_one_line_before_any_model_loads(clips, tmp_path, extra, message):
    r = evs("tune", clips, "--preset", "vc2", "--t2i", tmp_path / "no-model", "--out", tmp_path / "t",
            "--prompt", "x", *extra)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_a_record_evs_did_not_write_is_one_line_naming_it_before_any_model_loads(clips, tmp_path, models):
    out = tmp_path / "t"
    out.mkdir()
    (out / "tune.jsonl").write_text('{"pair": "x", "setting": "base", "scores": null}\n')
    r = evs("tune", clips, "--preset", "vc2", *models, "--out", out, "--prompt", "x",
            "--grid", "tV=2")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"evs: error: {out / 'tune.jsonl'}: line 1 is not a record evs wrote (its scores are null, not a table of "
        "measures); move the file away to start afresh"], r.stderr


def test_a_video_without_a_prompt_is_named_before_any_model_loads(clips, tmp_path):
    r = evs("tune", clips, "--preset", "toy", "--out", tmp_path / "t", "--grid", "tV=2")
    assert r.returncode == 2 and "no prompt (pass --prompt" in r.stderr and "clip" in r.stderr


def test_a_video_that_cannot_be_read_fails_alone_and_no_preset_is_written(clips, tmp_path, models):
    (clips / "a" / "clip0.mp4").write_bytes(b"not a video")
    out = tmp_path / "tune"
    r = evs("tune", clips, "--preset", "vc2", *models, "--grid", "tV=2", "--out", out, "--prompt", "x",
            "--weight-free")
    assert r.returncode == 1
    errors = [x for x in r.stderr.splitlines() if x.startswith("evs: error:")]
    assert len(errors) == 1 and "clip0.mp4" in errors[0]
    assert "1 of 3 videos could not be tuned; tuned.yaml not written" in r.stderr
    assert {x["video"] for x in _records(out)} == {"b/clip1.mp4", "c/clip2.mp4"}
    assert not (out / "tuned.yaml").exists()


def test_two_worker_processes_score_what_one_does(clips, tmp_path, models):
    runs = {}
    for name, devices in (("one", "cpu"), ("two", "cpu,cpu")):
        out = tmp_path / name
        r = evs("tune", clips, "--preset", "vc2", *models, "--grid", "tV=2,4", "--out", out, "--prompt", "x",
                "--devices", devices, "--weight-free")
        assert r.returncode == 0, r.stderr
        runs[name] = {(x["video"], x["setting"]): x["scores"] for x in _records(out)}
        runs[name + " devices"] = {x.get("device") for x in _records(out)} - {None}
    assert len(runs["one"]) == 3 * 4 and runs["two"].keys() == runs["one"].keys()
    for pair, scores in runs["one"].items():  # two processes, other thread counts: rounding may differ
        assert runs["two"][pair] == pytest.approx(scores, rel=1e-2), pair
    assert runs["two devices"] == {"cpu"}


def _worker_pids(parent: int) -> list[int]:
    """The spawned worker processes of an `evs` process (not multiprocessing's resource tracker)."""
    pids = []
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            pids.append(int(child))
    return pids


def test_a_tune_worker_killed_mid_video_fails_that_video_alone_as_a_refine_worker_does(clips, tmp_path, models):
    """tune runs on refine's dispatch seam: the ledger fails the dead worker's video with the reason, the other
    worker tunes the rest, every pair scored is kept, and the same command finishes the tune."""
    out = tmp_path / "tune"
    args = ["tune", clips, "--preset", "vc2", *models, "--out", out, "--sample", "3", "--prompt", "a disc",
            "--grid", "tV=2,4,5,6", "--weight-free", "--devices", "cpu,cpu"]
    p = evs_bg(*args)
    deadline = time.time() + 300
    while time.time() < deadline and len(_videos_scored(out)) < 2:  # both workers loaded, each holding a video
        time.sleep(0.05)
    workers = _worker_pids(p.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 1, err
    died = [line for line in err.splitlines() if line.startswith("evs: error:")]
    assert len(died) == 1 and re.search(r"clip\d\.mp4: worker [01] died \(exit code -9\)$", died[0]), err
    assert "1 of 3 videos could not be tuned; tuned.yaml not written" in err
    assert not (out / "tuned.yaml").exists()
    first = _records(out)
    r = evs(*args)
    assert r.returncode == 0, r.stderr
    recs = _records(out)
    assert recs[: len(first)] == first and len({x["pair"] for x in recs}) == len(recs) == 3 * 6
    assert (out / "tuned.yaml").is_file()
