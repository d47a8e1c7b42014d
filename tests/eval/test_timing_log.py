"""`evs eval --log`: mean refine seconds per folder, each output counted once (its latest record)."""

import json

import pytest

from evs_cli.errors import EvsError
from evs_cli.eval.evaluate import timing_by_group


def test_each_output_counts_once_with_its_latest_record(tmp_path):
    out = tmp_path / "refined"
    log = tmp_path / "log.jsonl"
    recs = [{"status": "ok", "output": str(out / "a.mp4"), "seconds": {"total": 10.0}},
            {"status": "ok", "output": str(out / "b.mp4"), "seconds": {"total": 4.0}},
            {"status": "skipped", "output": str(out / "a.mp4")},
            {"status": "ok", "output": str(out / "a.mp4"), "seconds": {"total": 2.0}},  # rerun with --overwrite
            {"status": "ok", "output": str(tmp_path / "elsewhere" / "c.mp4"), "seconds": {"total": 99.0}}]
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert timing_by_group([str(out)], [log]) == {str(out): 3.0}


def test_a_log_line_that_is_not_json_names_the_line(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"status": "ok"}\n{oops\n')
    with pytest.raises(EvsError, match=r"log\.jsonl: line 2 is not a JSON record"):
        timing_by_group([str(tmp_path)], [log])


def test_a_last_line_cut_off_by_a_crash_is_skipped_with_a_warning(tmp_path):
    out = tmp_path / "refined"
    log = tmp_path / "log.jsonl"
    whole = json.dumps({"status": "ok", "output": str(out / "a.mp4"), "seconds": {"total": 5.0}})
    log.write_text(whole + "\n" + whole[:20])
    said = []
    assert timing_by_group([str(out)], [log], warn=said.append) == {str(out): 5.0}
    assert said == [f"{log}: line 2 was cut off (a run stopped while writing it); skipped"]


def test_a_videos_seconds_are_its_own_steps_not_its_wait_in_the_queue(tmp_path):
    out = tmp_path / "refined"
    log = tmp_path / "log.jsonl"
    recs = [{"status": "ok", "output": str(out / "a.mp4"), "seconds": {"total": 28.1, "steps": 3.9, "waited": 24.2}},
            {"status": "ok", "output": str(out / "b.mp4"), "seconds": {"total": 2.1}},  # written before steps existed
            {"status": "ok", "output": str(out / "c.mp4"), "seconds": {"total": True}},  # not a number: no time
            {"status": "ok", "output": str(out / "d.mp4"), "seconds": 7}]
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert timing_by_group([str(out)], [log]) == {str(out): pytest.approx(3.0)}
