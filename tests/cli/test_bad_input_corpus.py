"""A corpus of bad inputs, one class per entry, through the `evs` command.

Batch faults go into one folder beside good videos and one run: each bad video fails alone with one
`evs: error:` line that names it, the good ones are refined exactly once, nothing partial or temporary and
no claim is left. Usage mistakes each get a run of their own: exit 2, the error as the only line of
stderr, no traceback, nothing written. (Signals, kill -9 and stale claims: test_refine and test_faults.)
"""

import json
import os
import re
from pathlib import Path

import pytest

from evs_cli.errors import one_line
from evs_cli.io.video import read_video
from helpers import evs, leftovers, make_clip, make_clip_with_audio


def _hostile_folder(d: Path) -> tuple[list[Path], dict[Path, str]]:
    """(good videos, {bad video: what its error line must say})."""
    good = [make_clip(d / "a red circle-0.mp4", frames=4), make_clip(d / "sub" / "a blue square-1.mp4", frames=4),
            make_clip(d / os.fsdecode(b"caf\xe9 on a square-2.mp4"), frames=4)]  # a name that is not UTF-8
    sample = good[0].read_bytes()
    bad: dict[Path, str] = {}

    def put(name: str, data: bytes, says: str) -> None:
        (d / name).write_bytes(data)
        bad[d / name] = says

    put("empty-0.mp4", b"", "empty file")
    put("noise-0.mp4", os.urandom(4096), "not a video file")
    put("a letter-0.mp4", b"Dear evs,\nthis is not a video.\n", "not a video file")
    put("picture-0.mp4", b"\x89PNG\r\n\x1a\n" + os.urandom(64), "not a video file")
    put("cut head-0.mp4", sample[:200], "not a video file, or its header is damaged or cut off")
    put("cut tail-0.mp4", sample[:-300], "truncated|cut off")  # which depends on where the index lies
    put("line\nbreak-0.mp4", b"junk", "not a video file")  # a newline in a name stays on one line
    put("\x1b[31mred-0.mp4", b"junk", "not a video file")  # so does a terminal escape
    long_name = "a long name " + "y" * (250 - len("a long name -0.mp4")) + "-0.mp4"
    put(long_name, b"junk", "not a video file")  # side files of a 250-byte name still fit the filesystem
    make_clip_with_audio(d / "sound only-0.mp4")
    import av  # keep only the audio stream: a file with no video in it

    with av.open(str(d / "sound only-0.mp4")) as src, av.open(str(d / "tone-0.mp4"), "w") as dst:
        a = dst.add_stream_from_template(src.streams.audio[0])
        for packet in src.demux(src.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = a
                dst.mux(packet)
    (d / "sound only-0.mp4").unlink()
    bad[d / "tone-0.mp4"] = "no video stream"
    bad[make_clip(d / "wide-0.mp4", frames=2, size=(512, 64))] = r"frames of 512x64 would be refined at 512x64"
    bad[make_clip(d / "long-0.mp4", frames=96)] = r"96 frames of 64x64 \(refined at 64x64\) need about"
    side = make_clip(d / "with a sidecar-0.mp4", frames=2)
    (d / "with a sidecar-0.mp4.txt").write_bytes(b"caf\xe9")
    bad[side] = "with a sidecar-0.mp4.txt: the prompt sidecar is not UTF-8 text"
    return good, bad


def test_hostile_videos_fail_alone_and_the_rest_is_refined_once(tmp_path, tiny_paths):
    good, bad = _hostile_folder(tmp_path / "in")
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    r = evs("refine", tmp_path / "in", "--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter_file"],
            "--resize", "1", "--set", "tI=2", "--set", "tT2V=1", "--max-pixels", 256 * 64, "--max-memory", "2M",
            "--out", out, "--log", log)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("evs: error:")]
    assert len(errors) == len(bad), "\n".join(errors)
    for video, says in bad.items():
        mine = [e for e in errors if one_line(str(video)) in e]
        assert len(mine) == 1 and re.search(says, mine[0]), (video, mine)
    for line in r.stderr.splitlines():
        assert "\x1b" not in line  # escapes from names never reach the terminal
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert sorted(rec["input"] for rec in records) == sorted(str(p) for p in [*good, *bad])  # each once
    assert {rec["input"] for rec in records if rec["status"] == "ok"} == {str(p) for p in good}
    (odd,) = [rec for rec in records if rec["input"] == str(good[2])]
    assert odd["prompt"] == "caf\ufffd on a square"
    assert odd["prompt_source"] == "file name (bytes that are not UTF-8 replaced by U+FFFD)"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(["a red circle-0.mp4", "sub/a blue square-1.mp4", good[2].name])
    assert all(read_video(out / w).frames.shape[0] == 4 for w in written)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("args,message", [
    (["--set", "t2i.scheduler=NoSuchScheduler"], "t2i.scheduler: 'NoSuchScheduler' is not a diffusers scheduler"),
    (["--set", "t2i.scheduler=UNet2DConditionModel"], "is not a diffusers scheduler"),
    (["--set", "t2v.scheduler_config={timestep_spacin: trailing}"],
     "t2v.scheduler_config: EulerDiscreteScheduler has no setting 'timestep_spacin' (it has: "),
    (["--set", "t2v.scheduler_config={timestep_spacing: sideways}"],
     "t2v.scheduler_config {'timestep_spacing': 'sideways'}: EulerDiscreteScheduler with 8 steps rejects it"),
    (["--set", "t2i.scheduler_config={num_train_timesteps: 10}"], "DDIMScheduler with 50 steps rejects it"),
    (["--max-memory", "lots"], "--max-memory must be auto or a size such as 512M or 8G, got 'lots'"),
    (["--t2i", "{d}"], "T2I model '{d}': not a diffusers folder (no unet/ inside)"),
    (["--t2v", "{d}"], "T2V motion adapter '{d}': folder has no config.json"),
    (["--prompts", "{d}/none.json"], "{d}/none.json: cannot read the prompts file (No such file or directory)"),
])
def test_usage_mistakes_are_the_only_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "models").mkdir()
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    def fill(text):  # "{d}/x": a file in tmp_path; "{d}" alone: the empty models folder
        return text.replace("{d}/", f"{tmp_path}/").replace("{d}", str(tmp_path / "models"))

    args = [fill(a) for a in args]
    r = evs("refine", src, *args, "--out", tmp_path / "out")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    expected = fill(message)
    assert len(lines) == 1 and lines[0].startswith("evs: error: ") and expected in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_decoder_messages_are_in_plain_words(tmp_path):
    """decord's and FFmpeg's internal texts are translated; their own log lines do not reach stderr."""
    folder = tmp_path / "in"
    good = make_clip(folder / "a-0.mp4", frames=8)
    data = bytearray(good.read_bytes())
    (folder / "b-0.mp4").write_bytes(bytes(data[:-300]))
    r = evs("eval", folder)
    lines = r.stderr.splitlines()
    ours = [line for line in lines if "b-0.mp4" in line]
    assert r.returncode == 1 and len(ours) == 1, lines
    assert re.search(r"b-0\.mp4: cannot decode video: the file is truncated", ours[0])
    assert not any(line.startswith("[") for line in lines)  # no "[h264 @ 0x...]" or "[12:00:00] file.cc:" lines


def test_a_motion_module_for_other_unets_is_one_line_and_exit_2_before_any_video(tmp_path, tiny_paths):
    import torch
    from diffusers import MotionAdapter

    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    adapter = MotionAdapter(block_out_channels=(32, 64, 64), motion_layers_per_block=1, motion_norm_num_groups=8,
                            motion_num_attention_heads=2, use_motion_mid_block=False)
    adapter.save_pretrained(tmp_path / "three")
    torch.save(adapter.state_dict(), tmp_path / "three.ckpt")
    what = "a motion module for UNets of 3 blocks (widths 32, 64, 64); the T2I model has 2"
    for t2v, before_loading in ((tmp_path / "three", True), (tmp_path / "three.ckpt", False)):
        r = evs("refine", src, "--t2i", tiny_paths["t2i"], "--t2v", t2v, "--out", tmp_path / "out")
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        errors = [line for line in r.stderr.splitlines() if line.startswith("evs: error:")]
        assert len(errors) == 1 and errors[0].endswith(f"T2V motion adapter '{t2v}': {what}"), r.stderr
        if before_loading:  # the folder's config shows it: nothing else is printed
            assert r.stderr.strip().splitlines() == errors
        assert not (tmp_path / "out" / src.name).exists()
