"""What is decided before any model loads: --dry-run's plan, skips of finished outputs, and usage errors."""

import json
import re

import pytest
import torch

from evs_cli.engine.preset import list_presets, load_preset
from evs_cli.engine.stages import build_stages
from helpers import evs, make_clip


@pytest.mark.parametrize("preset", list_presets())
def test_dry_run_prints_stages_and_loads_no_model(tmp_path, preset):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    r = evs("refine", src, "--preset", preset, "--dry-run", "--t2i", "/no/such/model", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "timesteps" in r.stdout and "model calls:" in r.stdout
    rows = re.findall(r"│ (\d+) +│ (t2i|t2v) ", r.stdout)
    expected = build_stages(load_preset(preset).schedule_params())
    assert [m for _, m in rows] == [s.model for s in expected]
    assert f"refine\t{src}\t{tmp_path / 'out' / src.name}\tfile name\ta red circle" in r.stdout.splitlines()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("preset,full", [("vc2-fast", "vc2"), ("ad2-fast", "ad2"), ("toy-fast", "toy")])
def test_a_fast_preset_makes_the_calls_its_dry_run_shows(tmp_path, make_engine, tiny_models, preset, full):
    """The fast presets' promise, counted at the UNets: the calls the dry run prints, about half the full one's."""
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)

    def printed(name):
        r = evs("refine", src, "--preset", name, "--dry-run", "--out", tmp_path / "out")
        assert r.returncode == 0, r.stderr
        t2i, t2v = re.search(r"model calls: t2i (\d+), t2v (\d+)", r.stdout).groups()
        return {"t2i": int(t2i), "t2v": int(t2v)}

    seen = {"t2i": 0, "t2v": 0}
    count = lambda m: lambda *a: seen.__setitem__(m, seen[m] + 1)  # noqa: E731
    hooks = [tiny_models.unet.register_forward_hook(count("t2i")),
             tiny_models.motion_unet.register_forward_hook(count("t2v"))]
    try:
        make_engine(preset, **{"runtime.t2i_chunk": 64}).refine_latents(torch.randn(4, 4, 16, 16), "a cat", seed=0)
    finally:
        [h.remove() for h in hooks]
    fast, slow = printed(preset), printed(full)
    assert seen == fast
    assert fast["t2v"] == slow["t2v"] and fast["t2i"] <= 0.6 * slow["t2i"], (fast, slow)


def test_the_dry_run_says_which_calls_a_guidance_interval_guides(tmp_path):
    """The same 3 of 7 T2I calls that tests/engine/test_denoisers.py sees guided at the UNet."""
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    r = evs("refine", src, "--preset", "vc2", "--dry-run", "--out", tmp_path / "out", "--set", "tI=6", "--set", "tT2V=3",
            "--set", "tV=2", "--set", "nV=1", "--set", "t2i.guidance_interval=[50,800]")
    assert r.returncode == 0, r.stderr
    assert ("t2i guidance 7.5 (a batched cond+uncond pass on 3 of 7 calls, those at t in 50..800), "
            "t2v guidance 1.0 (no uncond pass)") in r.stdout


def test_dry_run_says_what_happens_to_each_input(tmp_path):
    folder = tmp_path / "in"
    done = make_clip(folder / "a red circle-0.mp4", frames=2)
    todo = make_clip(folder / "sub" / "clip.mp4", frames=2)
    (folder / "sub" / "clip.mp4.txt").write_text("a corgi\n")
    lost = make_clip(folder / "noprompt.mp4", frames=2)
    out = tmp_path / "out"
    (out).mkdir()
    (out / done.name).write_bytes(b"an earlier result")
    r = evs("refine", folder, "--out", out, "--dry-run")
    assert r.returncode == 1, r.stderr  # some input would fail
    lines = r.stdout.splitlines()
    assert f"skip\t{done}\t{out / done.name}\t-\toutput exists (it records no evs settings: an older evs, or a " \
        "png folder)" in lines
    assert f"refine\t{todo}\t{out / 'sub' / 'clip.mp4'}\tclip.mp4.txt\ta corgi" in lines
    assert any(line.startswith(f"fail\t{lost}\t") and "no prompt" in line for line in lines)
    assert lines[-1] == "3 videos: 1 to refine, 1 to skip, 1 would fail"
    assert sorted(p.name for p in out.iterdir()) == [done.name]
    missing = evs("refine", tmp_path / "nope.mp4", "--dry-run")
    assert missing.returncode == 2 and missing.stderr.strip().splitlines()[-1] == (
        f"evs: error: {tmp_path / 'nope.mp4'}: no such file or folder")


def test_the_dry_run_names_the_models_a_first_run_would_download(tmp_path):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    cache = tmp_path / "hf" / "hub"
    env = {"HF_HUB_CACHE": str(cache)}
    r = evs("refine", src, "--preset", "vc2", "--t2i", "me/t2i", "--dry-run", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert ("not in the Hugging Face cache (the first run downloads them, or fails without network): T2I model "
            "me/t2i, T2V motion adapter ByteDance/AnimateDiff-Lightning:animatediff_lightning_8step_diffusers."
            "safetensors") in r.stdout.splitlines()
    snapshot = cache / "models--me--t2i" / "snapshots" / "c0"
    (snapshot / "unet").mkdir(parents=True)
    (snapshot / "unet" / "config.json").write_text("{}")
    (cache / "models--me--t2i" / "refs").mkdir()
    (cache / "models--me--t2i" / "refs" / "main").write_text("c0")
    r = evs("refine", src, "--preset", "vc2", "--t2i", "me/t2i", "--dry-run", env_extra=env)
    assert [line for line in r.stdout.splitlines() if line.startswith("not in the Hugging Face cache")] == [
        "not in the Hugging Face cache (the first run downloads them, or fails without network): T2V motion adapter "
        "ByteDance/AnimateDiff-Lightning:animatediff_lightning_8step_diffusers.safetensors"]
    r = evs("refine", src, "--preset", "toy", "--dry-run", env_extra=env)
    assert "not in the Hugging Face cache" not in r.stdout  # shipped models: nothing to download


def test_a_finished_folder_is_skipped_before_any_model_loads(tmp_path):
    src = make_clip(tmp_path / "in" / "a red circle-0.mp4", frames=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / src.name).write_bytes(b"an earlier result")
    log = tmp_path / "log.jsonl"
    hollow = tmp_path / "hollow"  # passes the checks made before loading, fails if ever loaded
    for sub in ("unet", "vae", "text_encoder", "scheduler"):
        (hollow / sub).mkdir(parents=True)
    r = evs("refine", src.parent, "--out", out, "--t2i", hollow, "--log", log)
    assert r.returncode == 0, r.stderr
    rec = json.loads(log.read_text())
    assert rec["status"] == "skipped" and rec["reason"].startswith("output exists (it records no evs settings")
    assert (out / src.name).read_bytes() == b"an earlier result"


@pytest.mark.parametrize("args,match", [
    (["--set", "nV=9"], "nV must be an integer in 1..3, got 9"),
    (["--set", "tq=1"], "unknown key 'tq'"),
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--t2i", "/no/such/model"], "T2I model '/no/such/model' not found"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, args, match):
    src = make_clip(tmp_path / "x-0.mp4")
    r = evs("refine", src, *args, "--out", tmp_path / "out")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("evs: error:") and match in r.stderr


def test_missing_input_is_a_usage_error(tmp_path):
    r = evs("refine", tmp_path / "missing.mp4")
    assert r.returncode == 2 and "missing.mp4: no such file or folder" in r.stderr


def test_scale_and_size_are_checked_before_anything(tmp_path):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    for args, message in ((["--scale", "2", "--size", "64x64"], "--scale and --size do not go together"),
                          (["--size", "64"], "--size must be WxH in pixels")):
        r = evs("refine", src, *args, "--out", tmp_path / "out")
        assert r.returncode == 2 and message in r.stderr.strip().splitlines()[-1]


def test_a_compile_cache_that_cannot_be_made_is_one_line_before_any_model_loads(tmp_path):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    (tmp_path / "file").write_text("not a folder")
    r = evs("refine", src, "--compile", "--compile-cache", tmp_path / "file" / "cache", "--out", tmp_path / "out",
            "--t2i", "/no/such/model")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"evs: error: --compile-cache {tmp_path / 'file' / 'cache'}: {tmp_path / 'file'} is not a folder"]
    assert not (tmp_path / "out").exists()


def test_the_toy_models_say_once_when_they_know_no_word_of_a_prompt(tmp_path):
    for k in range(2):
        make_clip(tmp_path / "in" / f"a corgi on the beach-{k}.mp4", frames=2)
    make_clip(tmp_path / "in" / "a red circle-0.mp4", frames=2)
    r = evs("refine", tmp_path / "in", "--preset", "toy", "--dry-run")
    notes = [line for line in r.stderr.splitlines() if "knows none" in line]
    assert notes == ["evs: note: the T2I model knows none of the words of 1 prompt (first: 'a corgi on the beach'); it "
                     "will paint what it was trained on, whatever the metrics say. Words it knows: blue, checks, "
                     "circle, dots, down, green, left, moving, over, purple, red, right, square, stripes, triangle, up, "
                     "white, yellow"]
    r = evs("refine", tmp_path / "in", "--preset", "toy", "--dry-run", "--prompt", "a red circle")
    assert "knows none" not in r.stderr
