"""The run's JSON-lines log (batch/run_log.py): one line per record, appended; a write the disk cut short is
taken back whole and said once, and nothing is tried after it."""

import json
import os

import pytest

from evs_cli.batch import run_log
from evs_cli.batch.run_log import RunLog
from evs_cli.errors import EvsError


def test_records_are_appended_one_line_each_after_what_the_file_held(tmp_path):
    path = tmp_path / "logs" / "run.jsonl"
    path.parent.mkdir()
    path.write_text('{"earlier": 1}\n')
    log = RunLog(path)
    assert log.write({"a": 1, "path": tmp_path}) is None and log.write({"b": "é"}) is None
    log.close()
    assert [json.loads(line) for line in path.read_text("utf-8").splitlines()] == [
        {"earlier": 1}, {"a": 1, "path": str(tmp_path)}, {"b": "é"}]


def test_a_write_the_disk_cut_short_is_taken_back_and_said_once(tmp_path, monkeypatch):
    path = tmp_path / "run.jsonl"
    log = RunLog(path)
    log.write({"first": 1})
    real_write = os.write
    monkeypatch.setattr(run_log.os, "write", lambda fd, data: real_write(fd, data[:5]))  # a full disk
    error = log.write({"second": 2})
    assert error == (f"{path}: cannot write the log (No space left on device); outputs already written are kept, "
                     "and the log lacks the records from here on") and log.error == error
    assert path.read_text() == '{"first": 1}\n'  # no half line
    assert log.write({"third": 3}) is None and path.read_text() == '{"first": 1}\n'  # said once, not tried again


def test_a_log_that_cannot_be_opened_is_a_one_line_error(tmp_path):
    (tmp_path / "run.jsonl").mkdir()
    with pytest.raises(EvsError, match=r"run.jsonl: cannot open the log \(Is a directory\)"):
        RunLog(tmp_path / "run.jsonl")
