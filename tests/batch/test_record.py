"""A video's log record as one typed object (batch/record.py): what is set is written, None included, and
nothing else; it keeps that across a process queue or Ray (pickled); a field that does not exist is an error."""

import pickle
from pathlib import Path

import pytest

from evs_cli.batch.planning.outputs import Job
from evs_cli.batch.record import UNSET, VideoRecord, closed_record


def test_a_record_writes_what_was_set_none_included_in_the_fields_order():
    rec = VideoRecord("in/v.mp4", "out/v.mp4", "ok", error=None, worker="1", seed=3, peak_gpu_memory_bytes=None)
    assert list(rec.as_dict().items()) == [("input", "in/v.mp4"), ("output", "out/v.mp4"), ("status", "ok"),
                                           ("error", None), ("worker", "1"), ("seed", 3),
                                           ("peak_gpu_memory_bytes", None)]
    assert VideoRecord("a", "b", "held").as_dict() == {"input": "a", "output": "b", "status": "held", "worker": "-"}


def test_set_gives_a_new_record_and_names_a_field_that_does_not_exist():
    rec = VideoRecord("a", "b", "failed", error="a: broken")
    later = rec.set(retried=1, retry_reasons=["worker 0 died: killed"])
    assert rec.retried is UNSET and later.as_dict()["retried"] == 1 and later.error == "a: broken"
    with pytest.raises(TypeError, match="retries"):
        rec.set(retries=1)


def test_a_record_is_the_same_after_a_process_queue_or_ray():
    rec = VideoRecord("a", "b", "ok", error=None, stages=[{"index": 0}])
    back = pickle.loads(pickle.dumps(rec))
    assert back == rec and back.seed is UNSET and back.as_dict() == rec.as_dict()


def test_a_record_of_a_video_no_worker_refined_names_its_input_output_status_and_worker():
    job = Job(Path("in/v.mp4"), Path("v.mp4"), Path("out/v.mp4"))
    assert closed_record(job, "skipped", reason="exists").as_dict() == {
        "input": "in/v.mp4", "output": "out/v.mp4", "status": "skipped", "worker": "-", "reason": "exists"}
    assert closed_record(job, "failed", "2", error="x").worker == "2"
