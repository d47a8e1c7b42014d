"""Several machines: `evs refine --ray` on a Ray cluster this module starts (CPU actors, tiny models), and
`--shard K/N` for job arrays."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evs_cli.batch.planning.outputs import in_shard
from evs_cli.io.video import read_video
from helpers import evs, evs_bg, leftovers, make_clip


def _stop_with_pytest() -> None:
    """Linux: the cluster gets SIGTERM if pytest itself is killed, instead of running on with no owner."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node Ray cluster on the loopback, as `ray start --head` makes one, with 8 logical CPUs; stopped
    afterwards. Token authentication is off: the cluster is this test's alone and reachable only from here."""
    pytest.importorskip("ray")
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # for the cluster and for every driver the tests start
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_cli = Path(sys.executable).with_name("ray")
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             "--num-cpus=8",
                             "--include-dashboard=false", "--disable-usage-stats"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_stop_with_pytest)
    address = f"127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        probe = subprocess.run([ray_cli, "status", f"--address={address}"], capture_output=True, text=True)
        if probe.returncode == 0:
            break
        time.sleep(1)
    else:
        os.killpg(head.pid, signal.SIGTERM)
        pytest.fail("the test's Ray cluster did not start")
    yield address
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)  # what a graceful stop left (raylet, GCS, idle workers)
    except ProcessLookupError:
        pass
    head.wait(timeout=30)
    current = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray" / "ray_current_cluster"
    if current.is_file() and current.read_text().strip().endswith(f":{port}"):
        current.unlink()  # a killed head leaves its address here, and the next ray.init() would wait on it
    if previous is None:
        os.environ.pop("RAY_AUTH_MODE")
    else:
        os.environ["RAY_AUTH_MODE"] = previous


@pytest.fixture
def models(tiny_paths):
    return ["--t2i", tiny_paths["t2i"], "--t2v", tiny_paths["adapter"], "--resize", "1",
            "--set", "tI=3", "--set", "tT2V=2"]


def _clips(folder: Path, n: int, frames: int) -> list[str]:
    names = [f"a red circle-{i}.mp4" for i in range(n)]
    for i, name in enumerate(names):
        make_clip(folder / name, frames=frames, seed=i)
    return names


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _actor_processes() -> list[int]:
    r = subprocess.run(["pgrep", "-f", "EvsActor"], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


def test_six_videos_over_two_actors_each_once(tmp_path, cluster, models):
    names = _clips(tmp_path / "in", 6, frames=24)
    log = tmp_path / "log.jsonl"
    r = evs("refine", tmp_path / "in", *models, "--out", tmp_path / "out", "--log", log,
            "--ray", "--ray-address", cluster, "--ray-workers", "2")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    assert all(read_video(tmp_path / "out" / n).frames.shape[0] == 24 for n in names)
    recs = _records(log)
    assert sorted(Path(x["output"]).name for x in recs) == names and {x["status"] for x in recs} == {"ok"}
    assert {x["actor"] for x in recs} == {"ray-0", "ray-1"}
    assert all(x["node"] and x["host"] for x in recs)
    assert leftovers(tmp_path) == []


def test_an_actor_killed_mid_video_loses_nothing(tmp_path, cluster, models):
    names = _clips(tmp_path / "in", 4, frames=48)
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    p = evs_bg("refine", tmp_path / "in", *models, "--out", out, "--log", log, "--ray", "--ray-workers", "2",
               env_extra={"RAY_ADDRESS": cluster})  # the address as Ray's own variable
    killed, deadline = None, time.time() + 120
    while killed is None and time.time() < deadline:
        for claim in out.glob("*.evs-claim") if out.is_dir() else []:
            try:
                owner = json.loads(claim.read_text())["pid"]
            except (OSError, ValueError, KeyError):
                continue
            os.kill(owner, signal.SIGKILL)  # the actor holding this video
            killed = claim.name.removesuffix(".evs-claim")
            break
        time.sleep(0.05)
    assert killed, "no actor took a video"
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert sorted(q.name for q in out.iterdir()) == names and leftovers(tmp_path) == []
    recs = {Path(x["output"]).name: x for x in _records(log)}
    assert sorted(recs) == names and all(x["status"] == "ok" for x in recs.values())
    assert recs[killed]["retried"] == 1 and "died" in recs[killed]["retry_reasons"][0]


def test_two_drivers_over_one_folder_refine_each_video_once(tmp_path, cluster, models):
    names = _clips(tmp_path / "in", 6, frames=16)
    out, logs = tmp_path / "out", [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    runs = [evs_bg("refine", tmp_path / "in", *models, "--out", out, "--log", log, "--ray", "--ray-address",
                   cluster, "--ray-workers", "1") for log in logs]
    for p in runs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    done = [Path(x["output"]).name for log in logs for x in _records(log) if x["status"] == "ok"]
    assert sorted(done) == names  # each refined by exactly one of the drivers
    assert sorted(q.name for q in out.iterdir()) == names and leftovers(tmp_path) == []


def test_ctrl_c_on_the_driver_stops_every_actor_and_leaves_nothing(tmp_path, cluster, models):
    _clips(tmp_path / "in", 4, frames=64)
    out = tmp_path / "out"
    p = evs_bg("refine", tmp_path / "in", *models, "--out", out, "--ray", "--ray-address", cluster,
               "--ray-workers", "2")
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*.evs-claim")) if out.is_dir() else []) < 2:
        time.sleep(0.05)
    assert _actor_processes(), "no actor started"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "interrupted" in err.splitlines()[-1]
    assert list(out.glob("*.mp4")) == [] and leftovers(tmp_path) == [], err
    deadline = time.time() + 15
    while _actor_processes() and time.time() < deadline:
        time.sleep(0.2)
    assert _actor_processes() == []


def test_an_address_where_no_cluster_answers_is_one_line_in_seconds(tmp_path, models):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    src = make_clip(tmp_path / "in" / "a red circle-0.mp4", frames=2)
    started = time.time()
    r = evs("refine", src, *models, "--out", tmp_path / "out", "--ray", env_extra={"RAY_ADDRESS": f"127.0.0.1:{port}"})
    assert r.returncode == 2 and time.time() - started < 60
    assert r.stderr.strip().splitlines()[-1] == (f"evs: error: --ray: no Ray cluster answers at 127.0.0.1:{port} "
                                                 "(RAY_ADDRESS); start one with `ray start --head`")
    assert not (tmp_path / "out").exists()


def test_without_ray_installed_the_flag_says_how_to_get_it(tmp_path, models):
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "ray.py").write_text("raise ImportError('No module named ray')\n")
    src = make_clip(tmp_path / "in" / "a red circle-0.mp4", frames=4)
    r = evs("refine", src, *models, "--out", tmp_path / "out", "--ray",
            env_extra={"PYTHONPATH": f"{shadow}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["evs: error: --ray needs Ray, an optional extra: "
                                             "pip install 'evs_cli[ray]'"]
    assert not (tmp_path / "out").exists()


# --shard needs no cluster: a hash of the relative path decides.

SHARD_OF = {"a red circle-0.mp4": 0, "a red circle-1.mp4": 1, "a red circle-2.mp4": 2, "a red circle-3.mp4": 2,
            "a red circle-4.mp4": 1, "a red circle-5.mp4": 1, "a red circle-6.mp4": 0, "a red circle-7.mp4": 0,
            "a red circle-8.mp4": 2, "a red circle-9.mp4": 2}  # from `printf NAME | sha256sum`: first 8 bytes mod 3


def _dry_run_refines(args: list, hashseed: str) -> list[str]:
    r = evs("refine", *args, "--dry-run", env_extra={"PYTHONHASHSEED": hashseed})
    assert r.returncode == 0, r.stderr
    return sorted(Path(line.split("\t")[1]).name for line in r.stdout.splitlines() if line.startswith("refine\t"))


def test_shards_partition_a_folder_stably(tmp_path):
    names = _clips(tmp_path / "in", 10, frames=2)
    rels = [Path(n) for n in names]
    shards = [sorted(r.name for r in rels if in_shard(r, (k, 3))) for k in range(3)]
    assert sorted(n for s in shards for n in s) == names  # every video in exactly one shard
    assert shards == [sorted(n for n in names if SHARD_OF[n] == k) for k in range(3)]
    # Through the command line, from the folder, and from its files listed one by one in another order
    # under another hash seed: the same shard.
    assert _dry_run_refines([tmp_path / "in", "--shard", "1/3"], hashseed="1") == shards[1]
    files = [tmp_path / "in" / n for n in reversed(names)]
    assert _dry_run_refines([*files, "--shard", "1/3"], hashseed="12345") == shards[1]


@pytest.mark.parametrize("shard", ["3/3", "1", "-1/2", "a/b", "1/0"])
def test_a_bad_shard_is_a_usage_error(tmp_path, shard):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    r = evs("refine", src, "--shard", shard, "--dry-run")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"evs: error: --shard must be K/N with 0 <= K < N (e.g. 0/8), got {shard!r}"]


def test_ray_options_need_ray_and_exclude_devices(tmp_path):
    src = make_clip(tmp_path / "a red circle-0.mp4", frames=2)
    for args, message in ((["--ray-workers", "2"], "--ray-workers needs --ray"),
                          (["--ray", "--devices", "cpu"], "--ray and --devices do not go together")):
        r = evs("refine", src, *args)
        assert r.returncode == 2 and message in r.stderr.strip().splitlines()[-1]


def test_tune_on_ray_scores_what_a_local_tune_does(tmp_path, cluster, models):
    """`evs tune --ray`: the actors get absolute paths (another working directory), records arrive through the
    queue as each pair is scored, and the scores equal a local tune's."""
    _clips(tmp_path / "in", 2, frames=16)
    scores = {}
    for name, where in (("local", ["--devices", "cpu"]), ("ray", ["--ray", "--ray-address", cluster])):
        out = tmp_path / name
        r = evs("tune", "in", *models, "--grid", "tV=2", "--out", out, "--prompt", "x", "--weight-free", *where,
                cwd=tmp_path, env_extra={"OMP_NUM_THREADS": "8"})  # the threads Ray gives the actor: 8 CPUs
        assert r.returncode == 0, r.stderr
        assert (out / "tuned.yaml").is_file() and "model calls: T2I 12, T2V 8" in r.stderr
        scores[name] = {(x["video"], x["setting"]): x["scores"] for x in _records(out / "tune.jsonl")}
    assert len(scores["local"]) == 2 * 3 and scores["ray"].keys() == scores["local"].keys()
    for pair, s in scores["local"].items():
        assert scores["ray"][pair] == pytest.approx(s, rel=1e-2), pair  # other thread counts: DIS flow rounds apart
