"""A video stuck past its limit in a run in one process (batch/timeouts.py): its marker fails it at once in the
rerun with the same settings, --timeout and input, and nothing else."""

import os

from evs_cli.batch.timeouts import clear_timed_out, mark_timed_out, marker_path, timed_out_before


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
