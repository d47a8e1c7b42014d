"""The settings fingerprint (batch/planning/settings.py): what makes a rerun redo an output, and what must not."""

import hashlib
import os

from evs_cli.batch.options import Limits, OutputPolicy, Prompts, RunOptions, Seeds
from evs_cli.batch.planning.settings import InputId, Made, content_hash, fingerprint, input_id, prompt_key, recorded
from evs_cli.engine.preset import load_preset


def test_outputs_made_before_models_vae_existed_keep_their_fingerprint_and_an_external_vae_changes_it():
    vc2 = load_preset("vc2")
    # the values evs wrote before --vae existed (e202779): a finished folder is not redone after the upgrade
    assert fingerprint(RunOptions(vc2)) == "b990359393eece71"
    assert fingerprint(RunOptions(vc2), legacy=True) == "cc7f49ca2c3951de"
    mse = vc2.with_overrides([{"models": {"vae": "stabilityai/sd-vae-ft-mse"}}])
    ema = vc2.with_overrides([{"models": {"vae": "stabilityai/sd-vae-ft-ema"}}])
    assert len({fingerprint(RunOptions(p)) for p in (vc2, mse, ema)}) == 3
    # nor after t2i.guidance_interval existed: unset, it is left out of the hash
    assert fingerprint(RunOptions(vc2.with_overrides([{"t2i": {"guidance_interval": None}}]))) == "b990359393eece71"


def _fp(preset=None, legacy=False, **groups):
    return fingerprint(RunOptions(preset or load_preset("vc2"), **groups), legacy=legacy)


def _with(section, key, value):
    return load_preset("vc2").with_overrides([{section: {key: value}}])


def test_every_value_that_decides_the_pixels_changes_the_fingerprint():
    base = _fp()
    changed = {
        "schedule": _fp(_with("schedule", "tV", 4)), "t2i": _fp(_with("t2i", "guidance", 5.0)),
        "t2v": _fp(_with("t2v", "steps", 4)), "models": _fp(_with("models", "t2i", "other/model")),
        "resize": _fp(_with("runtime", "resize", 1.0)), "window": _fp(_with("runtime", "t2v_window", 8)),
        "overlap": _fp(_with("runtime", "t2v_overlap", 2)), "seed": _fp(seeds=Seeds(base=1)),
        "per video": _fp(seeds=Seeds(per_video=False)), "scale": _fp(output=OutputPolicy(scale=0.5)),
        "size": _fp(output=OutputPolicy(size=(640, 480))), "format": _fp(output=OutputPolicy(fmt="png")),
        "crf": _fp(output=OutputPolicy(crf=20)),
        "lora": _fp(_with("t2i", "loras", ["x.safetensors:0.5"])),
        "family": _fp(_with("t2v", "family", "v3")), "vae": _fp(_with("models", "vae", "v/ae")),
        "guidance interval": _fp(_with("t2i", "guidance_interval", [200, 999])),
    }
    assert base not in changed.values() and len(set(changed.values())) == len(changed), changed
    assert all(len(f) == 16 and int(f, 16) >= 0 for f in (base, *changed.values()))


def test_speed_rounding_limits_and_prompts_leave_the_fingerprint_alone():
    base = _fp()
    for section, key, value in (("runtime", "dtype", "float16"), ("runtime", "t2i_chunk", 4),
                                ("runtime", "vae_chunk", 2), ("runtime", "compile", True),
                                ("runtime", "video_timeout", 60), ("runtime", "attention", "math"),
                                ("name", None, None)):
        preset = load_preset("vc2").with_overrides([{section: {key: value}}]) if key else load_preset("vc2")
        assert _fp(preset) == base, (section, key)
    assert _fp(prompts=Prompts(text="a dog", table={"a": "b"})) == base  # per video (Made), not per run
    assert _fp(output=OutputPolicy(overwrite=True, resume="any", evaluate=True)) == base
    assert _fp(limits=Limits(max_pixels=1, lease=5.0, wait=True)) == base
    assert _fp(pipelined=False) == base


def test_the_legacy_fingerprint_also_hashed_the_prompt_and_the_whole_table():
    assert _fp(legacy=True) != _fp()
    assert _fp(prompts=Prompts(text="a dog"), legacy=True) != _fp(legacy=True)
    assert _fp(prompts=Prompts(table={"a": "b"}), legacy=True) not in (_fp(legacy=True), _fp())
    assert _fp(prompts=Prompts(table={"a": "b\udce9"}), legacy=True)  # a name's undecodable bytes hash too


def test_added_keys_count_only_when_set():
    assert _fp(_with("t2i", "loras", [])) == _fp(_with("t2v", "family", None)) == _fp()
    assert _fp(_with("t2v", "loras", ["x.safetensors:0.5"])) != _fp()


def test_the_tag_records_settings_prompt_and_input_and_reads_back_what_it_wrote():
    made = Made("0123456789abcdef", prompt_key("a dog"), InputId(10, 123456789, "00ff00ff00ff00ff"))
    tag = made.tag()
    assert tag == ("evs-settings:0123456789abcdef prompt:" + prompt_key("a dog") +
                   " input:10:123456789:00ff00ff00ff00ff")
    assert Made.parse(tag) == made
    assert Made("abc").tag() == "evs-settings:abc" and Made.parse("evs-settings:abc") == Made("abc")  # evs 0.1
    assert Made.parse("evs-settings:abc prompt:p1") == Made("abc", "p1")
    assert Made.parse("evs-settings:abc input:1:2 junk prompt:p") == Made("abc", "p")  # a cut input is none
    assert Made.parse("evs-settings:abc input:x:2:s") == Made("abc")
    assert Made.parse("made by something else") is None and Made.parse("") is None


def test_a_prompt_key_is_12_hex_digits_of_its_text_names_that_are_not_utf8_included():
    assert prompt_key("a dog") == hashlib.sha256(b"a dog").hexdigest()[:12]
    assert prompt_key("caf\udce9") == hashlib.sha256(b"caf\xe9").hexdigest()[:12] != prompt_key("caf\ufffd")


def test_an_input_is_the_same_file_by_size_and_time_or_else_by_content(tmp_path):
    f = tmp_path / "v.mp4"
    f.write_bytes(b"frames")
    made = input_id(f)
    assert made == InputId(6, f.stat().st_mtime_ns, hashlib.sha256(b"frames").hexdigest()[:16])
    assert made.matches(f)
    os.utime(f, ns=(1, 1))
    assert made.matches(f)  # touched or copied: the content says it is the same
    f.write_bytes(b"FRAMES")
    assert not made.matches(f)  # same size, other content
    f.write_bytes(b"frames!")
    os.utime(f, ns=(made.mtime_ns, made.mtime_ns))
    assert not made.matches(f)  # another size, whatever its time
    assert not made.matches(tmp_path / "gone.mp4")


def test_a_content_hash_reads_the_whole_file_in_blocks(tmp_path):
    f = tmp_path / "big.bin"
    data = os.urandom((1 << 20) * 2 + 5)
    f.write_bytes(data)
    assert content_hash(f) == hashlib.sha256(data).hexdigest()[:16]
    (tmp_path / "empty").write_bytes(b"")
    assert content_hash(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()[:16]


def test_what_an_output_records_is_read_from_its_comment_tag_and_anything_else_records_nothing(tmp_path):
    made = Made("0123456789abcdef", prompt_key("x"), InputId(1, 2, "s"))
    assert recorded(_mp4(tmp_path / "o.mp4", made.tag())) == made
    assert recorded(_mp4(tmp_path / "plain.mp4", None)) is None  # an MP4 of someone else's: no comment at all
    assert recorded(_mp4(tmp_path / "other.mp4", "made with care")) is None
    (tmp_path / "text.mp4").write_text("not a video")
    (tmp_path / "frames").mkdir()
    assert recorded(tmp_path / "text.mp4") is None and recorded(tmp_path / "frames") is None
    assert recorded(tmp_path / "none.mp4") is None


def _mp4(path, comment):
    av = __import__("pytest").importorskip("av")
    with av.open(str(path), "w") as c:
        if comment is not None:
            c.metadata["comment"] = comment
        stream = c.add_stream("mpeg4", rate=8)
        stream.width = stream.height = 16
        frame = av.VideoFrame.from_ndarray(__import__("numpy").zeros((16, 16, 3), "uint8"), format="rgb24")
        for packet in (*stream.encode(frame), *stream.encode()):
            c.mux(packet)
    return path
