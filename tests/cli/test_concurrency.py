"""Several workers and interrupts over one folder: Ctrl-C / SIGTERM leaving nothing behind. (Several runs
over one folder, and claims of dead runs: test_shared_folder.)"""

import json
import signal
import time
from pathlib import Path

import pytest

from helpers import evs, evs_bg, leftovers, make_clip


def _records(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_two_cpu_workers_share_a_folder(tmp_path, models):
    folder = tmp_path / "in"
    for i in range(4):
        make_clip(folder / f"clip {i}-0.mp4", frames=24, seed=i)
    log = tmp_path / "log.jsonl"
    r = evs("refine", folder, *models, "--out", tmp_path / "out", "--log", log, "--devices", "cpu,cpu")
    assert r.returncode == 0, r.stderr
    recs = _records(log)
    assert len(recs) == 4 and all(x["status"] == "ok" for x in recs)
    assert {x["worker"] for x in recs} == {"0", "1"}
    assert len({x["pid"] for x in recs}) == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])  # SIGTERM: timeout, SLURM, systemd
def test_interrupt_leaves_no_partial_files(tmp_path, full_models, sig):
    src = make_clip(tmp_path / "in" / "long clip-0.mp4", frames=160)
    out = tmp_path / "out"
    p = evs_bg("refine", src, *full_models, "--out", out)
    deadline = time.time() + 60
    while time.time() < deadline and not list(out.glob("*.evs-claim")):
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "not done: 1 video (interrupted" in err
    assert not (out / "long clip-0.mp4").exists() and leftovers(tmp_path) == []


def test_interrupt_stops_every_worker_cleanly(tmp_path, full_models):
    folder = tmp_path / "in"
    for i in range(2):
        make_clip(folder / f"long {i}-0.mp4", frames=160, seed=i)
    out = tmp_path / "out"
    p = evs_bg("refine", folder, *full_models, "--out", out, "--devices", "cpu,cpu")
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*.evs-claim"))) < 2:
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)  # only the parent: it must interrupt its workers itself
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "not done: 2 videos (interrupted" in err
    assert list(out.glob("*.mp4")) == [] and leftovers(tmp_path) == []


def test_an_interrupted_run_leaves_no_empty_folder(tmp_path, full_models):
    src = make_clip(tmp_path / "in" / "sub" / "deeper" / "long clip-0.mp4", frames=160)
    (tmp_path / "out" / "kept").mkdir(parents=True)  # a folder that was there before the run stays
    p = evs_bg("refine", tmp_path / "in", *full_models, "--out", tmp_path / "out")
    deadline = time.time() + 60
    while time.time() < deadline and not list((tmp_path / "out").rglob("*.evs-claim")):
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert src.exists() and sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*")) == \
        [Path("kept")]
