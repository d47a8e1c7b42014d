"""Filesystems that refuse writes: a read-only output folder and a full disk, on small tmpfs mounts (root
only; skipped with the reason elsewhere). Nothing partial may be left, and a rerun after space is freed
finishes every video."""

import json
import subprocess

import pytest

from evs_cli.io.video import read_video
from helpers import evs, leftovers, make_clip


@pytest.fixture
def mount(tmp_path):
    """mount(name, size, read_only=False) -> a fresh tmpfs folder, unmounted after the test."""
    mounted = []

    def make(name: str, size: str, read_only: bool = False):
        where = tmp_path / name
        where.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'mount failed'}): needs root")
        mounted.append(where)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        return where

    yield make
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_read_only_output_folder_is_one_setup_error(tmp_path, mount):
    ro = mount("ro", "1M", read_only=True)
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    r = evs("refine", src, "--out", ro / "out")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"evs: error: --out: cannot write in {ro} (a read-only filesystem)"]
    r = evs("compare", src, src, "--png", ro / "s.png")  # compare writes single files, and says the same
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"evs: error: {ro / 's.png'}: cannot write in {ro} (a read-only filesystem)"]
    assert not any(ro.iterdir())


def test_a_full_disk_fails_each_video_alone_leaves_nothing_and_the_rerun_finishes(tmp_path, tiny_paths, mount):
    disk = mount("disk", "2M")
    folder = tmp_path / "in"
    for i in range(3):
        make_clip(folder / f"a red circle {i}-0.mp4", frames=8, seed=i)
    out, log = disk / "out", tmp_path / "log.jsonl"
    out.mkdir()
    filler = disk / "filler"
    with open(filler, "wb") as f:  # leave about 4 KB: room for claims, not for an MP4
        f.write(b"\0" * (2 * 2**20 - 8 * 2**10))
    models = ["--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter_file"], "--resize", "1",
              "--set", "tI=2", "--set", "tT2V=1"]
    r = evs("refine", folder, *models, "--out", out, "--log", log)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("evs: error:")]
    assert len(errors) == 3, errors
    for i, e in enumerate(errors):  # the output is named, not its temporary file or claim
        assert e.startswith(f"evs: error: {folder / f'a red circle {i}-0.mp4'}: {out / f'a red circle {i}-0.mp4'}")
        assert e.endswith("No space left on device") or e.endswith("(No space left on device)"), e
    assert sorted(p.name for p in out.iterdir()) == [] and leftovers(disk) == []
    filler.unlink()
    r = evs("refine", folder, *models, "--out", out, "--log", log)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"a red circle {i}-0.mp4" for i in range(3)]
    assert all(read_video(out / f"a red circle {i}-0.mp4").frames.shape[0] == 8 for i in range(3))
    statuses = [json.loads(x)["status"] for x in log.read_text().splitlines()]
    assert statuses == ["failed"] * 3 + ["ok"] * 3


def test_a_log_on_a_full_disk_is_one_line_and_the_outputs_stay(tmp_path, tiny_paths, mount):
    disk = mount("logdisk", "1M")
    folder = tmp_path / "in"
    for i in range(2):
        make_clip(folder / f"a red circle {i}-0.mp4", frames=4, seed=i)
    with open(disk / "filler", "wb") as f:  # nothing left for a record
        try:
            f.write(b"\0" * 2**20)
        except OSError:
            pass
    log, out = disk / "log.jsonl", tmp_path / "out"
    models = ["--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter_file"], "--resize", "1",
              "--set", "tI=2", "--set", "tT2V=1"]
    r = evs("refine", folder, *models, "--out", out, "--log", log)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("evs: error:")]
    assert errors == [f"evs: error: {log}: cannot write the log (No space left on device); outputs already written "
                      "are kept, and the log lacks the records from here on"]
    assert sorted(p.name for p in out.iterdir()) == [f"a red circle {i}-0.mp4" for i in range(2)]
    assert not log.exists() or log.read_bytes() == b""
