"""Which files a command line names: files, folders, globs and lists, each with the relative path its output
keeps under --out."""

import io
import os
from pathlib import Path

import pytest

from evs_cli.errors import EvsError
from evs_cli.io.inputs import TMP_MARK, find_inputs, read_input_list


def _touch(*paths):
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    return paths[0]


def _rels(found):
    return [(str(f), rel.as_posix()) for f, rel in found]


def test_a_folder_is_searched_recursively_for_videos_sorted_and_without_results_being_written(tmp_path):
    d = tmp_path / "vb"
    _touch(d / "b.mp4", d / "a" / "z.MOV", d / "a" / "y.webm", d / "c.gif", d / "d.mkv", d / "e.avi",
           d / "notes.txt", d / "f.mp4.txt", d / f"g.mp4{TMP_MARK}p1-ab", d / f"h{TMP_MARK}x.mp4")
    (d / "sub.mp4").mkdir()  # a folder named like a video is no video
    assert [rel.as_posix() for _, rel in find_inputs([str(d)])] == [
        "a/y.webm", "a/z.MOV", "b.mp4", "c.gif", "d.mkv", "e.avi"]
    assert all(f == d / rel for f, rel in find_inputs([str(d)]))


def test_a_named_file_keeps_its_name_whatever_its_suffix_and_a_missing_one_is_named(tmp_path):
    f = _touch(tmp_path / "deep" / "clip.bin")
    assert find_inputs([str(f)]) == [(f, Path("clip.bin"))]
    with pytest.raises(EvsError, match=r"^.*nothing\.mp4: no such file or folder$"):
        find_inputs([str(tmp_path / "nothing.mp4")])


def test_a_glob_keeps_the_folders_below_where_it_starts_and_takes_only_videos(tmp_path):
    _touch(tmp_path / "vb" / "s1" / "x1.mp4", tmp_path / "vb" / "s2" / "x2.MP4", tmp_path / "vb" / "s2" / "x3.txt",
           tmp_path / "vb" / "s2" / f"x4.mp4{TMP_MARK}p1-ab", tmp_path / "vb" / "y.mp4")
    found = find_inputs([str(tmp_path / "vb" / "**" / "x*")])
    assert [rel.as_posix() for _, rel in found] == ["s1/x1.mp4", "s2/x2.MP4"]
    found = find_inputs([str(tmp_path / "vb" / "s?" / "x[12].*")])
    assert [rel.as_posix() for _, rel in found] == ["s1/x1.mp4", "s2/x2.MP4"]
    with pytest.raises(EvsError, match=r"^.*\*\.txt: the pattern matches no video file$"):
        find_inputs([str(tmp_path / "vb" / "s2" / "*.txt")])


def test_a_relative_glob_starts_from_its_fixed_folders(tmp_path, monkeypatch):
    _touch(tmp_path / "a" / "b" / "c.mp4")
    monkeypatch.chdir(tmp_path)
    assert _rels(find_inputs(["a/*/c.mp4"])) == [("a/b/c.mp4", "b/c.mp4")]
    assert _rels(find_inputs(["*/b/c.mp4"])) == [("a/b/c.mp4", "a/b/c.mp4")]  # a wildcard first: from here
    _touch(tmp_path / "Xa" / "b" / "c.mp4")  # letters of a name are no wildcard
    assert _rels(find_inputs(["Xa/*/c.mp4"])) == [("Xa/b/c.mp4", "b/c.mp4")]


def test_a_glob_climbing_out_of_its_folder_is_refused(tmp_path):
    _touch(tmp_path / "x.mp4", tmp_path / "vb" / "s" / "y.mp4")
    pattern = str(tmp_path / "vb" / "*" / ".." / ".." / "x.mp4")
    with pytest.raises(EvsError) as e:
        find_inputs([pattern])
    assert str(e.value) == (f"{pattern}: {tmp_path / 'vb' / 's' / '..' / '..' / 'x.mp4'} lies outside {tmp_path / 'vb'}, "
                            "so its output would land outside --out (name files below the folder a pattern starts "
                            "from, or pass --base)")
    found = find_inputs([str(tmp_path / "vb" / "*" / ".." / "s" / "y.mp4")])  # `..` that stays inside is fine
    assert [rel.as_posix() for _, rel in found] == ["s/y.mp4"]


def test_listed_files_keep_their_path_below_the_current_folder_or_below_base(tmp_path, monkeypatch):
    a, b = _touch(tmp_path / "d1" / "x.mp4"), _touch(tmp_path / "d2" / "x.mp4")
    monkeypatch.chdir(tmp_path)
    assert _rels(find_inputs([], ["d1/x.mp4", "d2/x.mp4"])) == [("d1/x.mp4", "d1/x.mp4"), ("d2/x.mp4", "d2/x.mp4")]
    assert _rels(find_inputs([], [str(a)], base=tmp_path / "d1")) == [(str(a), "x.mp4")]
    with pytest.raises(EvsError, match="lies outside"):
        find_inputs([], [str(b)], base=tmp_path / "d1")
    with pytest.raises(EvsError, match="lies outside"):  # a base below the file itself: its output would be --out/..
        find_inputs([], [str(a)], base=a / "sub")


def test_listed_files_outside_the_current_folder_keep_their_path_below_the_folder_they_share(tmp_path, monkeypatch):
    a, b = _touch(tmp_path / "v" / "d1" / "x.mp4"), _touch(tmp_path / "v" / "d2" / "x.mp4")
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert _rels(find_inputs([], [str(a), str(b)])) == [(str(a), "d1/x.mp4"), (str(b), "d2/x.mp4")]
    assert _rels(find_inputs([], [str(a)])) == [(str(a), "x.mp4")]


def test_a_listed_folder_or_pattern_is_expanded_as_on_the_command_line(tmp_path):
    _touch(tmp_path / "f" / "s" / "a.mp4", tmp_path / "g" / "b.mp4")
    found = find_inputs([], [str(tmp_path / "f"), str(tmp_path / "g" / "*.mp4")])
    assert [rel.as_posix() for _, rel in found] == ["s/a.mp4", "b.mp4"]
    with pytest.raises(EvsError, match="no such file or folder"):
        find_inputs([], [str(tmp_path / "missing.mp4")])


def test_a_file_found_twice_is_kept_once_and_the_caller_hears_of_each_other_path(tmp_path):
    f = _touch(tmp_path / "v" / "a.mp4")
    os.symlink(f, tmp_path / "v" / "link.mp4")
    heard = []
    found = find_inputs([str(tmp_path / "v"), str(f)], on_duplicate=lambda *a: heard.append(a))
    assert _rels(found) == [(str(f), "a.mp4")]
    assert heard == [(tmp_path / "v" / "link.mp4", Path("link.mp4"), f), (f, Path("a.mp4"), f)]
    assert _rels(find_inputs([str(f), str(f)])) == [(str(f), "a.mp4")]  # no listener: dropped all the same


def test_an_input_list_is_one_path_a_line_without_blanks_or_comments(tmp_path):
    (tmp_path / "l.txt").write_text("  a.mp4  \n\n   # a comment\nb c.mp4\n#x.mp4\n")
    assert read_input_list(str(tmp_path / "l.txt")) == ["a.mp4", "b c.mp4"]
    assert read_input_list("-", io.StringIO("x.mp4\n \n# no\ny.mp4")) == ["x.mp4", "y.mp4"]
    with pytest.raises(EvsError, match=r"^.*none\.txt: cannot read the input list"):
        read_input_list(str(tmp_path / "none.txt"))


def test_an_input_list_from_stdin_reads_the_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("v.mp4\n"))
    assert read_input_list("-") == ["v.mp4"]
