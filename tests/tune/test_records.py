"""tune.jsonl (tune/records.py): a cut last record is dropped, a broken or misshapen line is an error naming it."""

import json

import pytest

from evs_cli.errors import EvsError
from evs_cli.tune.records import Records


def test_a_cut_last_record_is_dropped_and_the_next_append_starts_a_line(tmp_path):
    path = tmp_path / "tune.jsonl"
    path.write_text(json.dumps({"pair": "a", "scores": {}}) + "\n" + '{"pair": "b", "sco')
    warned = []
    r = Records(path, warned.append)
    assert "a" in r and "b" not in r and "cut off" in warned[0]
    r.append({"pair": "c", "scores": {}})
    assert [json.loads(x)["pair"] for x in path.read_text().splitlines()] == ["a", "c"]


def test_a_broken_line_inside_the_records_is_an_error_naming_it(tmp_path):
    path = tmp_path / "tune.jsonl"
    path.write_text('not json\n{"pair": "a"}\n')
    with pytest.raises(EvsError, match="line 1 is not a JSON record"):
        Records(path)


@pytest.mark.parametrize("line,problem", [
    ('{"pair": "b", "scores": null}', "its scores are null, not a table of measures"),
    ('{"pair": "b"}', "its scores are null, not a table of measures"),
    ('{"pair": "b", "scores": {"psnr": "high"}}', 'its score psnr is "high", not a number'),
    ('{"pair": "b", "scores": {"psnr": true}}', "its score psnr is true, not a number"),
    ('{"pair": 7, "scores": {}}', "its pair is not a string"),
    ('["b", {}]', "a JSON list, not an object")])
def test_a_record_of_another_shape_is_refused_naming_its_line_and_what_is_wrong(tmp_path, line, problem):
    path = tmp_path / "tune.jsonl"
    path.write_text('{"pair": "a", "scores": {"psnr": 30.5, "flicker": 1}}\n' + line + "\n")
    with pytest.raises(EvsError) as e:
        Records(path)
    assert str(e.value) == f"{path}: line 2 is not a record evs wrote ({problem}); move the file away to start afresh"
    assert path.read_text().endswith(line + "\n")  # refused, not rewritten
