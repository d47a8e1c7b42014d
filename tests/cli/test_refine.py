"""`evs refine` end to end, with tiny models saved to a temporary folder by the tests."""

import json
from pathlib import Path

import pytest

from evs_cli.batch.options import video_seed
from evs_cli.io.video import read_video
from helpers import evs, leftovers, make_clip, make_clip_with_audio

LOG_FIELDS = {"input", "output", "status", "error", "prompt", "preset", "params", "seed", "frames", "fps",
              "input_size", "output_size", "device", "dtype", "seconds", "stages", "calls",
              "peak_gpu_memory_bytes", "worker"}


def _records(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_one_video_output_and_log_record(tmp_path, full_models):
    src = make_clip(tmp_path / "in" / "a red circle moving-0.mp4", frames=16, size=(128, 64), fps=12)
    log = tmp_path / "log.jsonl"
    r = evs("refine", src, *full_models, "--out", tmp_path / "out", "--log", log, "--seed", 3)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out" / "a red circle moving-0.mp4"
    v = read_video(out)
    assert v.frames.shape == (16, 64, 128, 3) and float(v.fps) == 12
    (rec,) = _records(log)
    assert LOG_FIELDS <= rec.keys()
    assert rec["status"] == "ok" and rec["prompt"] == "a red circle moving" and rec["base_seed"] == 3
    assert rec["seed"] == video_seed(3, Path("a red circle moving-0.mp4"))
    assert rec["calls"] == {"t2i": 21, "t2v": 2}  # vc2: tI + 1 T2I calls, nV T2V calls
    assert [s["calls"] for s in rec["stages"]] == [13, 2, 8]
    secs = rec["seconds"]
    assert set(secs) == {"read", "encode", "stages", "decode", "write", "total", "steps", "waited"}
    assert secs["steps"] + secs["waited"] == pytest.approx(secs["total"], abs=2e-4) and secs["waited"] >= 0
    assert secs["steps"] >= secs["read"] + secs["encode"] + sum(secs["stages"]) + secs["decode"] + secs["write"] - 1e-3
    assert rec["input_size"] == [128, 64] and rec["output_size"] == [128, 64] and rec["frames"] == 16
    assert leftovers(tmp_path) == []


def test_bad_files_fail_alone_and_the_batch_goes_on(tmp_path, models):
    folder = tmp_path / "in"
    make_clip(folder / "good.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    (folder / "empty.mp4").write_bytes(b"")
    log = tmp_path / "log.jsonl"
    r = evs("refine", folder, *models, "--prompt", "a red circle", "--out", tmp_path / "out", "--log", log)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("evs: error:")]
    assert any("broken.mp4: cannot decode video" in e for e in errors)
    assert any("empty.mp4: empty file" in e for e in errors)
    status = {json.loads(x)["input"].split("/")[-1]: json.loads(x)["status"] for x in log.read_text().splitlines()}
    assert status == {"good.mp4": "ok", "broken.mp4": "failed", "empty.mp4": "failed"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.mp4"]  # nothing partial


def test_rerun_skips_and_overwrite_redoes(tmp_path, models):
    folder = tmp_path / "in"
    make_clip(folder / "sub" / "a circle-1.mp4")
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    assert evs("refine", folder, *models, "--out", out, "--log", log).returncode == 0
    result = out / "sub" / "a circle-1.mp4"  # relative path kept
    first = result.stat().st_mtime_ns
    r = evs("refine", folder, *models, "--out", out, "--log", log)
    assert r.returncode == 0 and result.stat().st_mtime_ns == first
    # --dry-run judges an existing output as the run does
    plan = evs("refine", folder, *models, "--out", out, "--dry-run")
    assert plan.returncode == 0 and "\t-\toutput exists, made with the same settings\n" in plan.stdout
    plan = evs("refine", folder, *models, "--out", out, "--dry-run", "--seed", 9)
    assert plan.returncode == 1 and f"fail\t{folder / 'sub' / 'a circle-1.mp4'}\t{result}\t-\t{result}: exists, " \
        "made with other settings (" in plan.stdout
    # Other settings: the existing output is not taken for this run's result, and not overwritten either.
    r = evs("refine", folder, *models, "--out", out, "--log", log, "--seed", 9)
    assert r.returncode == 1 and result.stat().st_mtime_ns == first
    assert f"evs: error: {result}: exists, made with other settings (" in r.stderr
    assert "--overwrite redoes it, --resume any keeps it" in r.stderr
    r = evs("refine", folder, *models, "--out", out, "--log", log, "--seed", 9, "--resume", "any")
    assert r.returncode == 0 and result.stat().st_mtime_ns == first
    r = evs("refine", folder, *models, "--out", out, "--log", log, "--overwrite")
    assert r.returncode == 0 and result.stat().st_mtime_ns != first
    recs = _records(log)
    assert [x["status"] for x in recs] == ["ok", "skipped", "failed", "skipped", "ok"]
    assert recs[1]["reason"] == "output exists, made with the same settings"
    assert recs[2]["output_settings"] == recs[0]["settings"] != recs[2]["settings"]
    assert recs[0]["run_id"] != recs[1]["run_id"] and recs[0]["evs_version"] == __import__("evs_cli").__version__


def test_log_in_a_new_folder_is_created_and_an_unwritable_log_is_a_usage_error(tmp_path, models):
    src = make_clip(tmp_path / "in" / "a circle-0.mp4")
    log = tmp_path / "new" / "deeper" / "timing.jsonl"
    r = evs("refine", src, *models, "--out", tmp_path / "out", "--log", log)
    assert r.returncode == 0 and len(log.read_text().splitlines()) == 1
    (tmp_path / "blocker").write_text("a file, not a folder")
    r = evs("refine", src, *models, "--out", tmp_path / "out2", "--log", tmp_path / "blocker" / "log.jsonl")
    assert r.returncode == 2 and "cannot open the log" in r.stderr and "Traceback" not in r.stderr


def test_prompt_sources_and_png_output(tmp_path, models):
    folder = tmp_path / "in"
    make_clip(folder / "one.mp4")
    make_clip(folder / "two.mp4")
    make_clip(folder / "three.mp4")
    (folder / "two.mp4.txt").write_text("a blue square\n")
    table = tmp_path / "prompts.csv"
    table.write_text("name,prompt\none.mp4,a red disc\n")
    log = tmp_path / "log.jsonl"
    r = evs("refine", folder, *models, "--prompts", table, "--out", tmp_path / "out", "--log", log,
            "--format", "png")
    assert r.returncode == 1
    got = {x["input"].split("/")[-1]: (x["status"], x.get("prompt")) for x in _records(log)}
    assert got["one.mp4"] == ("ok", "a red disc") and got["two.mp4"] == ("ok", "a blue square")
    assert got["three.mp4"][0] == "failed" and "three.mp4: no prompt" in r.stderr
    assert len(list((tmp_path / "out" / "one").glob("*.png"))) == 16


def test_audio_is_copied(tmp_path, models):
    import av

    src = make_clip_with_audio(tmp_path / "in" / "tone-0.mp4")
    r = evs("refine", src, *models, "--out", tmp_path / "out" / "refined.mp4", "-q")
    assert r.returncode == 0 and r.stderr == ""  # quiet on success
    with av.open(str(tmp_path / "out" / "refined.mp4")) as c:
        kinds = sorted(s.type for s in c.streams)
        assert kinds == ["audio", "video"] and c.streams.video[0].frames == 16


SIZES = [(100, 70), (64, 128), (320, 512)]  # (W, H) of the inputs: odd aspect, portrait, VBench-like


@pytest.mark.parametrize("args,working,written", [
    # refined small (--resize 0.25), written at the input's own size and aspect ratio, or twice it
    (["--resize", "0.25"], [[64, 64], [64, 64], [64, 128]], SIZES),
    (["--resize", "0.25", "--scale", "2"], [[64, 64], [64, 64], [64, 128]], [(200, 140), (128, 256), (640, 1024)]),
    (["--size", "64x48"], [[128, 64]], [(64, 48)]),
    (["--resize", "2", "--scale", "0.5"], [[192, 128]], [(50, 34)]),  # 35 is odd: rounded down for yuv420
])
def test_output_has_the_asked_size_and_the_input_aspect(tmp_path, tiny_paths, args, working, written):
    models = ["--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter_file"], "--set", "tI=2", "--set", "tT2V=1"]
    sources = [make_clip(tmp_path / "in" / f"a red circle {w}x{h}-0.mp4", frames=2, size=(w, h))
               for w, h in SIZES[:len(written)]]
    log = tmp_path / "log.jsonl"
    r = evs("refine", tmp_path / "in", *models, *(["--resize", "1"] if "--resize" not in args else []), *args,
            "--out", tmp_path / "out", "--log", log)
    assert r.returncode == 0, r.stderr
    recs = {Path(rec["input"]).name: rec for rec in _records(log)}
    for src, size, work, out in zip(sources, SIZES, working, written):
        rec = recs[src.name]
        assert rec["input_size"] == list(size) and rec["working_size"] == work and rec["output_size"] == list(out)
        assert read_video(tmp_path / "out" / src.name).frames.shape[1:3] == (out[1], out[0])


def test_an_external_vae_is_used_logged_and_part_of_the_settings(tmp_path, models):
    """--vae: the output is made through that VAE, the log says which, and an output made without it is not
    taken for this run's result. A VAE that is not there is one line before any model loads."""
    from evs_cli.toy.tiny import build_t2i

    build_t2i(seed=7)[1].save_pretrained(tmp_path / "vae")
    src = make_clip(tmp_path / "in" / "a red circle-0.mp4", frames=2)
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    assert evs("refine", src, *models, "--out", out).returncode == 0
    own = read_video(out / src.name).frames.float()
    r = evs("refine", src, *models, "--out", out, "--vae", tmp_path / "vae", "--log", log)
    assert r.returncode == 1 and f"{out / src.name}: exists, made with other settings (" in r.stderr
    r = evs("refine", src, *models, "--out", out, "--vae", tmp_path / "vae", "--log", log, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert _records(log)[-1]["params"]["models"]["vae"] == str(tmp_path / "vae")
    assert (read_video(out / src.name).frames.float() - own).abs().mean() > 1  # other decoder, other pixels
    missing = evs("refine", src, *models, "--out", tmp_path / "out2", "--vae", tmp_path / "nope")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"evs: error: VAE '{tmp_path / 'nope'}' not found: no such file or "
                                                   "folder, and not a hub id (owner/name)"]
    assert not (tmp_path / "out2").exists()


def test_a_lora_is_applied_logged_and_part_of_the_settings(tmp_path, models, tiny_models):
    """--lora FILE:SCALE end to end; an output made without it is not this run's; a missing LoRA is one line
    before any model loads."""
    from lora_files import make_lora

    lora, _ = make_lora(tiny_models.unet, tmp_path / "lora", "kohya")
    src = make_clip(tmp_path / "in" / "a red circle-0.mp4", frames=2)
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    assert evs("refine", src, *models, "--out", out).returncode == 0
    plain = read_video(out / src.name).frames.float()
    r = evs("refine", src, *models, "--out", out, "--lora", f"{lora}:0.8")
    assert r.returncode == 1 and f"{out / src.name}: exists, made with other settings (" in r.stderr
    r = evs("refine", src, *models, "--out", out, "--lora", f"{lora}:0.8", "--overwrite", "--log", log)
    assert r.returncode == 0, r.stderr
    assert _records(log)[-1]["params"]["t2i"]["loras"] == [f"{lora}:0.8"]
    assert (read_video(out / src.name).frames.float() - plain).abs().mean() > 0.5
    import torch
    from safetensors.torch import save_file

    alien = tmp_path / "sdxl.safetensors"  # layers this UNet does not have: one line, not diffusers' log
    save_file({"lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight": torch.zeros(4, 640),
               "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_up.weight": torch.zeros(640, 4)},
              str(alien))
    r = evs("refine", src, *models, "--out", tmp_path / "out2", "--lora", alien)
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and all(line.startswith("evs: ") for line in lines), lines
    assert [line for line in lines if "error" in line] == [line for line in lines if line.startswith(
        f"evs: error: LoRA {alien} (--lora, t2i.loras): does not fit the T2I model")]
    missing = evs("refine", src, *models, "--out", tmp_path / "out2", "--lora", tmp_path / "nope.safetensors")
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"evs: error: LoRA '{tmp_path / 'nope.safetensors'}' not found: no such file"]
    for scale, what in (("abc", "is not a number"), ("nan", "is not a finite number"), ("inf", "is not a finite")):
        bad = evs("refine", src, *models, "--out", tmp_path / "out2", "--lora", f"{lora}:{scale}")
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 2 and len(lines) == 1, bad.stderr  # before any model loads
        assert lines[0].startswith("evs: error: ") and f"the scale '{scale}' {what}" in lines[0], lines
    assert not (tmp_path / "out2").exists()
