"""`evs eval` and `evs compare` from the command line, on synthetic clips (no models)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from evs_cli.eval.compare import HEADER_H, LABEL_W
from evs_cli.io.video import write_mp4
from evs_cli.toy.data import degrade, render, spec_for
from helpers import evs


@pytest.fixture
def folders(tmp_path):
    clean, bad = tmp_path / "clean", tmp_path / "degraded"
    for s in range(2):
        c = render(spec_for(s))
        for folder, frames in ((clean, c), (bad, degrade(c, s))):
            folder.mkdir(exist_ok=True)
            write_mp4(torch.from_numpy(frames), folder / f"clip-{s}.mp4", 8, crf=0)
    return clean, bad


def test_eval_compares_folders_with_a_reference(tmp_path, folders):
    clean, bad = folders
    out = tmp_path / "m.json"
    r = evs("eval", clean, bad, "--reference", clean, "--json", out, "--csv", tmp_path / "m.csv")
    assert r.returncode == 0, r.stderr
    groups = {g["group"]: g for g in json.loads(out.read_text())["groups"]}
    g_clean, g_bad = groups[str(clean)], groups[str(bad)]
    assert g_clean["videos"] == g_bad["videos"] == 2
    assert g_bad["flicker"] > g_clean["flicker"] and g_bad["warp_error"] > g_clean["warp_error"]
    assert g_bad["sharpness"] < g_clean["sharpness"] and g_bad["psnr"] < g_clean["psnr"]
    assert len((tmp_path / "m.csv").read_text().splitlines()) == 5
    assert "degraded" in r.stdout and "flicker" in r.stdout


def test_eval_names_unreadable_files_and_exits_1(tmp_path, folders):
    clean, _ = folders
    (clean / "junk.mp4").write_bytes(b"nope")
    r = evs("eval", clean)
    assert r.returncode == 1 and "junk.mp4: cannot decode video" in r.stderr


@pytest.mark.parametrize("content,message", [
    (b'{"status": "ok"}\nnot json\n', "line 2 is not a JSON record (Expecting value)"),
    (b"\xff", "the log is not UTF-8 text (byte 0xff at offset 0)"),
])
def test_a_bad_timing_log_is_one_line_before_scoring(tmp_path, folders, content, message):
    log = tmp_path / "log.jsonl"
    log.write_bytes(content)
    r = evs("eval", folders[0], "--log", log, "--json", tmp_path / "m.json")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == f"evs: error: {log}: {message}"
    assert not (tmp_path / "m.json").exists()


def test_a_missing_path_fails_before_any_weights_are_looked_for(tmp_path):
    r = evs("eval", tmp_path / "nope")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"evs: error: {tmp_path / 'nope'}: no such file or folder"]


def test_a_folder_without_videos_is_an_error_not_an_empty_table(tmp_path, folders):
    """An output folder that a failed run never filled must not read as measured (exit 0, zero videos)."""
    empty = tmp_path / "refined"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a video")
    r = evs("eval", folders[0], empty)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"evs: error: {empty}: no video files to measure"]


def test_compare_writes_sheet_plot_and_side_by_side(tmp_path, folders):
    clean, bad = folders
    a, b = clean / "clip-0.mp4", bad / "clip-0.mp4"
    c = bad / "clip-1.mp4"
    r = evs("compare", a, b, c, "--png", tmp_path / "s.png", "--plot", tmp_path / "p.png", "--mp4",
            tmp_path / "s.mp4", "--frames", 4, "--zoom", 2)
    assert r.returncode == 0, r.stderr
    sheet = np.asarray(Image.open(tmp_path / "s.png"))
    assert sheet.shape[:2] == (HEADER_H + 3 * 64, LABEL_W + 4 * 64 + 64)  # one 64 px row per video
    # the first row shows the clean clip's first frame (yuv420p blurs colour at stripe edges)
    first = render(spec_for(0))[0].astype(int)
    assert np.abs(sheet[HEADER_H:HEADER_H + 64, LABEL_W:LABEL_W + 64].astype(int) - first).mean() < 15
    assert Image.open(tmp_path / "p.png").size == (720, 360)
    from evs_cli.io.video import read_video

    v = read_video(tmp_path / "s.mp4")
    assert v.frames.shape == (16, 64, 192, 3)


def test_compare_writes_only_what_is_asked(tmp_path, folders):
    clean, bad = folders
    r = evs("compare", clean / "clip-0.mp4", bad / "clip-0.mp4", "--plot", tmp_path / "p.png")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"evs: wrote {tmp_path / 'p.png'}: per-frame warping error of 2 videos"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["p.png"]
    r = evs("compare", clean / "clip-0.mp4", bad / "clip-0.mp4")
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "evs: error: nothing to write: give --html, --png, --plot or --mp4 (or several)"]
    r = evs("compare", clean / "clip-0.mp4", bad / "clip-0.mp4", "--png", tmp_path / "no" / "s.png")
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"evs: error: {tmp_path / 'no' / 's.png'}: the folder {tmp_path / 'no'} does not exist"]


def test_eval_per_video_table_keeps_subfolders(tmp_path, folders):
    clean, _ = folders
    (clean / "sub").mkdir()
    (clean / "clip-0.mp4").rename(clean / "sub" / "clip-0.mp4")
    r = evs("eval", clean, "--json", tmp_path / "m.json")
    assert r.returncode == 0, r.stderr
    assert "sub/clip-0.mp4" in r.stdout
    names = sorted(v["name"] for v in json.loads((tmp_path / "m.json").read_text())["videos"])
    assert names == ["clip-1.mp4", "sub/clip-0.mp4"]


def test_compare_labels_same_named_files_by_their_folders(tmp_path, folders):
    """Two clip-0.mp4 from two folders: the default labels are clean/clip-0 and degraded/clip-0, drawn
    exactly as if given with --labels."""
    clean, bad = folders
    videos = [clean / "clip-0.mp4", bad / "clip-0.mp4"]
    assert evs("compare", *videos, "--png", tmp_path / "default.png").returncode == 0
    assert evs("compare", *videos, "--png", tmp_path / "given.png", "--labels",
               "clean/clip-0,degraded/clip-0").returncode == 0
    assert evs("compare", *videos, "--png", tmp_path / "names.png", "--labels", "clip-0,clip-0").returncode == 0
    default, given, names = (np.asarray(Image.open(tmp_path / f"{n}.png")) for n in ("default", "given", "names"))
    assert np.array_equal(default, given) and not np.array_equal(default[:, :LABEL_W], names[:, :LABEL_W])
