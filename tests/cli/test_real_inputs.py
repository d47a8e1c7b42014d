"""Inputs users get from real tools, through `evs refine`: a WebM recorded as a live stream (no duration in its
header), Vorbis and Opus audio (re-encoded to AAC, which every MP4 player plays), a variable frame rate (said
in the log), and a phone's rotated clip (comes out upright)."""

import json

import av
import pytest

from evs_cli.io import video as video_io
from evs_cli.io.video import probe, read_video
from helpers import evs, leftovers, make_live_webm, make_rotated_clip, make_vfr_clip, make_vorbis_mkv


def _audio(path):
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return a.codec_context.name, a.codec_context.sample_rate, a.codec_context.layout.nb_channels, \
            float(a.duration * a.time_base) if a.duration else None


def test_inputs_from_recorders_phones_and_converters(tmp_path, models):
    folder, out, log = tmp_path / "in", tmp_path / "out", tmp_path / "log.jsonl"
    live = make_live_webm(folder / "live.webm", frames=16)
    assert probe(live).frames == 16  # counted from its packets: the header has no duration
    make_vorbis_mkv(folder / "vorbis.mkv")
    make_vfr_clip(folder / "vfr.mp4")
    make_rotated_clip(folder / "phone.mp4")
    r = evs("refine", folder, *models, "--out", out, "--log", log, "--prompt", "a test pattern")
    assert r.returncode == 0, r.stderr
    recs = {json.loads(x)["output"].rsplit("/", 1)[-1]: json.loads(x) for x in log.read_text().splitlines()}
    assert sorted(recs) == ["live.mp4", "phone.mp4", "vfr.mp4", "vorbis.mp4"] and leftovers(tmp_path) == []

    assert read_video(out / "live.mp4").frames.shape[0] == 16
    codec, rate, channels, seconds = _audio(out / "live.mp4")
    assert (codec, rate, channels) == ("aac", 48000, _audio(live)[2]) and seconds == pytest.approx(2.0, abs=0.1)
    assert recs["live.mp4"]["audio"] == "re-encoded to AAC (from opus)"
    codec, rate, channels, seconds = _audio(out / "vorbis.mp4")
    assert (codec, rate, channels) == ("aac", 44100, 2) and seconds == pytest.approx(2.0, abs=0.1)
    assert recs["vorbis.mp4"]["audio"] == "re-encoded to AAC (from vorbis)"

    assert recs["vfr.mp4"]["frame_rate"].startswith("variable in the input; written at a constant")
    assert "frame_rate" not in recs["live.mp4"]

    upright = read_video(out / "phone.mp4").frames
    assert upright.shape[1:3] == (96, 64)  # height, width: turned as the phone showed it (which way: below)


def test_pyav_applies_rotation_as_decord_does(tmp_path, monkeypatch):
    clip = make_rotated_clip(tmp_path / "phone.mp4")
    with_decord = read_video(clip).frames
    monkeypatch.setattr(video_io, "_has_decord", lambda: False)
    with_pyav = read_video(clip).frames
    assert with_pyav.shape == with_decord.shape == (8, 96, 64, 3)
    assert with_pyav[0, :16].float().mean() > 200 and with_pyav[0, -40:].float().mean() < 60  # the band on top
    assert (with_pyav.int() - with_decord.int()).abs().float().mean() < 1.0
