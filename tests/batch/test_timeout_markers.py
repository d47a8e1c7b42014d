"""A video stuck past its limit in a run in one process (batch/planning/timeouts.py): its marker fails it at once in the
rerun with the same settings, --timeout and input, and nothing else."""

import json
import os

from evs_cli.batch.planning.settings import input_id
from evs_cli.batch.planning.timeouts import (
    READ_LIMIT,
    clear_timed_out,
    grace,
    mark_timed_out,
    marker_path,
    read_limit,
    timed_out_before,
    video_limit,
)


def test_a_stuck_video_is_failed_at_once_only_under_the_same_settings_timeout_and_input(tmp_path):
    video, output = tmp_path / "in" / "v.mp4", tmp_path / "out" / "v.mp4"
    video.parent.mkdir()
    video.write_bytes(b"frames")
    mark_timed_out(output, video, "s1", "auto")
    assert marker_path(output).name == "v.mp4.evs-timed-out"
    assert timed_out_before(video, output, "s1", "auto") == (
        f"{video}: stuck past its time limit in an earlier run with these settings and --timeout; not tried again "
        "(raise --timeout, or pass --overwrite, to try it)")
    assert timed_out_before(video, output, "s2", "auto") is None  # other settings
    assert timed_out_before(video, output, "s1", 600.0) is None  # another --timeout
    os.utime(video, ns=(1, 1))
    assert timed_out_before(video, output, "s1", "auto") is not None  # touched, same content: the same input
    video.write_bytes(b"other frames")
    assert timed_out_before(video, output, "s1", "auto") is None  # another input
    mark_timed_out(output, video, "s1", 600.0)
    assert timed_out_before(video, output, "s1", 600.0) is not None
    clear_timed_out(output)
    assert timed_out_before(video, output, "s1", 600.0) is None and not marker_path(output).exists()


def test_a_marker_evs_did_not_write_tries_the_video(tmp_path):
    video, output = tmp_path / "v.mp4", tmp_path / "out" / "v.mp4"
    video.write_bytes(b"frames")
    output.parent.mkdir()
    for text in ("", "not json", "[]", '{"settings": "s1"}', '{"settings": "s1", "timeout": "auto", "input": 3}'):
        marker_path(output).write_text(text)
        assert timed_out_before(video, output, "s1", "auto") is None, text


def test_a_number_is_the_limit_zero_is_none_and_auto_grows_with_the_pixels_refined():
    assert video_limit("120", 16, (640, 1024), "cuda:0") == 120.0 and video_limit(7.5, None, (1, 1), "cpu") == 7.5
    assert video_limit(0, 16, (64, 64), "cpu") is None and video_limit("0", 16, (64, 64), "cuda") is None
    # 5 minutes, plus 5 s per megapixel-frame on a GPU and 500 s on a CPU
    assert video_limit("auto", 10, (1000, 100), "cuda:1") == 300.0 + 5.0 * 10 * 0.1
    assert video_limit("auto", 10, (1000, 100), "cpu") == 300.0 + 500.0 * 10 * 0.1
    assert video_limit("auto", None, (1000, 1000), "cuda") == 305.0  # frames not known yet: one
    assert video_limit("auto", 2, (2000, 1000), "mps") == 300.0 + 500.0 * 4


def test_a_video_still_being_read_has_the_read_limit_or_its_number():
    assert read_limit("auto") == READ_LIMIT == 900.0
    assert read_limit("30") == 30.0 and read_limit(0) is None and read_limit("0") is None


def test_the_grace_before_a_stuck_worker_is_killed_is_a_minute_unless_set(monkeypatch):
    monkeypatch.delenv("EVS_TIMEOUT_GRACE", raising=False)
    assert grace() == 60.0
    monkeypatch.setenv("EVS_TIMEOUT_GRACE", "2.5")
    assert grace() == 2.5


def test_a_long_outputs_marker_stays_within_the_name_limit_and_a_full_disk_only_skips_the_marker(tmp_path, monkeypatch):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"frames")
    output = tmp_path / "out" / ("a" * 240 + ".mp4")
    assert marker_path(output).parent == output.parent and len(marker_path(output).name) < 255
    assert marker_path(output).name.endswith(".evs-timed-out")

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("evs_cli.batch.planning.outputs.write_whole", full)
    mark_timed_out(output, video, "s1", "auto")  # no error: the rerun tries the video again
    assert timed_out_before(video, output, "s1", "auto") is None
    mark_timed_out(output, tmp_path / "gone.mp4", "s1", "auto")  # an input that vanished: no error either


def test_the_marker_records_the_settings_the_timeout_and_the_input_as_json(tmp_path):
    video, output = tmp_path / "v.mp4", tmp_path / "v-out.mp4"
    video.write_bytes(b"frames")
    mark_timed_out(output, video, "s1", 600.0)
    made = input_id(video)
    assert json.loads(marker_path(output).read_text(encoding="utf-8")) == {
        "settings": "s1", "timeout": "600.0", "input": [made.size, made.mtime_ns, made.sha]}
    assert marker_path(output).read_text(encoding="utf-8").endswith("}\n")
    clear_timed_out(tmp_path / "never-marked.mp4")  # nothing to clear is no error


def test_a_marked_input_with_its_size_and_time_unchanged_is_taken_as_the_same_without_reading_it(tmp_path):
    video, output = tmp_path / "v.mp4", tmp_path / "v-out.mp4"
    video.write_bytes(b"frames")
    mark_timed_out(output, video, "s1", "auto")
    st = video.stat()
    video.write_bytes(b"FRAMES")  # same size; its time put back: only reading the content could tell
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert timed_out_before(video, output, "s1", "auto") is not None
