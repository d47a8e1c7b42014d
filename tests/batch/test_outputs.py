"""Where results go: relative paths kept under --out, earlier results never taken as inputs."""

import pytest

from evs_cli.batch.outputs import plan_jobs
from evs_cli.errors import EvsError
from evs_cli.io.inputs import find_inputs
from helpers import make_clip


def test_output_paths_keep_relative_names(tmp_path):
    make_clip(tmp_path / "in" / "dim" / "a dog-0.mp4", frames=2)
    make_clip(tmp_path / "in" / "b-1.mov", frames=2)
    jobs = plan_jobs(find_inputs([str(tmp_path / "in")]), tmp_path / "out", "mp4")
    assert sorted(str(j.output.relative_to(tmp_path / "out")) for j in jobs) == ["b-1.mp4", "dim/a dog-0.mp4"]
    one = plan_jobs(find_inputs([str(tmp_path / "in" / "b-1.mov")]), tmp_path / "x.mp4", "mp4")
    assert one[0].output == tmp_path / "x.mp4"
    with pytest.raises(EvsError, match="pattern matches no video"):
        find_inputs([str(tmp_path / "*.webm")])


def test_outputs_inside_the_input_folder_are_not_inputs(tmp_path):
    make_clip(tmp_path / "videos" / "a-0.mp4", frames=2)
    make_clip(tmp_path / "videos" / "refined" / "a-0.mp4", frames=2)  # an earlier run's result
    jobs = plan_jobs(find_inputs([str(tmp_path / "videos")]), tmp_path / "videos" / "refined", "mp4")
    assert [j.input.name for j in jobs] == ["a-0.mp4"] and jobs[0].input.parent.name == "videos"
