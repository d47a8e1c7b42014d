"""Where outputs go, decided before any model loads, through `evs refine --dry-run`: two inputs with one output
are refused by every shard, listed files keep their folders, no pattern writes outside --out, and an input
named twice (a symlink) is said once."""

import os

import pytest

from evs_cli.batch import outputs
from evs_cli.batch.outputs import plan_jobs
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


def test_an_input_named_twice_through_a_symlink_is_said_once(tmp_path):
    src = make_clip(tmp_path / "in" / "a circle-0.mp4", frames=2)
    os.symlink(src, tmp_path / "in" / "b circle-0.mp4")
    r = evs("refine", tmp_path / "in", "--out", tmp_path / "out", "--dry-run")
    assert r.returncode == 0, r.stderr
    link = tmp_path / "in" / "b circle-0.mp4"
    assert f"evs: note: {link} is the same file as {src}: refined once" in r.stderr.splitlines()
    assert _refines(r.stdout) == [str(tmp_path / "out" / "a circle-0.mp4")]
