"""Runs that share an output folder, through `evs`: a run killed in a container (another hostname, PID 1)
is taken over by the next run wherever it runs; a video another live run holds gives exit 75, and --wait
waits for it (or refines it when its run dies); two runs at once refine each video once."""

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from evs_cli.batch.worker.claims import Claim, start_time, this_process
from helpers import evs, evs_bg, leftovers, make_clip

CONTAINER = ["unshare", "--uts", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"]


def _records(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run([*CONTAINER, "true"], capture_output=True).returncode == 0


def _in_container(hostname: str, args: list, **kw) -> subprocess.Popen:
    """`evs ARGS` as PID 1 of a new PID and UTS namespace named `hostname`, as in a container."""
    cmd = " ".join(f"'{a}'" for a in map(str, args))
    return subprocess.Popen([*CONTAINER, "sh", "-c", f"hostname {hostname} && exec {sys.executable} -m evs_cli.cli {cmd}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_a_claim_whose_owner_died_on_this_machine_is_taken_over_at_once(tmp_path, models):
    src = make_clip(tmp_path / "in" / "a circle-0.mp4")
    out = tmp_path / "out"
    dead = subprocess.Popen(["sleep", "0.1"])
    started = start_time(dead.pid)
    dead.wait()
    me = this_process()
    claim = Claim(out / "a circle-0.mp4").path
    claim.parent.mkdir(parents=True)
    claim.write_text(json.dumps({"token": "gone", "host": "another-host", "pid": dead.pid, "boot": me.boot,
                                 "pidns": me.pidns, "start": started}))
    r = evs("refine", src, *models, "--out", out)  # the default lease is minutes: only the PID check is quick
    assert r.returncode == 0, r.stderr
    assert (out / "a circle-0.mp4").is_file() and leftovers(tmp_path) == []


@pytest.mark.skipif(not _can_unshare(), reason="needs unshare (root) for PID and UTS namespaces")
def test_a_run_killed_in_a_container_is_finished_by_the_next_run_wherever_it_runs(tmp_path, models):
    folder = tmp_path / "in"
    make_clip(folder / "long-0.mp4", frames=64)
    make_clip(folder / "short-0.mp4", frames=16, seed=1)
    out, lease = tmp_path / "out", ["--lease", "4"]
    first = _in_container("box", ["refine", folder, *models, "--out", out, *lease])
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("*.evs-claim")):
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)  # the container dies with its PID 1
    first.communicate(timeout=30)
    assert list(out.glob("*.evs-claim")), "the killed run left no claim to take over"
    # a new container with the same hostname and, again, PID 1: the claim is stale only by its lease
    again = _in_container("box", ["refine", folder, *models, "--out", out, *lease, "--wait", "--log",
                                  tmp_path / "log.jsonl"])
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["long-0.mp4", "short-0.mp4"] and leftovers(tmp_path) == []
    r = evs("refine", folder, *models, "--out", out, *lease)  # and in no container: all done
    assert r.returncode == 0 and r.stderr.count("\tskipped\t") == 2, r.stderr


HOLDER = """
import sys, time
from pathlib import Path
from evs_cli.batch.worker.claims import Claim
claim = Claim(Path(sys.argv[1]), lease=4)
assert claim.acquire()
print("holding", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.1)
Path(sys.argv[1]).write_bytes(Path(sys.argv[3]).read_bytes())  # its output, then its claim released
claim.release()
"""


def _holder(output, go, content) -> subprocess.Popen:
    """Another live run holding `output`: it writes `content` there once `go` exists."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(output), str(go), str(content)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "holding"
    return p


def test_videos_another_live_run_holds_exit_75_and_wait_gets_them(tmp_path, models):
    folder, out = tmp_path / "in", tmp_path / "out"
    a, b = make_clip(folder / "a circle-0.mp4"), make_clip(folder / "b circle-0.mp4", seed=1)
    go = tmp_path / "go"
    finishing, dying = _holder(out / a.name, go, a), _holder(out / b.name, tmp_path / "never", b)
    r = evs("refine", folder, *models, "--out", out, "--lease", "4")
    assert r.returncode == 75, r.stderr
    assert "held: 2 videos that another live run is refining" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a circle-0.mp4.evs-claim", "b circle-0.mp4.evs-claim"]

    log = tmp_path / "log.jsonl"
    waiting = evs_bg("refine", folder, *models, "--out", out, "--lease", "4", "--wait", "--log", log)
    line = ""
    while "waiting for 2 videos" not in line:
        line = waiting.stderr.readline()
        assert line, "the run never said it waits"
    go.touch()  # one run finishes its video ...
    dying.send_signal(signal.SIGKILL)  # ... and the other dies holding its claim
    _, err = waiting.communicate(timeout=300)
    finishing.wait(timeout=30)
    assert waiting.returncode == 0, err
    recs = {r["input"].rsplit("/", 1)[-1]: r for r in _records(log)}
    assert recs[a.name]["status"] == "skipped" and recs[b.name]["status"] == "ok"
    assert sorted(p.name for p in out.iterdir()) == [a.name, b.name] and leftovers(tmp_path) == []


def test_a_held_video_the_other_run_finishes_before_this_run_ends_counts_as_skipped_and_exit_is_0(tmp_path, models):
    folder, out, log = tmp_path / "in", tmp_path / "out", tmp_path / "log.jsonl"
    a, b = make_clip(folder / "a circle-0.mp4"), make_clip(folder / "b circle-0.mp4", frames=48, seed=1)
    # the other run finishes a's output once this run has passed a (held) and claimed b, while b is refined
    other = _holder(out / a.name, out / f"{b.name}.evs-claim", a)
    r = evs("refine", folder, *models, "--out", out, "--lease", "4", "--log", log)
    other.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    assert "held:" not in r.stderr
    recs = {x["input"].rsplit("/", 1)[-1]: x["status"] for x in _records(log)}
    assert recs == {a.name: "skipped", b.name: "ok"}
    assert sorted(p.name for p in out.iterdir()) == [a.name, b.name] and leftovers(tmp_path) == []


def test_two_simultaneous_runs_with_wait_produce_each_output_once(tmp_path, models):
    folder = tmp_path / "in"
    for i in range(4):
        make_clip(folder / f"clip {i}-0.mp4", seed=i)
    logs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    # one thread each: two runs spinning two OpenMP threads apiece on a 2-core machine crawl
    procs = [evs_bg("refine", folder, *models, "--out", tmp_path / "out", "--log", lg, "--wait", threads=1)
             for lg in logs]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    recs = _records(logs[0]) + _records(logs[1])
    ok = [x["input"] for x in recs if x["status"] == "ok"]
    assert sorted(ok) == sorted(str(p) for p in folder.iterdir())  # each exactly once
    assert len(recs) == 8  # every video in both logs: refined by one run, done by the other
    assert len(list((tmp_path / "out").iterdir())) == 4 and leftovers(tmp_path) == []
