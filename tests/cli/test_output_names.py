"""Where outputs go, decided before any model loads, through `evs refine --dry-run`: two inputs with one output
are refused by every shard, listed files keep their folders, no pattern writes outside --out, an input
named twice is said once, and a file reached by two paths gets an output for each."""

import os

import pytest

from evs_cli.batch.planning import outputs
from evs_cli.batch.planning.outputs import plan_jobs
from evs_cli.errors import EvsError
from helpers import evs, make_clip


def _refines(stdout: str) -> list[str]:
    return sorted(line.split("\t")[2] for line in stdout.splitlines() if line.startswith("refine\t"))


@pytest.mark.parametrize("shard", ["0/2", "1/2", None])
def test_two_inputs_with_one_output_are_refused_by_every_shard(tmp_path, shard):
    folder = tmp_path / "in"
    a, b = make_clip(folder / "a circle-0.mp4", frames=2), make_clip(folder / "a circle-0.mkv", frames=2)  # b first
    out = tmp_path / "out"
    r = evs("refine", folder, "--out", out, "--dry-run", *(["--shard", shard] if shard else []))
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"evs: error: {b} and {a} would both be written to {out / 'a circle-0.mp4'}; "
                                     "rename one, or refine them into separate --out folders"]


def test_names_that_differ_only_in_case_collide_where_the_filesystem_ignores_case(tmp_path, monkeypatch):
    found = [(tmp_path / "A.mp4", __import__("pathlib").Path("A.mp4")),
             (tmp_path / "a.mp4", __import__("pathlib").Path("a.mp4"))]
    assert len(plan_jobs(found, tmp_path / "out", "mp4")) == 2  # this filesystem tells them apart
    monkeypatch.setattr(outputs, "case_insensitive", lambda folder: True)
    with pytest.raises(EvsError, match="A.mp4 and .*a.mp4 would both be written to"):
        plan_jobs(found, tmp_path / "out", "mp4", shard=(1, 2))


def test_listed_files_keep_their_folders(tmp_path):
    work = tmp_path / "work"
    one, two = make_clip(work / "d1" / "x.mp4", frames=2), make_clip(work / "d2" / "x.mp4", frames=2)
    (work / "list.txt").write_text("d1/x.mp4\nd2/x.mp4\n")
    r = evs("refine", "--from", "list.txt", "--out", "out", "--dry-run", "--prompt", "p", cwd=work)
    assert r.returncode == 0, r.stderr
    assert _refines(r.stdout) == ["out/d1/x.mp4", "out/d2/x.mp4"]
    # from stdin, absolute paths outside the current folder: below the folder they share
    r = evs("refine", "-", "--out", tmp_path / "o", "--dry-run", "--prompt", "p", input=f"{one}\n{two}\n",
            cwd=tmp_path / "work" / "d1")
    assert r.returncode == 0, r.stderr
    assert _refines(r.stdout) == [str(tmp_path / "o" / "d1" / "x.mp4"), str(tmp_path / "o" / "d2" / "x.mp4")]
    r = evs("refine", "-", "--base", work / "d1", "--out", tmp_path / "o", "--dry-run", "--prompt", "p",
            input=f"{one}\n{two}\n")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"evs: error: {two}: {two} lies outside {work / 'd1'}, so its output would land "
                                     "outside --out (name files below the folder a pattern starts from, or pass "
                                     "--base)"]


def test_a_pattern_climbing_out_of_its_folder_is_refused(tmp_path):
    make_clip(tmp_path / "vb" / "a" / "x.mp4", frames=2)
    make_clip(tmp_path / "secret.mp4", frames=2)
    r = evs("refine", "vb/*/../../*.mp4", "--out", "out", "--dry-run", "--prompt", "p", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("evs: error: vb/*/../../*.mp4: vb/a/../../secret.mp4 lies outside vb, so its output "
                               "would land outside --out") and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "secret").exists()


def test_an_input_named_twice_is_said_once_and_one_reached_with_another_prompt_is_refined_for_each(tmp_path):
    src = make_clip(tmp_path / "in" / "a circle-0.mp4", frames=2)
    os.symlink(src, tmp_path / "in" / "b circle-0.mp4")  # another name: another prompt, another video
    r = evs("refine", tmp_path / "in", src, "--out", tmp_path / "out", "--dry-run")
    assert r.returncode == 0, r.stderr
    link = tmp_path / "in" / "b circle-0.mp4"
    assert f"evs: note: {link} is the same file as {src} with another prompt: refined for each" in r.stderr
    assert _refines(r.stdout) == [str(tmp_path / "out" / "a circle-0.mp4"), str(tmp_path / "out" / "b circle-0.mp4")]
    listed = evs("refine", src, src, "--out", tmp_path / "out", "--dry-run")  # the same path twice: one output
    assert f"evs: note: {src} is the same file as {src}: refined once" in listed.stderr.splitlines()
    assert _refines(listed.stdout) == [str(tmp_path / "out" / "a circle-0.mp4")]


@pytest.mark.parametrize("shard", ["0/2", "1/2", None])
def test_a_file_reached_by_two_paths_is_refined_once_and_each_path_gets_a_link_in_the_videos_shard(tmp_path, shard):
    tree = tmp_path / "vbench"
    for i in range(4):
        make_clip(tree / "overall" / f"a circle-{i}.mp4", frames=2)
        os.makedirs(tree / "subject", exist_ok=True)
        os.symlink(f"../overall/a circle-{i}.mp4", tree / "subject" / f"a circle-{i}.mp4")
    r = evs("refine", tree, "--out", tmp_path / "out", "--dry-run", *(["--shard", shard] if shard else []))
    assert r.returncode == 0, r.stderr
    refined = [line.split("\t")[2] for line in r.stdout.splitlines() if line.startswith("refine\t")]
    linked = [line.split("\t") for line in r.stdout.splitlines() if line.startswith("link\t")]
    assert all("/overall/" in x for x in refined)  # each file once, under the path found first
    assert sorted(x[2].replace("/subject/", "/overall/") for x in linked) == sorted(refined)  # its shard's links
    for x in linked:
        assert x[4] == f"same file as {x[1].replace('/subject/', '/overall/')}: its output will be a link of " \
                      f"{x[2].replace('/subject/', '/overall/')}"
    if shard is None:
        assert len(refined) == 4 and r.stdout.splitlines()[-1] == "8 videos: 4 to refine, 0 to skip, 4 to link, " \
                                                                  "0 would fail"


def test_every_path_to_a_file_gets_its_output_linked_atomically_and_a_rerun_skips_or_relinks(tmp_path, models):
    import json

    tree, out, log = tmp_path / "vbench", tmp_path / "out", tmp_path / "log.jsonl"
    src = make_clip(tree / "overall" / "a circle-0.mp4", frames=2)
    (tree / "subject").mkdir()
    os.symlink("../overall/a circle-0.mp4", tree / "subject" / "a circle-0.mp4")
    r = evs("refine", tree, *models, "--out", out, "--log", log)
    assert r.returncode == 0, r.stderr
    first, second = out / "overall" / "a circle-0.mp4", out / "subject" / "a circle-0.mp4"
    assert first.read_bytes() == second.read_bytes() and os.path.samefile(first, second)  # one result, linked
    recs = {x["output"]: x for x in map(json.loads, log.read_text().splitlines())}
    assert recs[str(second)]["status"] == "ok" and recs[str(second)]["linked_from"] == str(first)
    assert recs[str(second)]["reason"] == f"same file as {src}: hard link"
    assert sorted(p.name for p in (out / "subject").iterdir()) == ["a circle-0.mp4"]  # no temp, no claim left
    again = evs("refine", tree, *models, "--out", out)
    assert again.returncode == 0 and again.stderr.count("\tskipped\t") == 2, again.stderr
    second.unlink()  # an alias whose output went missing is linked again, without loading a model
    third = evs("refine", tree, *models, "--out", out)
    assert third.returncode == 0 and "loading" not in third.stderr and os.path.samefile(first, second), third.stderr
    first.unlink()
    second.unlink()
    src.write_bytes(b"not a video")  # the video fails: its other path is named too, and gets no output
    failed = evs("refine", tree, *models, "--out", out)
    errors = [line for line in failed.stderr.splitlines() if line.startswith("evs: error:")]
    assert failed.returncode != 0 and not second.exists(), failed.stderr
    assert any(f"{tree / 'subject' / 'a circle-0.mp4'}: not written: it is the same file as {src}" in e for e in errors)
