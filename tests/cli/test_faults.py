"""Faults that once lost work or took a batch down, through the `evs` command: long names, claims left
empty by a full disk, a killed run's temporary files, huge frames, absurd preset values, and
kill -9 of a run with several workers. (SIGTERM with one device: test_refine's interrupt test.)"""

import json
import os
import time
from pathlib import Path

import pytest

from evs_cli.io.video import read_video
from helpers import evs, evs_bg, leftovers, make_clip


@pytest.fixture
def models(tiny_paths):
    return ["--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter_file"], "--resize", "1",
            "--set", "tI=3", "--set", "tT2V=2"]


def test_a_name_of_250_bytes_keeps_its_output_name(tmp_path, models):
    name = "a red circle " + "x" * (250 - len("a red circle -0.mp4")) + "-0.mp4"
    assert len(name.encode()) == 250
    src = make_clip(tmp_path / "in" / name, frames=4)
    r = evs("refine", src.parent, *models, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert read_video(tmp_path / "out" / name).frames.shape[0] == 4 and leftovers(tmp_path) == []


def test_an_empty_claim_is_not_a_live_run(tmp_path, models):
    """A full disk once left an empty claim that made every later run skip the video with exit 0."""
    src = make_clip(tmp_path / "in" / "a circle-0.mp4", frames=4)
    out = tmp_path / "out"
    out.mkdir()
    claim = out / "a circle-0.mp4.evs-claim"
    claim.write_text("")
    old = time.time() - 60
    os.utime(claim, (old, old))
    r = evs("refine", src, *models, "--out", out)
    assert r.returncode == 0, r.stderr
    assert (out / "a circle-0.mp4").is_file() and leftovers(tmp_path) == []


def test_a_killed_runs_temporary_file_is_removed_by_the_rerun(tmp_path, models):
    src = make_clip(tmp_path / "in" / "a circle-0.mp4", frames=4)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a circle-0.mp4.evs-tmp-999999").write_bytes(b"half a video")
    log = tmp_path / "log.jsonl"
    r = evs("refine", src, *models, "--out", out, "--log", log)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a circle-0.mp4"]
    assert json.loads(log.read_text())["removed_leftovers"] == ["a circle-0.mp4.evs-tmp-999999"]


def test_frames_over_max_pixels_fail_alone_before_decoding(tmp_path, models):
    make_clip(tmp_path / "in" / "big-0.mp4", frames=4, size=(256, 128))
    make_clip(tmp_path / "in" / "small-0.mp4", frames=4)
    r = evs("refine", tmp_path / "in", *models, "--out", tmp_path / "out", "--max-pixels", 64 * 64)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("evs: error:")]
    assert len(errors) == 1 and "big-0.mp4: frames of 256x128" in errors[0] and "--max-pixels 4096" in errors[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["small-0.mp4"]


@pytest.mark.parametrize("setting,message", [("t2i.guidance=1e308", "t2i.guidance must be a number in 0..30"),
                                             ("t2v.steps=100000", "t2v.steps must be an integer in 1..1000")])
def test_absurd_preset_values_are_usage_errors(tmp_path, models, setting, message):
    src = make_clip(tmp_path / "in" / "a-0.mp4", frames=2)
    r = evs("refine", src, *models, "--set", setting, "--out", tmp_path / "out")
    assert r.returncode == 2 and r.stderr.startswith("evs: error:") and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return state.exists() and state.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_kill_9_of_a_pool_run_leaves_no_worker_and_the_rerun_finishes_everything(tmp_path, models):
    for i in range(4):
        make_clip(tmp_path / "in" / f"clip{i}-0.mp4", frames=40, seed=i)  # seconds each: killed mid-video
    out = tmp_path / "out"
    p = evs_bg("refine", tmp_path / "in", *models, "--out", out, "--devices", "cpu,cpu", threads=1)
    deadline = time.time() + 90
    while time.time() < deadline and len(list(out.glob("*.evs-claim"))) < 2:
        time.sleep(0.2)
    workers = _children(p.pid)
    assert workers, "the run started no worker"
    p.kill()
    p.wait(timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "workers outlived their parent"
    r = evs("refine", tmp_path / "in", *models, "--out", out, "--devices", "cpu,cpu")
    assert r.returncode == 0, r.stderr
    assert sorted(q.name for q in out.iterdir()) == [f"clip{i}-0.mp4" for i in range(4)]
    assert all(read_video(out / f"clip{i}-0.mp4").frames.shape[0] == 40 for i in range(4))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("make,args,message", [
    (lambda d: (d / "p.json").write_text(""), ["--prompts", "{d}/p.json"], "{d}/p.json: the prompts file is empty"),
    (lambda d: (d / "p.json").write_bytes(b"\xff\xfe{}"), ["--prompts", "{d}/p.json"],
     "{d}/p.json: the prompts file is not UTF-8 text (byte 0xff at offset 0)"),
    (lambda d: (d / "p.yaml").write_bytes(b"name: x\n\xe9t\xe9: 1\n"), ["--preset", "{d}/p.yaml"],
     "{d}/p.yaml: the preset is not UTF-8 text (byte 0xe9 at offset 8)"),
    (lambda d: None, ["--set", "tI=20.5"], "tI must be an integer in 1..50, got 20.5"),
    (lambda d: None, ["--set", "schedule.stages=5"], "schedule.stages must be a list of stages, got 5"),
    (lambda d: None, ["--set", "runtime.attention=fast"],
     "runtime.attention must be one of auto, flash, cudnn, efficient, math, got 'fast'"),
    (lambda d: None, ["--timeout", "soon"], "--timeout must be seconds (0: none) or auto, got 'soon'"),
])
def test_unreadable_or_mistyped_settings_are_one_line_before_any_model(tmp_path, make, args, message):
    """Classes, not cases: every user file is read through one function that names it, every schedule value
    is type-checked with the preset (each of these once ended in a traceback)."""
    make(tmp_path)
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    r = evs("refine", src, "--t2i", "/no/such/model", "--out", tmp_path / "out",
            *[a.format(d=tmp_path) for a in args])
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"evs: error: {message.format(d=tmp_path)}"]
    assert not (tmp_path / "out").exists()


def test_a_sidecar_prompt_that_is_not_text_fails_that_video_alone(tmp_path, models):
    bad = make_clip(tmp_path / "in" / "bad.mp4", frames=2)
    (tmp_path / "in" / "bad.mp4.txt").write_bytes(b"a \xff dog")
    make_clip(tmp_path / "in" / "a red circle-0.mp4", frames=2)
    r = evs("refine", tmp_path / "in", *models, "--out", tmp_path / "out")
    assert r.returncode == 1
    assert f"evs: error: {bad}.txt: the prompt sidecar is not UTF-8 text (byte 0xff at offset 2)" in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a red circle-0.mp4"]


def test_a_model_of_the_wrong_kind_is_named_before_anything_loads(tmp_path, tiny_paths):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    unet = tiny_paths["t2i"] / "unet"
    r = evs("refine", src, "--t2i", tiny_paths["t2i"], "--t2v", unet, "--out", tmp_path / "out")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"evs: error: T2V motion adapter {unet}: its config.json describes a UNet2DConditionModel, not a "
        "MotionAdapter (--t2v takes an AnimateDiff motion adapter; the T2I model goes to --t2i)"]
    assert not (tmp_path / "out").exists()


def test_offline_without_the_model_cached_is_one_line(tmp_path):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    cache = tmp_path / "hf"
    r = evs("refine", src, "--t2i", "nobody/no-such-model", "--out", tmp_path / "out",
            env_extra={"HF_HOME": str(cache), "HF_HUB_CACHE": str(cache / "hub")})
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    lightning = "ByteDance/AnimateDiff-Lightning:animatediff_lightning_8step_diffusers.safetensors"  # vc2's T2V
    assert lines[-2:] == [  # every missing model, each on its line, before any loads
        f"evs: error: T2I model 'nobody/no-such-model' is not in the Hugging Face cache ({cache / 'hub'}), "
        "and HF_HUB_OFFLINE forbids downloading it: unset HF_HUB_OFFLINE once to download it, or pass a local folder "
        "or file",
        f"evs: error: T2V motion adapter '{lightning}' is not in the Hugging Face cache ({cache / 'hub'}), "
        "and HF_HUB_OFFLINE forbids downloading it: unset HF_HUB_OFFLINE once to download it, or pass a local folder "
        "or file"]
    assert all(line.startswith("evs: ") for line in lines), r.stderr  # no library warnings, no empty summary
    assert not (tmp_path / "out").exists()


def test_without_network_the_missing_models_are_named_in_seconds_without_the_hubs_retries(tmp_path):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    cache = tmp_path / "hf"
    env = {"HF_HOME": str(cache), "HF_HUB_CACHE": str(cache / "hub"), "HF_HUB_OFFLINE": "",
           "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing listens there: as a machine without network
    r = evs("refine", src, "--preset", "vc2", "--out", tmp_path / "out", env_extra=env, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 2 and all(line.startswith("evs: error: ") for line in lines), r.stderr
    assert "T2I model 'emilianJR/epiCRealism' is not in the Hugging Face cache" in lines[0]
    assert "T2V motion adapter 'ByteDance/AnimateDiff-Lightning:" in lines[1]
    assert all("127.0.0.1 cannot be reached to download it: connect once to download it" in line for line in lines)
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_is_one_setup_error_before_any_model(tmp_path, models):
    a = make_clip(tmp_path / "in" / "a red circle-0.mp4", frames=2)
    b = make_clip(tmp_path / "in" / "a red circle-1.mp4", frames=2)
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        r = evs("refine", a, b, *models, "--out", out)
        assert r.returncode == 2
        assert r.stderr.strip().splitlines() == [
            f"evs: error: --out: {blocker} is a file, not a folder (outputs would go to {out})"]
    assert blocker.read_text() == "not a folder"


def test_control_characters_in_a_name_stay_escaped_on_one_line(tmp_path, models):
    bad = make_clip(tmp_path / "in" / "two\nlines\x1b[31m.mp4", frames=2)  # no prompt: it fails, named
    r = evs("refine", bad, *models, "--out", tmp_path / "out")
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("evs: error:")]
    assert errors == [f"evs: error: {tmp_path}/in/two\\nlines\\x1b[31m.mp4: no prompt (pass --prompt or --prompts "
                      "FILE, add two\\nlines\\x1b[31m.mp4.txt, or name it <prompt>-<index>.mp4)"]
    assert "\x1b" not in r.stderr
