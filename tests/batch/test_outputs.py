"""Where results go (relative paths kept under --out, earlier results never inputs, collisions and shards),
and how a result reaches its name whole."""

import hashlib
import os
from pathlib import Path

import pytest

from evs_cli.batch.planning import outputs
from evs_cli.batch.planning.outputs import (
    Job,
    case_insensitive,
    check_out_folder,
    check_writable,
    create_temp,
    discard,
    in_shard,
    output_exists,
    plan_jobs,
    publish,
    remove_others_temps,
    side_base,
    temps_of,
    unwritable,
    write_whole,
)
from evs_cli.errors import EvsError
from evs_cli.io.inputs import TMP_MARK, find_inputs
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


def _found(tmp_path, *names):
    return [(tmp_path / "in" / n, Path(n)) for n in names]


def test_an_mp4_run_keeps_each_relative_path_with_mp4_and_a_png_run_a_folder_without_suffix(tmp_path):
    found = _found(tmp_path, "s/a.mov", "b.webm")
    out = tmp_path / "out"
    assert [(j.input, j.rel, j.output) for j in plan_jobs(found, out, "mp4")] == [
        (tmp_path / "in/s/a.mov", Path("s/a.mov"), out / "s/a.mp4"), (tmp_path / "in/b.webm", Path("b.webm"), out / "b.mp4")]
    assert [j.output for j in plan_jobs(found, out, "png")] == [out / "s/a", out / "b"]


def test_without_out_results_go_to_evs_out_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert [j.output for j in plan_jobs(_found(tmp_path, "a.mov"), None, "mp4")] == [Path("evs-out/a.mp4")]
    assert [j.output for j in plan_jobs(_found(tmp_path, "a.mov", "b.mp4"), None, "png")] == [
        Path("evs-out/a"), Path("evs-out/b")]


def test_out_naming_a_video_file_is_the_output_of_a_single_mp4_input_only(tmp_path):
    one = _found(tmp_path, "a.mov")
    assert [j.output for j in plan_jobs(one, tmp_path / "r.MP4", "mp4")] == [tmp_path / "r.MP4"]
    assert [j.output for j in plan_jobs(one, tmp_path / "r.mp4", "png")] == [tmp_path / "r.mp4" / "a"]
    assert [j.output for j in plan_jobs(one, tmp_path / "r.txt", "mp4")] == [tmp_path / "r.txt" / "a.mp4"]
    assert [j.output for j in plan_jobs(_found(tmp_path, "a.mov", "b.mov"), tmp_path / "r.mp4", "mp4")] == [
        tmp_path / "r.mp4" / "a.mp4", tmp_path / "r.mp4" / "b.mp4"]
    (tmp_path / "d.mp4").mkdir()  # a folder named like a video is a folder
    assert [j.output for j in plan_jobs(one, tmp_path / "d.mp4", "mp4")] == [tmp_path / "d.mp4" / "a.mp4"]


def test_an_output_path_that_would_leave_out_is_refused(tmp_path):
    for rel in (Path("../x.mp4"), Path("s/../../x.mp4"), tmp_path / "x.mp4"):
        with pytest.raises(EvsError, match=r"^.*a\.mp4: its output path .* would land outside --out$"):
            plan_jobs([(tmp_path / "in/a.mp4", rel)], tmp_path / "out", "mp4")


def test_an_output_that_would_overwrite_its_input_is_refused(tmp_path):
    a = make_clip(tmp_path / "v" / "a.mp4", frames=2)
    with pytest.raises(EvsError, match=r"^.*a\.mp4: output would overwrite the input; choose another --out$"):
        plan_jobs([(a, Path("a.mp4"))], a, "mp4")
    os.symlink(tmp_path / "v", tmp_path / "alias")  # the same file through another folder's name
    with pytest.raises(EvsError, match="output would overwrite the input"):
        plan_jobs([(a, Path("a.mp4"))], tmp_path / "alias" / "a.mp4", "mp4")
    assert [j.output for j in plan_jobs([(a, Path("a.mp4"))], tmp_path / "alias" / "b.mp4", "mp4")] == [
        tmp_path / "alias" / "b.mp4"]


def test_earlier_results_in_out_are_no_inputs_whether_reached_directly_or_through_a_link(tmp_path):
    out = tmp_path / "out"
    (out / "s").mkdir(parents=True)
    (out / "s" / "old.mp4").write_bytes(b"x")
    os.symlink(out / "s", tmp_path / "link")  # a folder outside --out whose files lie in it
    os.symlink(out / "s" / "old.mp4", tmp_path / "file-link.mp4")
    found = [(out / "s" / "old.mp4", Path("s/old.mp4")), (tmp_path / "link" / "old.mp4", Path("link/old.mp4")),
             (tmp_path / "file-link.mp4", Path("file-link.mp4")), (tmp_path / "new.mp4", Path("new.mp4"))]
    assert [j.rel for j in plan_jobs(found, out, "mp4")] == [Path("new.mp4")]
    (tmp_path / "out2").mkdir()  # a sibling whose name starts like --out's is not inside it
    assert [j.rel for j in plan_jobs([(tmp_path / "out2" / "a.mp4", Path("a.mp4"))], out, "mp4")] == [Path("a.mp4")]


def test_two_inputs_with_one_output_are_one_line_naming_both_and_the_output(tmp_path):
    found = _found(tmp_path, "a.mp4", "b.mp4", "a.mkv")
    with pytest.raises(EvsError) as e:
        plan_jobs(found, tmp_path / "out", "mp4")
    assert str(e.value) == (f"{tmp_path / 'in/a.mp4'} and {tmp_path / 'in/a.mkv'} would both be written to "
                            f"{tmp_path / 'out/a.mp4'}; rename one, or refine them into separate --out folders")
    assert len(plan_jobs(_found(tmp_path, "a.mp4", "A.mp4"), tmp_path / "out", "mp4")) == 2  # this one tells case


def test_the_shards_of_a_job_array_split_the_videos_without_overlap_by_a_hash_of_their_paths(tmp_path):
    names = [f"d{i % 3}/v{i}.mp4" for i in range(40)]
    found = _found(tmp_path, *names)
    shards = [[j.rel.as_posix() for j in plan_jobs(found, tmp_path / "o", "mp4", shard=(k, 3))] for k in range(3)]
    assert sorted(n for s in shards for n in s) == sorted(names) and all(len(s) >= 5 for s in shards)
    assert shards[0] == [n for n in names if in_shard(Path(n), (0, 3))]
    # a hash of the relative path, fixed across machines and Python runs (never hash(), which is salted)
    assert [in_shard(Path(n), (1, 3)) for n in names] == [
        int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "big") % 3 == 1 for n in names]
    assert all(in_shard(Path(n), (0, 1)) for n in names)


def test_a_case_insensitive_filesystem_is_told_by_the_nearest_existing_folder_with_letters(tmp_path):
    (tmp_path / "Videos" / "123").mkdir(parents=True)
    assert not case_insensitive(tmp_path / "Videos" / "123" / "not" / "yet")
    os.symlink(tmp_path / "Videos", tmp_path / "vIDEOS")  # what a folder looks like where case is ignored
    assert case_insensitive(tmp_path / "Videos" / "123" / "not" / "yet")
    (tmp_path / "Other").mkdir()
    (tmp_path / "oTHER").mkdir()  # two folders: case is told apart
    assert not case_insensitive(tmp_path / "Other")
    assert not case_insensitive(Path("/"))


def test_collisions_by_case_are_refused_where_the_filesystem_ignores_it(tmp_path):
    (tmp_path / "Out").mkdir()
    os.symlink(tmp_path / "Out", tmp_path / "oUT")
    with pytest.raises(EvsError, match=r"A\.mp4 and .*a\.mp4 would both be written to"):
        plan_jobs(_found(tmp_path, "A.mp4", "a.mp4"), tmp_path / "Out", "mp4")


def test_an_out_that_is_a_file_or_cannot_be_written_is_one_setup_error(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    with pytest.raises(EvsError, match=rf"^--out: {tmp_path / 'f'} is a file, not a folder \(outputs would go to "):
        check_writable([Job(Path("a.mp4"), Path("a.mp4"), tmp_path / "f" / "new" / "a.mp4")])
    check_writable([Job(Path("a.mp4"), Path("a.mp4"), tmp_path / "new" / "deeper" / "a.mp4")])  # may be created
    assert not (tmp_path / "new").exists()  # checking writes nothing
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path or not mode & os.W_OK)
    with pytest.raises(EvsError, match=rf"^--out: cannot write in {tmp_path} \(permission denied\)$"):
        check_out_folder(tmp_path / "new")  # the folder is there, but this user may not create files in it
    ro = os.statvfs_result((0,) * 8 + (os.ST_RDONLY, 255))
    monkeypatch.setattr(os, "statvfs", lambda path: ro)
    assert unwritable(tmp_path) == "a read-only filesystem" and unwritable(tmp_path / "f") is None


def test_a_folder_that_is_a_file_is_named_alone_when_no_output_is_said(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(EvsError) as e:
        check_out_folder(tmp_path / "f" / "sub")
    assert str(e.value) == f"--out: {tmp_path / 'f'} is a file, not a folder"


def test_each_output_folder_is_checked_once(tmp_path, monkeypatch):
    checked = []
    monkeypatch.setattr(outputs, "check_out_folder", lambda folder, where="": checked.append(folder))
    jobs = [Job(Path(n), Path(n), tmp_path / "o" / n) for n in ("a.mp4", "b.mp4", "s/c.mp4")]
    check_writable(jobs)
    assert checked == [tmp_path / "o", tmp_path / "o" / "s"]


def test_an_output_exists_as_a_file_or_a_folder_with_something_in_it(tmp_path):
    assert not output_exists(tmp_path / "none")
    (tmp_path / "d").mkdir()
    assert not output_exists(tmp_path / "d")
    (tmp_path / "d" / "0001.png").write_bytes(b"")
    assert output_exists(tmp_path / "d") and output_exists(tmp_path / "d" / "0001.png")


def test_side_files_of_a_long_name_stay_within_the_filesystems_limit_and_apart(tmp_path):
    assert side_base(Path("x") / ("a" * 200)) == "a" * 200
    long = "é" * 101  # 202 bytes
    base = side_base(Path(long))
    assert base == "é" * 90 + "~" + hashlib.sha1(long.encode()).hexdigest()[:16]
    assert side_base(Path("é" * 100 + "a")) != base and len(side_base(Path("b" * 255)).encode()) == 197
    cut = side_base(Path("a" + "é" * 120))  # byte 180 falls inside a character: the half is dropped
    assert cut.startswith("a" + "é" * 89 + "~")


def test_a_temporary_result_is_new_unguessable_and_named_for_its_owner(tmp_path):
    final = tmp_path / "sub" / "a[1].mp4"
    t1, t2 = create_temp(final, "p7"), create_temp(final, "p7")
    assert t1 != t2 and t1.is_file() and t1.parent == final.parent
    assert t1.name.startswith(f"a[1].mp4{TMP_MARK}p7-") and len(t1.name) == len(f"a[1].mp4{TMP_MARK}p7-") + 12
    assert (t1.stat().st_mode & 0o777) == 0o644 & ~_umask()
    d = create_temp(final, "p8", folder=True)
    assert d.is_dir() and not final.exists()
    assert sorted(temps_of(final)) == sorted([t1, t2, d]) and temps_of(final, "p8") == [d]
    assert temps_of(tmp_path / "sub" / "b.mp4") == []


def test_a_rerun_removes_other_owners_temporary_results_and_keeps_its_own(tmp_path):
    final = tmp_path / "a.mp4"
    mine, theirs, folder = create_temp(final, "p1"), create_temp(final, "p12"), create_temp(final, "q", folder=True)
    (folder / "0001.png").write_bytes(b"")
    other = create_temp(tmp_path / "b.mp4", "q")
    assert sorted(remove_others_temps(final, "p1")) == sorted([theirs, folder])
    assert mine.exists() and other.exists() and not theirs.exists() and not folder.exists()


def test_publish_renames_a_file_or_replaces_a_folder_whole(tmp_path):
    final = tmp_path / "a.mp4"
    tmp = create_temp(final, "p1")
    tmp.write_bytes(b"new")
    final.write_bytes(b"old")
    publish(tmp, final)
    assert final.read_bytes() == b"new" and not tmp.exists()
    frames = tmp_path / "frames"
    for content in (b"first", b"second"):
        d = create_temp(frames, "p1", folder=True)
        (d / "0001.png").write_bytes(content)
        publish(d, frames)
        assert (frames / "0001.png").read_bytes() == content and not d.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "frames"]  # the old folder is gone


def test_write_whole_leaves_the_old_result_or_the_new_one_and_nothing_else(tmp_path):
    final = tmp_path / "r.json"
    final.write_text("old")

    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_whole(final, fail)
    assert final.read_text() == "old" and list(tmp_path.iterdir()) == [final]
    names = []
    write_whole(final, lambda tmp: (names.append(tmp.name), tmp.write_text("new")))
    assert final.read_text() == "new" and list(tmp_path.iterdir()) == [final]
    assert names[0].startswith(f"r.json{TMP_MARK}p{os.getpid()}-")  # this process's: a rerun knows it is not its own


def test_discard_removes_a_file_or_a_folder_and_minds_nothing_missing(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "f").write_text("x")
    for p in (tmp_path / "d", tmp_path / "f", tmp_path / "none"):
        discard(p)
    assert list(tmp_path.iterdir()) == []


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_folders_a_run_would_make_are_named_deepest_first_and_removed_only_when_empty(tmp_path):
    from evs_cli.batch.planning.outputs import missing_folders, remove_empty

    (tmp_path / "out" / "a").mkdir(parents=True)
    outputs = [tmp_path / "out" / "a" / "b" / "c" / "x.mp4", tmp_path / "out" / "a" / "b" / "y.mp4",
               tmp_path / "out" / "d" / "z.mp4", tmp_path / "out" / "a" / "w.mp4"]
    made = missing_folders(outputs)
    assert made == [tmp_path / "out" / "a" / "b" / "c", tmp_path / "out" / "a" / "b", tmp_path / "out" / "d"]
    assert missing_folders([tmp_path / "new" / "x.mp4"]) == [tmp_path / "new"]
    for f in made:
        f.mkdir(parents=True, exist_ok=True)
    (tmp_path / "out" / "d" / "z.mp4").write_bytes(b"written")
    remove_empty(made)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [
        Path("out"), Path("out/a"), Path("out/d"), Path("out/d/z.mp4")]
    remove_empty([tmp_path / "gone"])  # nothing there: nothing to do
