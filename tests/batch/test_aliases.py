"""Another path to a video gets its own output as a link of the one result (batch/planning/aliases.py: link_whole):
a hard link where it can, a copy where it cannot, a png folder copied, each put in place by one rename."""

import os

import pytest

from evs_cli.batch.planning import aliases
from evs_cli.batch.planning.aliases import link_whole


def test_an_alias_is_a_hard_link_of_the_result_put_in_place_whole(tmp_path):
    src = tmp_path / "overall" / "x-0.mp4"
    src.parent.mkdir()
    src.write_bytes(b"refined")
    final = tmp_path / "subject" / "x-0.mp4"
    assert link_whole(src, final, "p1") == "hard link"
    assert os.path.samefile(src, final) and final.read_bytes() == b"refined"
    assert sorted(p.name for p in final.parent.iterdir()) == ["x-0.mp4"]  # no temporary name left
    final.unlink()
    final.write_bytes(b"an older result")  # relinked over an old output in one rename
    link_whole(src, final, "p1")
    assert os.path.samefile(src, final)


def _result(tmp_path):
    src = tmp_path / "a.mp4"
    src.write_bytes(b"refined")
    return src


def _failing(code, text):
    def fail(*args, **kwargs):
        raise OSError(code, text)
    return fail


def test_where_no_hard_link_can_be_made_the_alias_is_a_copy(tmp_path, monkeypatch):
    src = _result(tmp_path)
    monkeypatch.setattr(aliases.os, "link", _failing(18, "Invalid cross-device link"))
    final = tmp_path / "b.mp4"
    assert link_whole(src, final, "p1") == "copied"
    assert final.read_bytes() == b"refined" and not os.path.samefile(src, final)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4"]


def test_a_png_folder_is_copied_whole(tmp_path):
    src = tmp_path / "frames"
    src.mkdir()
    for i in range(3):
        (src / f"{i:04d}.png").write_bytes(bytes([i]))
    final = tmp_path / "other" / "frames"
    assert link_whole(src, final, "p1") == "copied"
    assert sorted(p.name for p in final.iterdir()) == ["0000.png", "0001.png", "0002.png"]
    assert (final / "0002.png").read_bytes() == b"\x02"


def test_a_link_that_fails_leaves_neither_a_temporary_file_nor_a_partial_output(tmp_path, monkeypatch):
    src = _result(tmp_path)
    monkeypatch.setattr(aliases.os, "link", _failing(28, "No space left on device"))
    monkeypatch.setattr(aliases.shutil, "copyfile", _failing(28, "No space left on device"))
    with pytest.raises(OSError):
        link_whole(src, tmp_path / "b.mp4", "p1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]
